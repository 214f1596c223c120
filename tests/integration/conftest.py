"""Fixtures shared by the integration tests."""

import pytest

from playground import kinds
from playground.settings import Settings


@pytest.fixture
def echo_home(tmp_path, monkeypatch):
    """A fresh home whose runs may also be of the tests' own kind, "echo" (echo_kind.py), for the
    worker processes too."""
    monkeypatch.setenv("PLAYGROUND_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("PLAYGROUND_ADAPTERS", str(tmp_path / "adapters"))
    monkeypatch.setenv(kinds.ENV_EXTRA_KINDS, "{}")
    monkeypatch.setitem(kinds.KINDS, "echo", "tests.integration.echo_kind:KIND")
    kinds.register("echo", "tests.integration.echo_kind:KIND")  # the one registry line
    settings = Settings.from_env()
    settings.ensure_dirs()
    return settings
