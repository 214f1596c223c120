"""20 visitors at once for a bounded time, half generating (with two models, so the one model slot
changes hands all the time) and half labeling: no errors, every generation identical to the same
request's answer on an idle app, and every acknowledged label stored once. bench/mixed_load.py
prints the latencies."""

from __future__ import annotations

import tempfile
from pathlib import Path

from playground.preferences.labels import all_labels
from playground.store import Store
from playground.tiny_model import build_tiny_model
from tests.integration import mixed_clients
from tests.ui.conftest import start_app, stop_app


def test_twenty_visitors_generating_and_labeling_at_once_get_right_answers(tmp_path, monkeypatch):
    monkeypatch.setenv("PLAYGROUND_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("PLAYGROUND_ADAPTERS", str(tmp_path / "adapters"))
    monkeypatch.setenv("PLAYGROUND_MODEL", "tiny")
    other = build_tiny_model(tmp_path / "other-tiny", seed=1)  # different weights: different answers
    server = start_app(Path(tempfile.mkdtemp(prefix="mixed-load-")))
    try:
        tally = mixed_clients.run(server.url, ["tiny", str(other)], generators=10, labelers=10, seconds=12)
        assert server.process.poll() is None
    finally:
        stop_app(server)
    assert tally.errors == [], tally.errors[:3]
    assert tally.mismatches == [], tally.mismatches[:3]
    assert len(tally.generation_s) >= 20 and len(tally.vote_s) >= 20
    labels = all_labels(Store(tmp_path / "home" / "playground.db"))
    assert len(labels) == len(tally.vote_s) == len({x.id for x in labels})
