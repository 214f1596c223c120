"""Shared fixtures. Tests never touch the network: the Hub is offline and every model is the
built-in tiny model, built in code into a temporary home folder."""

import os
import tempfile
from pathlib import Path

# Set before anything imports huggingface_hub / gradio / playground.
_HOME = tempfile.mkdtemp(prefix="playground-test-home-")
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
os.environ["PLAYGROUND_HOME"] = _HOME
os.environ["PLAYGROUND_ADAPTERS"] = str(Path(_HOME) / "adapters")

import pytest  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def settings():
    from playground.settings import Settings

    s = Settings.from_env()
    s.ensure_dirs()
    return s


@pytest.fixture(scope="session")
def manager(settings):
    from playground.models import ModelManager

    return ModelManager(settings)


@pytest.fixture(scope="session")
def lm(manager):
    return manager.get("tiny")


@pytest.fixture(scope="session")
def tiny_dir(manager):
    return manager.tiny_model_dir()


@pytest.fixture(scope="session")
def seq2seq_dir(settings):
    """The tiny encoder-decoder (T5-style) model's folder: FLAN-T5's architecture, random weights."""
    from playground.tiny_model import build_tiny_seq2seq

    folder = settings.models_dir / "tiny-seq2seq"
    if not (folder / "model.safetensors").exists():
        build_tiny_seq2seq(folder)
    return folder


@pytest.fixture(scope="session")
def seq2seq(manager, seq2seq_dir):
    return manager.get(str(seq2seq_dir))


@pytest.fixture
def dialogsum_dev():
    path = SHARED_DATA / "dialogsum" / "dialogsum.dev.jsonl"
    if not path.exists():
        pytest.skip(f"reference data not present at {path}")
    return path
