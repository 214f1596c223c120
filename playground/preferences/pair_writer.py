"""Writes the pairs annotators judge in a separate process, at a lower CPU priority than the web
server.

Votes are small (one commit); writing a pair is two generations. In one process the two compete
for the GIL, so under load a vote waits behind generations (measured: p95 361-516 ms for 20
annotators on two cores). In its own niced process the writer gets whatever CPU the server leaves,
and the app's own model slot is never swapped by a labeling setup. The cost is a second copy of
the labeling model in memory.

The writer process loads models through its own ModelManager on the same settings (same home,
adapters folder and built tiny model), reads which pairs an annotator has labeled from the same
SQLite database, and exits by itself when the app that started it dies."""

from __future__ import annotations

import multiprocessing
import os
import random
import threading
import time
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from playground.settings import Settings

NICENESS = 10


class PairWriter:
    """Queue of pair-writing jobs served by one background process (started on first use,
    started again if it dies)."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self._lock = threading.Lock()
        self._pool: ProcessPoolExecutor | None = None

    def submit(self, setup: dict, annotator: str) -> Future:
        """A Future of the next task (a Task dict) for `annotator` under `setup`."""
        with self._lock:
            try:
                return self._executor().submit(_write_task, setup, annotator)
            except (BrokenProcessPool, RuntimeError):
                self._pool = None  # the process died (killed, out of memory): start a new one
                return self._executor().submit(_write_task, setup, annotator)

    def _executor(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"),
                                             initializer=_start_writer, initargs=(self.settings, os.getpid()))
        return self._pool

    def write(self, setup: dict, annotator: str) -> dict:
        """The next task, waited for; one retry if the writer process died on the way."""
        try:
            return self.submit(setup, annotator).result()
        except BrokenProcessPool:
            with self._lock:
                self._pool = None
            return self.submit(setup, annotator).result()

    def shutdown(self) -> None:
        with self._lock:
            if self._pool is not None:
                self._pool.shutdown(wait=False, cancel_futures=True)
                self._pool = None


# ---- in the writer process ----
_models = None
_store = None


def _start_writer(settings: Settings, parent_pid: int) -> None:
    global _models, _store
    from playground.models import ModelManager
    from playground.store import Store
    from playground.zero_gpu import on_zero_gpu

    os.nice(NICENESS)
    _models, _store = ModelManager(settings, cpu_only=on_zero_gpu()), Store(settings.db_path)  # ZeroGPU lends it nothing
    threading.Thread(target=_exit_with_parent, args=(parent_pid,), daemon=True, name="exit-with-parent").start()


def _exit_with_parent(parent_pid: int) -> None:
    while os.getppid() == parent_pid:
        time.sleep(1.0)
    os._exit(0)  # the app is gone (even by kill -9): don't hold a model in memory for nobody


def _write_task(setup: dict, annotator: str) -> dict:
    from playground.preferences import labels as label_store
    from playground.preferences.tasks import Source, make_task

    lm = _models.get(setup["model"], adapters=tuple(a for a, _ in setup["sources"] if a))
    chat = bool(getattr(lm.tokenizer, "chat_template", None))
    seen = set() if setup.get("relabel") else label_store.labeled_keys(_store, annotator)
    task = make_task(lm, setup["prompts"], [Source(a, p) for a, p in setup["sources"]], seen, random.Random(),
                     setup["max_new_tokens"], chat, single=setup.get("single", False))
    return task.to_dict()
