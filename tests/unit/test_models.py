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


def test_models_share_the_slots_least_recently_used_first(settings, tmp_path):
    import dataclasses

    from playground.tiny_model import build_tiny_model

    other, third = build_tiny_model(tmp_path / "other", seed=5), build_tiny_model(tmp_path / "third", seed=6)
    fresh = ModelManager(settings)  # two slots
    first = fresh.get("tiny")
    assert fresh.get("tiny") is first  # cached
    second = fresh.get(str(other))
    assert fresh.loaded is second and second is not first
    assert fresh.get("tiny") is first  # still loaded: visitors taking turns with two models load nothing
    assert "0.3M parameters" in second.describe() and "float32 on CPU" in second.describe()
    fresh.get(str(third))  # the least recently used (other) makes room
    assert fresh.loaded_refs() == ["tiny", str(third)]
    single = ModelManager(dataclasses.replace(settings, model_slots=1))
    single.get("tiny")
    single.get(str(other))
    assert single.loaded_refs() == [str(other)]


def test_a_model_that_memory_would_not_hold_beside_another_gets_it_alone(settings, monkeypatch):
    import playground.models as models

    fresh = ModelManager(settings)
    fresh.get("tiny")
    monkeypatch.setattr(models, "free_memory_bytes", lambda: 1)  # nothing to spare
    fresh._make_room(10**6)
    assert fresh.loaded_refs() == []


def test_context_window_falls_back_to_the_tokenizer():
    class Config:
        pass

    class Tok:
        model_max_length = 1024

    assert context_window_of(Config(), Tok()) == 1024
    Tok.model_max_length = int(1e30)
    assert context_window_of(Config(), Tok()) == 2048


def test_a_models_own_code_runs_only_where_someone_allowed_it(tmp_path):
    from playground.models import ModelManager, _explained
    from playground.settings import Settings
    from playground.store import Store
    from playground.trusted_code import distrust, trust

    settings = Settings(home=tmp_path, adapters_dir=tmp_path / "adapters", default_model="tiny", hub_offline=True,
                        host="127.0.0.1", port=7860)
    manager, store = ModelManager(settings), Store(settings.db_path)
    assert not manager.runs_own_code("someone/custom")
    trust(store, "someone/custom", "ana")
    assert manager.runs_own_code("someone/custom") and not manager.runs_own_code("someone/other")
    trust(store, "tiny", "ana")
    assert not manager.runs_own_code("tiny")  # the built-in model never needs it
    distrust(store, "someone/custom")
    assert not manager.runs_own_code("someone/custom")
    refusal = ValueError("The repository x contains custom code which must be executed... set trust_remote_code=True")
    assert "allowed in the Settings tab" in _explained(refusal)


def test_a_demo_loads_no_hub_model_bigger_than_its_cap(tmp_path, monkeypatch):
    from types import SimpleNamespace

    import huggingface_hub

    from playground.settings import Settings

    monkeypatch.setenv("PLAYGROUND_DEMO", "1")
    files = {"big/model": [("model-00001.safetensors", 3 * 2**30), ("model-00002.safetensors", 2 * 2**30)],
             "small/model": [("model.safetensors", 300 * 2**20), ("pytorch_model.bin", 9 * 2**30)],
             "old/model": [("pytorch_model.bin", 2**20)]}
    monkeypatch.setattr(huggingface_hub.HfApi, "model_info", lambda self, repo_id, **kw: SimpleNamespace(
        sha=f"commit-of-{repo_id}-{len(files[repo_id])}",
        siblings=[SimpleNamespace(rfilename=name, size=size) for name, size in files[repo_id]]))
    settings = Settings(home=tmp_path, adapters_dir=tmp_path / "adapters", default_model="tiny", hub_offline=False,
                        host="127.0.0.1", port=7860, demo=True)
    manager = ModelManager(settings)
    manager._online = True  # as if the Hub answered
    assert manager.resolve("small/model") == "small/model"  # 300 MB of safetensors (the .bin is never loaded)
    with pytest.raises(PlaygroundError, match="The weights of 'big/model' in MB is 5,120; the limit here is 4,000"):
        manager.resolve("big/model")
    with pytest.raises(PlaygroundError, match="no safetensors weights"):
        manager.resolve("old/model")
    # the repository grows after the check: what loads is still the commit that was checked
    files["small/model"] += [("model-extra.safetensors", 50 * 2**30)]
    assert manager.resolve("small/model") == "small/model"
    assert manager.fetch_options("small/model") == {"revision": "commit-of-small/model-2"}
    loads = []
    monkeypatch.setattr("playground.models._load", lambda ref, source, progress, own_code, fetch, cpu_only:
                        loads.append(fetch) or SimpleNamespace(encoder_decoder=False))
    manager.get("small/model")
    assert loads == [{"revision": "commit-of-small/model-2"}]  # passed to from_pretrained
    # a cached model loads from the cache, online or not: never a download of a newer commit
    monkeypatch.setattr("playground.models.is_cached", lambda hub_id: True)
    for online in (True, False):
        manager._online, manager._pinned = online, {}
        manager.resolve("cached/model")
        assert manager.fetch_options("cached/model") == {"local_files_only": True}


