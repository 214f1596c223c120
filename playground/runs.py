"""What every run shares, whatever its kind: its status, the files of its folder, its event log
and how it is asked to stop. The job system, the worker and every training file import this;
it imports none of them, so there is no import loop.

Run folder (PLAYGROUND_HOME/runs/<id>/): meta.json (id, name, kind, created: enough to rebuild
the run list if the database is lost), recipe.yaml, events.jsonl (one JSON object per line, read
by byte offset), log.txt (the process's output), STOP (asks the run to stop), output/."""

from __future__ import annotations

import json
import os
import re
import signal
import threading
import time
from enum import StrEnum
from pathlib import Path

from playground.errors import PlaygroundError

STOP_FILE = "STOP"
EVENTS_FILE = "events.jsonl"
LOG_FILE = "log.txt"
RECIPE_FILE = "recipe.yaml"
META_FILE = "meta.json"
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,79}")


class RunStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    FINISHED = "finished"
    STOPPED = "stopped"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def active(self) -> bool:
        return self in ACTIVE


ACTIVE = (RunStatus.QUEUED, RunStatus.RUNNING)
ENDED = (RunStatus.FINISHED, RunStatus.STOPPED, RunStatus.FAILED, RunStatus.CANCELLED)


def first_start(run: dict) -> float | None:
    """When a run (a row of the runs table) first started: before any resume."""
    return run.get("first_started") or run.get("started")


def seconds_run(run: dict) -> float | None:
    """How long a run has run, over all its starts (a resumed run's time before it stopped included)."""
    earlier = run.get("earlier_s") or 0
    if not run.get("started"):  # never started, or a resumed run waiting in the queue
        return earlier or None
    return earlier + (run.get("finished") or time.time()) - run["started"]


def attempt_times(events: list[dict]) -> dict:
    """A run's times rebuilt from its events, as its database row keeps them: each start (the first run
    and every resume) ends with a "done" or "error" event; the time of those before the last start is
    `earlier_s`. A run whose last start has no end is taken to have ended at its last event."""
    spans, start = [], None
    for event in events:
        start = event["time"] if start is None else start
        if event["type"] in ("done", "error"):
            spans.append((start, event["time"]))
            start = None
    if start is not None:
        spans.append((start, events[-1]["time"]))
    if not spans:
        return {"first_started": None, "started": None, "finished": None, "earlier_s": 0.0}
    return {"first_started": spans[0][0], "started": spans[-1][0], "finished": spans[-1][1],
            "earlier_s": sum(end - begin for begin, end in spans[:-1])}


def check_name(name: str) -> None:
    """A run's output name is a folder name: no path separators, no '..', no control characters."""
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name) or ".." in name:
        raise PlaygroundError(
            f"Name {name!r} is not allowed: use letters, digits, '.', '_' and '-' (no path separators, "
            "'..' or line breaks), at most 80 characters, starting with a letter or digit."
        )


def is_main_process() -> bool:
    """Under `accelerate launch` every process runs; only rank 0 records and saves."""
    return int(os.environ.get("RANK", "0")) == 0


class EventWriter:
    """Appends one JSON object per line, flushed at once. Silent on processes other than rank 0."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.enabled = is_main_process()

    def write(self, kind: str, **fields) -> None:
        if not self.enabled:
            return
        with self.path.open("a", encoding="utf-8") as f:
            f.write(json.dumps({"type": kind, "time": time.time(), **fields}) + "\n")


def read_events(path: Path, offset: int = 0) -> tuple[list[dict], int]:
    """Complete lines after byte `offset`, and the offset to read from next time. A damaged line
    (not a JSON object) is skipped and reported as a "warning" event, so one bad line never
    hides the rest of a run."""
    try:
        with open(path, "rb") as f:
            f.seek(offset)
            chunk = f.read()
    except FileNotFoundError:
        return [], offset
    end = chunk.rfind(b"\n") + 1
    events, damaged = [], 0
    for line in chunk[:end].splitlines():
        if not line.strip():
            continue
        try:
            event = json.loads(line)
        except ValueError:
            event = None
        if isinstance(event, dict) and "type" in event:
            events.append(event)
        else:
            damaged += 1
    if damaged:
        events.append({"type": "warning", "time": time.time(),
                       "message": f"Skipped {damaged} damaged line(s) of {path}: they are not events written by a run "
                                  "(edited or corrupted file). The rest of the run is shown."})
    return events, offset + end


class StopWatcher:
    """A threading.Event set when the run is asked to stop: a STOP file in its folder (seen within
    half a second) or SIGTERM."""

    def __init__(self, run_dir: Path, interval: float = 0.5):
        self.run_dir = Path(run_dir)
        self.event = threading.Event()
        if (self.run_dir / STOP_FILE).exists():
            self.event.set()
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, lambda signum, frame: self.event.set())
        threading.Thread(target=self._watch, args=(interval,), daemon=True, name="stop-watcher").start()

    def _watch(self, interval: float) -> None:
        while not self.event.wait(interval):
            if (self.run_dir / STOP_FILE).exists():
                self.event.set()

    @property
    def requested(self) -> bool:
        return self.event.is_set()
