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


def pytest_collection_modifyitems(config, items):
    """With pytest-xdist (`-n 2`, as the Quick start runs the suite): each module runs whole in one worker
    (its module fixtures, such as trained adapters, are built once), and the browser tests all in one, first
    (they share one app and one browser, and are the longest group: the other worker takes the rest)."""
    ui = ROOT / "tests" / "ui"
    in_ui = [item for item in items if ui in Path(str(item.fspath)).resolve().parents]
    others = [item for item in items if item not in in_ui]
    for item in in_ui:
        item.add_marker(pytest.mark.xdist_group("ui"))
    for item in others:
        item.add_marker(pytest.mark.xdist_group(Path(str(item.fspath)).stem))
    items[:] = in_ui + others


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


@pytest.fixture
def dialogsum_dev():
    path = SHARED_DATA / "dialogsum" / "dialogsum.dev.jsonl"
    if not path.exists():
        pytest.skip(f"reference data not present at {path}")
    return path