def _use_in_child(manager, replies) -> None:
    with manager.get("tiny").using(None):
        replies.put("ok")


def test_a_forked_process_gets_fresh_locks(manager, lm):
    """A ZeroGPU call's worker is forked from the app while other requests run: the locks another
    thread held at that moment must not stay held in the worker."""
    import multiprocessing
    import threading

    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        with manager._lock, lm._lock:
            held.set()
            release.wait()

    holder = threading.Thread(target=hold)
    holder.start()
    held.wait()
    fork = multiprocessing.get_context("fork")
    replies = fork.SimpleQueue()
    child = fork.Process(target=_use_in_child, args=(manager, replies))
    try:
        child.start()
        child.join(30)
        stuck = child.is_alive()
        if stuck:
            child.kill()
    finally:
        release.set()
        holder.join()
    assert not stuck and replies.get() == "ok"


@pytest.fixture
def cudnn_attention_on():
    """cuDNN's attention as PyTorch starts (on), and back on after the test."""
    import torch

    torch.backends.cuda.enable_cudnn_sdp(True)
    yield
    torch.backends.cuda.enable_cudnn_sdp(True)


def test_loading_a_model_turns_cudnn_attention_off(settings, tmp_path, cudnn_attention_on):
    """cuDNN plans each new input shape on the CPU (~1 s a training step on an H200, playground.attention)."""
    import torch

    from playground.tiny_model import build_tiny_model

    ModelManager(settings).get(str(build_tiny_model(tmp_path / "model", seed=3)))
    assert not torch.backends.cuda.cudnn_sdp_enabled()


def test_every_run_turns_cudnn_attention_off(settings, tmp_path, cudnn_attention_on):
    import torch

    from playground.store import Store
    from playground.worker import execute

    store = Store(tmp_path / "runs.db")
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "STOP").touch()  # ends before anything loads
    run = store.add_run({"id": "r1", "name": "r1", "kind": "sft", "output": "adapter", "status": "running",
                         "run_dir": str(tmp_path / "run"),
                         "recipe": {}, "created": 0.0})
    assert execute(run, settings, store)["status"] == "cancelled"
    assert not torch.backends.cuda.cudnn_sdp_enabled()


def test_the_pickers_offer_only_results_made_from_the_loaded_model(settings, tmp_path, monkeypatch):
    """An adapter made from another base can't load on this one (PEFT: "Target modules ... not found"):
    the labs, Evaluate and RLHF offer only those made from the model picked, whichever name it was
    typed by, or from a folder of the same architecture and sizes; results whose base was not recorded stay.
    PPO's reward models likewise."""
    import dataclasses
    import json
    from types import SimpleNamespace

    from pages.common import BASE_ONLY, adapter_choices
    from pages.evaluate import model_choices
    from playground.tiny_model import build_tiny_model

    fresh = ModelManager(dataclasses.replace(settings, adapters_dir=tmp_path / "adapters"))
    tiny_folder = str(fresh.tiny_model_dir())
    elsewhere = str(build_tiny_model(tmp_path / "another-home" / "tiny-seed0"))  # the same model, another folder
    for name, recorded_base, config_base in [("on-tiny", "tiny", tiny_folder), ("on-tiny-folder", "", tiny_folder),
                                             ("on-tiny-elsewhere", "", elsewhere),
                                             ("on-t5", str(tmp_path / "t5"), str(tmp_path / "t5")),
                                             ("on-hub", "HuggingFaceTB/SmolLM2-135M-Instruct", "HuggingFaceTB/SmolLM2-135M-Instruct"),
                                             ("unrecorded", "", "")]:
        folder = tmp_path / "adapters" / name
        folder.mkdir(parents=True)
        (folder / "adapter_config.json").write_text(json.dumps({"peft_type": "LORA", "base_model_name_or_path": config_base}))
        if recorded_base:
            (folder / "run.json").write_text(json.dumps({"base_model": recorded_base, "output": "adapter"}))
    ctx = SimpleNamespace(models=fresh, start_model="tiny")
    assert sorted(adapter_choices(ctx)) == sorted([BASE_ONLY, "on-tiny", "on-tiny-folder", "on-tiny-elsewhere", "unrecorded"])
    assert sorted(adapter_choices(ctx, str(tmp_path / "t5" / "."))) == sorted([BASE_ONLY, "on-t5", "unrecorded"])
    assert sorted(model_choices(fresh, "HuggingFaceTB/SmolLM2-135M-Instruct")) == ["on-hub", "unrecorded"]
    # PPO's reward model reads the policy's tokens: only one made from the model picked is offered
    from pages.rlhf import reward_model_names

    for name, base in [("rm-tiny", "tiny"), ("rm-hub", "HuggingFaceTB/SmolLM2-135M-Instruct")]:
        (tmp_path / "adapters" / name).mkdir()
        (tmp_path / "adapters" / name / "run.json").write_text(json.dumps({"base_model": base, "output": "reward_model"}))
    assert reward_model_names(fresh.settings, fresh, "tiny") == ["rm-tiny"]
    assert sorted(reward_model_names(fresh.settings)) == ["rm-hub", "rm-tiny"]  # GRPO/RLOO score text: any
