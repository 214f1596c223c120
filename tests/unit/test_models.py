import pytest

from playground.errors import PlaygroundError
from playground.models import ModelManager, context_window_of


@pytest.mark.parametrize("ref", ["", "   ", "../etc/passwd", "not a/valid id!", "/no/such/folder"])
def test_bad_model_references_are_refused_plainly(manager, ref):
    with pytest.raises(PlaygroundError):
        manager.resolve(ref)


def test_uncached_hub_model_offline_says_so(manager):
    with pytest.raises(PlaygroundError, match="offline"):
        manager.resolve("nobody/does-not-exist")


def test_folder_without_config_is_refused(manager, tmp_path):
    with pytest.raises(PlaygroundError, match="config.json"):
        manager.resolve(str(tmp_path))


def test_tokenizer_loads_without_weights(settings, tiny_dir):
    fresh = ModelManager(settings)
    tokenizer, window = fresh.tokenizer(str(tiny_dir))
    assert window == 512
    assert fresh.loaded is None  # counting tokens never loads the model


def test_one_model_in_memory_at_a_time(settings, tmp_path):
    from playground.tiny_model import build_tiny_model

    other = build_tiny_model(tmp_path / "other", seed=5)
    fresh = ModelManager(settings)
    first = fresh.get("tiny")
    assert fresh.get("tiny") is first  # cached
    second = fresh.get(str(other))
    assert fresh.loaded is second and second is not first
    assert "0.3M parameters" in second.describe() and "float32 on CPU" in second.describe()


def test_context_window_falls_back_to_the_tokenizer():
    class Config:
        pass

    class Tok:
        model_max_length = 1024

    assert context_window_of(Config(), Tok()) == 1024
    Tok.model_max_length = int(1e30)
    assert context_window_of(Config(), Tok()) == 2048
