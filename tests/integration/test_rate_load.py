"""Labels under load, through the running app's API: 20 annotators labeling 10 pairs each at the
same time store exactly 200 labels, and every acknowledged label survives a kill -9 of the app.
(bench/label_latency.py measures the latencies of a longer run.)"""

import os
import signal
import tempfile
from pathlib import Path

from playground.preferences.labels import all_labels
from playground.store import Store
from tests.integration.rate_clients import crowd
from tests.ui.conftest import start_app

VOTES = 10  # per annotator (200 labels at once: enough to interleave writes; fewer seconds of CI)


def test_twenty_clients_store_every_acknowledged_label_once_and_survive_a_kill(monkeypatch, tmp_path):
    monkeypatch.setenv("PLAYGROUND_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("PLAYGROUND_ADAPTERS", str(tmp_path / "adapters"))
    server = start_app(Path(tempfile.mkdtemp(prefix="rate-load-")))
    try:
        latencies = crowd(server.url, clients=20, votes=VOTES, overlap=0.2)  # some pairs are colleagues', as by default
    finally:
        os.kill(server.process.pid, signal.SIGKILL)  # no clean shutdown
        server.process.wait()
    assert sum(len(v) for v in latencies.values()) == 20 * VOTES  # all acknowledged
    stored = all_labels(Store(tmp_path / "home" / "playground.db"))  # as the restarted app reads it
    assert len(stored) == 20 * VOTES and len({x.id for x in stored}) == 20 * VOTES
    per_annotator = {}
    for label in stored:
        per_annotator.setdefault(label.annotator, []).append(label.key)
    assert sorted(per_annotator) == sorted(f"load-{i}" for i in range(20))
    for keys in per_annotator.values():
        assert len(keys) == VOTES and len(set(keys)) == VOTES  # no annotator got the same pair twice
    assert any(len(set(people)) > 1 for people in _annotators_by_pair(stored).values())  # and some pairs were shared


def _annotators_by_pair(labels) -> dict[str, list[str]]:
    by_pair = {}
    for label in labels:
        by_pair.setdefault(label.key, []).append(label.annotator)
    return by_pair
