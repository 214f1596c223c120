"""Faults: the app keeps serving, nothing acknowledged is lost and run states are right afterwards.
- the app killed (-9) during a run: the run, in its own process, finishes; the restarted app shows it;
- a full disk while saving a label: refused with a plain message, every acknowledged label kept;
- a full disk while publishing an adapter: the run fails saying where its result is; nothing
  half-written in the adapters folder.
(A worker killed with -9 is in test_jobs.py; the app killed while 20 annotators label, in test_rate_load.py.)
Full disks are small tmpfs mounts (root on Linux; skipped where mounting is not allowed)."""

from __future__ import annotations

import os
import signal
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import pytest

from playground.errors import PlaygroundError
from playground.jobs import JobManager
from playground.preferences.labels import Label, add, all_labels
from playground.settings import Settings
from playground.store import Store
from playground.training.recipes import recipe_from_dict
from tests.integration import raw_api
from tests.ui.conftest import start_app


@pytest.fixture
def small_disk(tmp_path):
    """A file system of a few hundred KB, nearly full."""
    mount = tmp_path / "small-disk"
    mount.mkdir()

    def make(size_kb: int, leave_kb: int) -> Path:
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_kb}k", "tmpfs", str(mount)],
                              capture_output=True, text=True)
        if done.returncode != 0:
            pytest.skip(f"can't mount a small tmpfs here: {done.stderr.strip()}")
        free = os.statvfs(mount).f_bavail * os.statvfs(mount).f_frsize
        (mount / "filler").write_bytes(b"\0" * max(0, free - leave_kb * 1024))
        return mount

    yield make
    subprocess.run(["umount", "--lazy", str(mount)], capture_output=True)  # detached even if a file is still open


def label(n: int) -> Label:
    return Label(prompt=f"Prompt {n}?", left_text="A reply. " * 50, right_text="Another reply. " * 50,
                 left_source="base", right_source="sampling", choice="left", annotator="ana", comment="x" * 4000)


def test_a_label_on_a_full_disk_is_refused_plainly_and_every_acknowledged_one_is_kept(small_disk):
    folder = small_disk(size_kb=1024, leave_kb=400)
    store = Store(folder / "playground.db")
    acknowledged = []
    with pytest.raises(PlaygroundError, match="is full: nothing was saved. Free some space"):
        for n in range(1000):
            acknowledged.append(add(store, label(n)).id)
    assert len(acknowledged) >= 5
    again = Store(folder / "playground.db")  # as a restarted app opens it
    assert [x.id for x in all_labels(again)] == acknowledged
    with again.reading() as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    (folder / "filler").unlink()  # space again: labeling goes on
    assert add(again, label(10_000)).id > acknowledged[-1]


def test_an_adapter_on_a_full_disk_fails_its_run_and_leaves_nothing_half_written(small_disk, tmp_path, tiny_dir,
                                                                                   monkeypatch):
    adapters = small_disk(size_kb=256, leave_kb=8)
    monkeypatch.setenv("PLAYGROUND_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("PLAYGROUND_ADAPTERS", str(adapters))
    jobs = JobManager(Settings.from_env())
    recipe = recipe_from_dict({"method": "lora", "base_model": str(tiny_dir), "data": "sentiment", "max_steps": 2,
                               "per_device_train_batch_size": 4, "max_length": 96, "output_name": "no-room"})
    run = jobs.run_foreground("sft", recipe)
    assert run["status"] == "failed", run
    assert "No space left on device" in run["error"] and "The trained result is kept in" in run["error"], run["error"]
    kept = Path(run["error"].split("kept in ")[1].split(";")[0])
    assert (kept / "adapter_config.json").exists()  # the result is not lost
    assert sorted(p.name for p in adapters.iterdir()) == ["filler"]  # no adapter, no partial copy


def test_a_run_finishes_through_a_kill_of_the_app_and_is_right_after_the_restart(tmp_path, monkeypatch):
    monkeypatch.setenv("PLAYGROUND_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("PLAYGROUND_ADAPTERS", str(tmp_path / "adapters"))
    monkeypatch.setenv("PLAYGROUND_MODEL", "tiny")
    server = start_app(Path(tempfile.mkdtemp(prefix="fault-app-")))
    cfg = raw_api.config(server.url)
    index = raw_api.fn_index(cfg, "launch_run")
    data = raw_api.defaults(cfg, index)
    for position, elem_id in enumerate(raw_api.input_ids(cfg, index)):
        data[position] = {"ft-max-steps": 40, "ft-output-name": "survivor", "ft-max-len": 96}.get(elem_id, data[position])
    answer = raw_api.call(server.url, index, data, uuid.uuid4().hex)
    assert "✅" in raw_api.texts(answer), raw_api.texts(answer)
    store = Store(tmp_path / "home" / "playground.db")
    run = next(r for r in store.runs() if r["name"] == "survivor")
    deadline = time.monotonic() + 120
    while not any(e["type"] == "progress" for e in JobManager(Settings.from_env()).events(run["id"])[0]):
        assert time.monotonic() < deadline, "the run never made progress"
        time.sleep(0.5)
    os.kill(server.process.pid, signal.SIGKILL)  # the app dies mid-run, no clean shutdown
    server.process.wait()
    restarted = start_app(Path(tempfile.mkdtemp(prefix="fault-app-2-")))
    try:
        deadline = time.monotonic() + 240
        while store.run(run["id"])["status"] in ("queued", "running"):
            assert time.monotonic() < deadline, "the run never ended"
            time.sleep(1)
        ended = store.run(run["id"])
        assert ended["status"] == "finished", ended["error"]
        assert (tmp_path / "adapters" / "survivor" / "adapter_config.json").exists()
        tick = next(d for d in cfg["dependencies"] if any(t == "tick" for _, t in d["targets"]))  # the runs' poll
        listed = raw_api.call(restarted.url, tick["id"], [None, {}] + [None] * (len(tick["inputs"]) - 2))
        assert "survivor (finished)" in raw_api.texts(listed)
    finally:
        restarted.process.terminate()
        restarted.process.wait(timeout=30)
