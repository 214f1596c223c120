"""Background runs of every kind: each in its own process (never the UI's), one at a time, the
rest queued in order. State lives in SQLite and the run folder (see playground.runs), not in a
browser session, so a closed tab or an app restart loses nothing: the app re-attaches, and a run
whose process died is marked failed. What a run does is its kind's business (playground.kinds)."""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

from playground import kinds, launcher
from playground.errors import PlaygroundError
from playground.runs import (
    ACTIVE,
    ENDED,
    EVENTS_FILE,
    LOG_FILE,
    META_FILE,
    RECIPE_FILE,
    STOP_FILE,
    RunStatus,
    attempt_times,
    check_name,
    first_start,
    read_events,
    seconds_run,
)
from playground.settings import PROJECT_ROOT, Settings
from playground.store import Store
from playground.zero_gpu import without_gpu

STOP_GRACE_S = 60  # after this, a run asked to stop is killed
DEATH_CONFIRM_S = 3.0  # a run's process must look gone this long before the run is marked failed


def process_alive(pid: int | None, started: float | None) -> bool:
    import psutil

    if not pid:
        return False
    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return False
        return started is None or abs(proc.create_time() - started) < 1.0
    except psutil.Error:
        return False


class JobManager:
    def __init__(self, settings: Settings, store: Store | None = None, preload: bool = True):
        self.settings = settings
        self.preload = preload  # start workers through a launcher that has the libraries imported
        self.store = store or Store(settings.db_path)
        self.runs_dir = settings.home / "runs"
        self._children: dict[str, subprocess.Popen] = {}
        self._seen_dead: dict[str, float] = {}  # run id -> when its process first looked gone
        self._lock = threading.Lock()
        self._monitor: threading.Thread | None = None
        self.recovered = self.recover_lost_runs()

    # ---- submitting ----
    def prepare(self, kind_name: str, recipe, overwrite: bool = False, status: str = RunStatus.QUEUED,
                created_by: str = "") -> dict:
        """Check the recipe (its kind's check: bad input starts nothing), write the run folder and
        record the run, queued (or running, for a run the caller starts itself). The output name
        is checked and taken in the same transaction as the run is recorded."""
        kind = kinds.get(kind_name)

        def folder_free(name: str) -> None:
            if kind.output.has_folder and (self.settings.adapters_dir / name).exists() and not overwrite:
                raise PlaygroundError(f"An adapter named '{name}' already exists in {self.settings.adapters_dir}. "
                                      "Choose another output name, or overwrite it (tick 'Overwrite'; --overwrite on the "
                                      "command line).")

        if getattr(recipe, "output_name", ""):
            check_name(recipe.output_name)
            self.store.check_name_free(recipe.output_name, kind.output.value, folder_free)  # at once, not after loading
        notes = kind.check(recipe, self.settings)
        run_id = time.strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6]
        run_dir = self.runs_dir / run_id
        values = recipe.to_dict()

        summary = kind.summary(recipe)
        row = {"id": run_id, "name": getattr(recipe, "output_name", "") or "", "kind": kind.name,
               "output": kind.output.value, "method": summary.get("method"), "base_model": summary.get("base_model"),
               "status": str(status), "recipe": values, "run_dir": str(run_dir), "created_by": created_by}
        if status == RunStatus.RUNNING:
            row["started"] = time.time()
        run = self.store.add_run(row, name_stem=kind.default_name(recipe), folder_free=folder_free)
        import yaml

        run_dir.mkdir(parents=True)
        (run_dir / RECIPE_FILE).write_text(yaml.safe_dump(values | {"output_name": run["name"]}, sort_keys=False),
                                           encoding="utf-8")
        meta = {"id": run_id, "name": run["name"], "kind": kind.name, "output": kind.output.value,
                "method": run["method"], "base_model": run["base_model"], "created": run["created"],
                "created_by": created_by, "overwrite": bool(overwrite)}
        (run_dir / META_FILE).write_text(json.dumps(meta, indent=2), encoding="utf-8")
        run["notes"] = notes
        return run

    def submit(self, kind_name: str, recipe, overwrite: bool = False, created_by: str = "") -> dict:
        run = self.prepare(kind_name, recipe, overwrite, created_by=created_by)
        self.refresh()
        return self.store.run(run["id"]) | {"notes": run["notes"]}

    def command(self, run: dict) -> list[str]:
        processes = int(run["recipe"].get("num_processes", 1) or 1)
        worker = ["-m", "playground.worker", run["run_dir"]]
        if processes <= 1:
            return [sys.executable, *worker]
        # torchrun through accelerate: DDP over NCCL on GPUs, over gloo on a CPU (`--cpu` would
        # need mpirun for several processes). An accelerate config file picks FSDP or DeepSpeed.
        launch = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", str(processes),
                  "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no"]
        config = self.settings.home / "accelerate.yaml"
        if config.exists():
            launch += ["--config_file", str(config)]
        return [*launch, "--module", "playground.worker", run["run_dir"]]

    def working_folder(self) -> Path:
        """The project folder; in demo mode an empty one, so a Hub-id-shaped name never finds a server
        folder of the same name (the worker imports the project through PYTHONPATH)."""
        if not self.settings.demo:
            return PROJECT_ROOT
        folder = self.settings.home / "empty-working-folder"
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def _spawn(self, run: dict, wait_for_launcher: bool = False) -> int:
        """Start the run's worker process and record its pid; returns the pid. A launcher that has
        already imported the heavy libraries forks it where it can (playground.launcher), else a
        fresh interpreter starts it (also while the launcher still imports, unless told to wait)."""
        import psutil

        run_dir = Path(run["run_dir"])
        env = {**self._worker_environment(), "PLAYGROUND_HOME": str(self.settings.home),
               "PLAYGROUND_ADAPTERS": str(self.settings.adapters_dir)}
        command = self.command(run)
        pid = None
        self._children.pop(run["id"], None)  # a resumed run's earlier process (ended): never mistaken for this one
        if self.preload and launcher.wanted(int(run["recipe"].get("num_processes", 1) or 1)):
            try:
                pid = launcher.start_worker(command[1:], self.working_folder(), env, run_dir / LOG_FILE,
                                            wait=wait_for_launcher)
            except launcher.LauncherUnavailable as err:
                logging.getLogger(__name__).info("Run %s starts in a fresh process (launcher: %s)", run["id"], err)
                pid = None
        if pid is None:
            with open(run_dir / LOG_FILE, "ab") as log:
                proc = subprocess.Popen(command, cwd=self.working_folder(), env=env, stdout=log, stderr=subprocess.STDOUT,
                                        stdin=subprocess.DEVNULL, start_new_session=True)
            self._children[run["id"]] = proc
            pid = proc.pid
        try:
            started = psutil.Process(pid).create_time()
        except psutil.Error:  # already ended: its own record says how
            started = None
        self.store.update_run(run["id"], pid=pid, pid_started=started)
        return pid

    def warm_up(self) -> None:
        """Start the launcher now, so the first run does not wait for its imports."""
        if self.preload and launcher.wanted():
            launcher.launcher_for(self.working_folder(), self._worker_environment())

    @staticmethod
    def _worker_environment() -> dict:
        """What a run's process inherits: this one's environment, the project importable, output unbuffered."""
        return without_gpu({**os.environ, "PYTHONUNBUFFERED": "1",
                            "PYTHONPATH": os.pathsep.join(filter(None, [str(PROJECT_ROOT), os.environ.get("PYTHONPATH")]))})

    def run_foreground(self, kind_name: str, recipe, overwrite: bool = False, on_events=None, created_by: str = "",
                       on_notes=None) -> dict:
        """Start a run now (not through the queue) and wait for it; on_notes(notes) hears what its check
        found worth saying before it starts, on_events(events) sees its progress."""
        run = self.prepare(kind_name, recipe, overwrite, status=RunStatus.RUNNING, created_by=created_by)
        if on_notes:
            on_notes(run["notes"])
        return self._follow(run, on_events)

    def resume(self, run_ref: str, foreground: bool = False, on_events=None) -> dict:
        """Continue a stopped or failed run from its last checkpoint, as the same run (its events,
        its name, its result replaced when it ends): queued, or now and waited for (`foreground`)."""
        run = self.get(run_ref)
        kind = kinds.get(run["kind"])
        if run["status"] in (RunStatus.RUNNING, RunStatus.QUEUED):
            raise PlaygroundError(f"Run '{run['name']}' is {run['status']}: there is nothing to resume.")
        if run["status"] == RunStatus.FINISHED:
            raise PlaygroundError(f"Run '{run['name']}' finished: there is nothing to resume. Start a new run to train more.")
        if not kind.resumable:
            raise PlaygroundError(f"{kind.title} runs can't be resumed yet: start '{run['name']}' again instead.")
        run_dir = Path(run["run_dir"])
        if not any((run_dir / "checkpoints").glob("checkpoint-*")):
            raise PlaygroundError(f"Run '{run['name']}' ended before its first checkpoint: there is nothing to resume "
                                  "from. Start it again.")
        meta = json.loads((run_dir / META_FILE).read_text(encoding="utf-8"))
        (run_dir / META_FILE).write_text(json.dumps(meta | {"resume": True, "overwrite": True}, indent=2), encoding="utf-8")
        (run_dir / STOP_FILE).unlink(missing_ok=True)
        status = RunStatus.RUNNING if foreground else RunStatus.QUEUED
        earlier = {"first_started": first_start(run), "earlier_s": seconds_run(run) or 0}  # kept for the runs table
        if not self.store.update_run_if(run["id"], (run["status"],), status=status.value, finished=None, error=None,
                                        stop_requested=None, pid=None, started=time.time() if foreground else None,
                                        **earlier):
            raise PlaygroundError(f"Run '{run['name']}' changed meanwhile: look at the runs table again.")
        if foreground:  # its new events only: the ones before the stop were seen then
            return self._follow(self.store.run(run["id"]), on_events, offset=self.events(run["id"])[1])
        self.refresh()
        return self.store.run(run["id"])

    def _follow(self, run: dict, on_events=None, offset: int = 0) -> dict:
        """Spawn a run recorded as running and wait for it, passing its events after `offset` to on_events."""
        try:
            pid = self._spawn(run, wait_for_launcher=True)  # nothing else waits on this process meanwhile
        except KeyboardInterrupt:
            self._end(run["id"], RunStatus.CANCELLED, "Interrupted before it started: nothing was trained or saved.")
            raise
        ended = self._ended_check(run["id"], pid)
        try:
            while True:
                events, offset = self.events(run["id"], offset)
                if events and on_events:
                    on_events(events)
                if ended():
                    break
                time.sleep(0.3)
        except KeyboardInterrupt:
            self.cancel(run["id"])
            while not ended():
                time.sleep(0.3)
        events, offset = self.events(run["id"], offset)
        if events and on_events:
            on_events(events)
        self.refresh()
        return self.store.run(run["id"])

    def _ended_check(self, run_id: str, pid: int):
        """A function telling whether the run's worker ended: its own child's exit status, else (a
        forked worker) gone after its run recorded an ending, or gone for DEATH_CONFIRM_S (a live
        worker was once judged gone under load)."""
        proc = self._children.get(run_id)
        started = self.store.run(run_id)["pid_started"]

        def ended() -> bool:
            if proc is not None:
                return proc.poll() is not None
            alive = process_alive(pid, started)
            if not alive and self.store.run(run_id)["status"] not in (RunStatus.RUNNING, RunStatus.QUEUED):
                return True
            return self._gone_for_sure(run_id, alive)

        return ended

    # ---- watching ----
    def refresh(self) -> None:
        """Reap finished children, mark runs whose process died as failed, kill runs that ignore a
        stop, and start the next queued run. Safe to call often, from any process."""
        with self._lock:
            self._reap()
            for run in self.store.runs((RunStatus.RUNNING,)):
                self._check_running(run)
            nxt = self.store.claim_next_queued()
            if nxt:
                try:
                    self._spawn(nxt)
                except OSError as err:
                    self._end(nxt["id"], RunStatus.FAILED, f"Could not start the run's process: {err}")

    def _reap(self) -> None:
        """Collect the exit of workers this process started itself (forked ones the launcher reaps)."""
        for run_id, proc in list(self._children.items()):
            if proc.poll() is not None:
                del self._children[run_id]

    def _end(self, run_id: str, status: RunStatus, error: str) -> None:
        """Record how a run ended, unless its worker already recorded it."""
        self.store.update_run_if(run_id, (RunStatus.RUNNING,), status=str(status), finished=time.time(), error=error)

    def _check_running(self, run: dict) -> None:
        if run["pid"] is None:
            if time.time() - (run["started"] or 0) > 30:
                self._end(run["id"], RunStatus.FAILED, "The run's process never started.")
            return
        alive = process_alive(run["pid"], run["pid_started"])
        if alive and run["stop_requested"] and time.time() - run["stop_requested"] > STOP_GRACE_S:
            self._kill(run["pid"])
            self._end(run["id"], RunStatus.STOPPED, "Did not stop within a minute, so it was killed; "
                                                    "what it had saved before is kept.")
            return
        if self._gone_for_sure(run["id"], alive):
            self._seen_dead.pop(run["id"], None)
            self._end(run["id"], RunStatus.FAILED, "The run's process ended unexpectedly (killed or crashed). "
                                                   "The end of its log is shown below.")

    def _gone_for_sure(self, run_id: str, alive: bool) -> bool:
        """Whether a worker found gone (`alive` False now) has stayed gone for DEATH_CONFIRM_S: a
        live worker was once judged gone under load (it went on to finish), and a worker that just
        ended records its own ending meanwhile."""
        if alive:
            self._seen_dead.pop(run_id, None)
            return False
        return time.time() - self._seen_dead.setdefault(run_id, time.time()) >= DEATH_CONFIRM_S

    @staticmethod
    def _kill(pid: int) -> None:
        try:
            os.killpg(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    def start_monitor(self, interval: float = 2.0) -> None:
        """Keep the queue moving while the app runs, whether or not a page is open."""
        if self._monitor and self._monitor.is_alive():
            return

        def loop() -> None:
            while True:
                try:
                    self.refresh()
                except Exception:  # noqa: BLE001 - the monitor must outlive a bad moment (e.g. a locked db)
                    pass
                time.sleep(interval)

        self._monitor = threading.Thread(target=loop, daemon=True, name="job-monitor")
        self._monitor.start()

    # ---- recovering ----
    def recover_lost_runs(self) -> int:
        """Runs whose folder is in runs/ but whose record is not in the database (an emptied or
        replaced playground.db) are listed again, with the ending their events recorded."""
        if not self.runs_dir.is_dir():
            return 0
        known = self.store.run_ids()
        recovered = 0
        for folder in sorted(self.runs_dir.iterdir()):
            if not folder.is_dir() or folder.name in known or folder.name.startswith("."):
                continue
            row = _row_from_folder(folder)
            if row:
                self.store.import_run(row)
                recovered += 1
        return recovered

    # ---- acting on runs ----
    def get(self, run_ref: str) -> dict:
        """A run by id, or by name (the newest run of that name)."""
        run = self.store.find(run_ref)
        if run is None:
            raise PlaygroundError(f"No run '{run_ref}'. `python -m playground runs list` shows them.")
        return run

    def cancel(self, run_ref: str) -> str:
        run = self.get(run_ref)
        if self.store.update_run_if(run["id"], (RunStatus.QUEUED,), status=RunStatus.CANCELLED.value,
                                    finished=time.time()):
            return f"Run '{run['name']}' was removed from the queue."
        if self.store.update_run_if(run["id"], (RunStatus.RUNNING,), stop_requested=time.time()):
            (Path(run["run_dir"]) / STOP_FILE).touch()
            started = any(e["type"] == "train_begin" for e in self.events(run["id"])[0])
            if started:
                return f"Stopping '{run['name']}': it saves what it has learned so far and ends within a few seconds."
            return f"Stopping '{run['name']}' before it started: nothing is saved."
        run = self.get(run["id"])
        raise PlaygroundError(f"Run '{run['name']}' is {run['status']}: there is nothing to stop.")

    def delete(self, run_ids: list[str]) -> list[dict]:
        """Remove ended runs from the list with their run folders (logs, events, checkpoints).
        Their results in the adapters folder are kept. Queued or running runs can't be removed."""
        runs = [r for r in map(self.store.run, run_ids) if r]
        active = [r["name"] for r in runs if r["status"] in ACTIVE]
        if active:
            raise PlaygroundError(f"{', '.join(active)} is still queued or running: stop it first.")
        hidden = []
        for run in runs:  # an ended run never becomes active again, so its folder can go first
            folder = Path(run["run_dir"])
            if folder.parent == self.runs_dir and folder.is_dir():  # never anything outside runs/
                hidden.append(folder.rename(folder.with_name(f".removed-{folder.name}")))  # recovery skips dot-folders
        removed = self.store.delete_runs([r["id"] for r in runs])
        for folder in hidden:
            shutil.rmtree(folder, ignore_errors=True)
        return removed

    def clear_ended(self) -> list[dict]:
        return self.delete([r["id"] for r in self.store.runs(tuple(ENDED))])

    def events(self, run_ref: str, offset: int = 0) -> tuple[list[dict], int]:
        return read_events(Path(self.get(run_ref)["run_dir"]) / EVENTS_FILE, offset)

    def log_tail(self, run_ref: str, lines: int = 40) -> str:
        path = Path(self.get(run_ref)["run_dir"]) / LOG_FILE
        if not path.exists():
            return ""
        with open(path, "rb") as f:
            f.seek(max(0, path.stat().st_size - 64_000))
            text = f.read().decode("utf-8", errors="replace")
        return "\n".join(text.splitlines()[-lines:])


def _row_from_folder(folder: Path) -> dict | None:
    """A run's database row rebuilt from its folder: meta.json (or, for older runs, recipe.yaml)
    and how its events say it ended."""
    try:
        meta = json.loads((folder / META_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        meta = {}
    try:
        import yaml

        recipe = yaml.safe_load((folder / RECIPE_FILE).read_text(encoding="utf-8")) or {}
    except (OSError, ValueError):
        recipe = {}
    if not meta and not recipe:
        return None
    events, _ = read_events(folder / EVENTS_FILE)
    ending = next((e for e in reversed(events) if e["type"] in ("done", "error")), None)
    if ending and ending["type"] == "done":
        status, error, output_dir = ending.get("status", "finished"), None, ending.get("output_dir")
    else:
        status, output_dir = RunStatus.FAILED.value, None
        error = (ending or {}).get("message") or "The run's record was lost from the database before it ended."
    times = attempt_times(events)
    return {"id": folder.name, "name": meta.get("name") or recipe.get("output_name") or folder.name,
            "kind": meta.get("kind", "sft"), "output": meta.get("output", "adapter"),
            "method": meta.get("method", recipe.get("method")), "base_model": meta.get("base_model", recipe.get("base_model")),
            "status": status, "recipe": recipe, "run_dir": str(folder), "output_dir": output_dir,
            "created": meta.get("created") or times["first_started"] or folder.stat().st_mtime, **times,
            "error": error, "created_by": meta.get("created_by", "")}
