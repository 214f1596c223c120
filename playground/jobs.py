"""Background runs: each in its own process (never the UI's), one at a time, the rest queued in
order. State lives in SQLite and the run folder, not in a browser session, so a closed tab or an
app restart loses nothing: the app re-attaches, and a run whose process died is marked failed.

Run folder (PLAYGROUND_HOME/runs/<id>/): recipe.yaml, events.jsonl (one JSON object per line,
read by byte offset), log.txt (the process's output), STOP (asks the run to stop), output/."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

from playground.errors import PlaygroundError
from playground.settings import PROJECT_ROOT, Settings
from playground.store import Store
from playground.training.recipes import Recipe, check_output_name

STOP_FILE = "STOP"  # its presence in a run folder asks the run to stop (checked after every step)
STOP_GRACE_S = 60  # after this, a run asked to stop is killed


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


def read_events(path: Path, offset: int = 0) -> tuple[list[dict], int]:
    """Complete lines after byte `offset`, and the offset to read from next time."""
    try:
        with open(path, "rb") as f:
            f.seek(offset)
            chunk = f.read()
    except FileNotFoundError:
        return [], offset
    end = chunk.rfind(b"\n") + 1
    events = [json.loads(line) for line in chunk[:end].splitlines() if line.strip()]
    return events, offset + end


def default_output_name(recipe: Recipe) -> str:
    base = Path(recipe.base_model.rstrip("/")).name.split("/")[-1].replace(" ", "-")[:30] or "model"
    base = "".join(c for c in base if c.isalnum() or c in "._-") or "model"
    return f"{recipe.method}-{base}-{time.strftime('%Y%m%d-%H%M%S')}"


class JobManager:
    def __init__(self, settings: Settings, store: Store | None = None):
        self.settings = settings
        self.store = store or Store(settings.home / "playground.db")
        self.runs_dir = settings.home / "runs"
        self._children: dict[str, subprocess.Popen] = {}
        self._lock = threading.Lock()
        self._monitor: threading.Thread | None = None

    # ---- submitting ----
    def prepare(self, recipe: Recipe, overwrite: bool = False, status: str = "queued") -> dict:
        """Validate, pick the output name, write the run folder and record the run (queued, or
        running for a run the caller starts itself)."""
        from playground.models import ModelManager
        from playground.training.sft_data import build_splits

        name = recipe.output_name or default_output_name(recipe)
        check_output_name(name)
        ModelManager(self.settings).resolve(recipe.base_model)  # an unknown model starts nothing
        if recipe.report_to != "none":
            import importlib.util

            if importlib.util.find_spec(recipe.report_to) is None:
                raise PlaygroundError(f"report_to: {recipe.report_to} needs the '{recipe.report_to}' package: "
                                      f"pip install {recipe.report_to}, or choose none.")
        build_splits(recipe)  # nor do missing columns, empty data or a bad template
        taken = [r for r in self.store.runs(("queued", "running")) if r["name"] == name]
        if taken:
            raise PlaygroundError(f"A run named '{name}' is already {taken[0]['status']}: choose another output name.")
        if (self.settings.adapters_dir / name).exists() and not overwrite:
            raise PlaygroundError(f"An adapter named '{name}' already exists in {self.settings.adapters_dir}. "
                                  "Choose another output name, or confirm overwriting it.")
        run_id = time.strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6]
        run_dir = self.runs_dir / run_id
        run_dir.mkdir(parents=True)
        values = recipe.to_dict() | {"output_name": name}
        import yaml

        (run_dir / "recipe.yaml").write_text(yaml.safe_dump(values, sort_keys=False), encoding="utf-8")
        (run_dir / "overwrite").write_text("1" if overwrite else "0")
        self.store.add_run(run_id, name, recipe.method, recipe.base_model, values, str(run_dir), status=status)
        if status == "running":
            self.store.update_run(run_id, started=time.time())
        return self.store.run(run_id)

    def submit(self, recipe: Recipe, overwrite: bool = False) -> dict:
        run = self.prepare(recipe, overwrite)
        self.refresh()
        return self.store.run(run["id"])

    def command(self, run: dict) -> list[str]:
        processes = int(run["recipe"].get("num_processes", 1))
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

    def _spawn(self, run: dict) -> subprocess.Popen:
        import psutil

        run_dir = Path(run["run_dir"])
        env = {**os.environ, "PLAYGROUND_HOME": str(self.settings.home),
               "PLAYGROUND_ADAPTERS": str(self.settings.adapters_dir), "PYTHONUNBUFFERED": "1",
               "PYTHONPATH": os.pathsep.join(filter(None, [str(PROJECT_ROOT), os.environ.get("PYTHONPATH")]))}
        with open(run_dir / "log.txt", "ab") as log:
            proc = subprocess.Popen(self.command(run), cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, start_new_session=True)
        self._children[run["id"]] = proc
        self.store.update_run(run["id"], pid=proc.pid, pid_started=psutil.Process(proc.pid).create_time())
        return proc

    def run_foreground(self, recipe: Recipe, overwrite: bool = False, on_events=None) -> dict:
        """Start a run now (not through the queue) and wait for it; on_events(events) sees its progress."""
        run = self.prepare(recipe, overwrite, status="running")
        proc = self._spawn(run)
        offset = 0
        try:
            while True:
                events, offset = self.events(run["id"], offset)
                if events and on_events:
                    on_events(events)
                if proc.poll() is not None:
                    break
                time.sleep(0.3)
        except KeyboardInterrupt:
            self.cancel(run["id"])
            proc.wait()
        events, offset = self.events(run["id"], offset)
        if events and on_events:
            on_events(events)
        self.refresh()
        return self.store.run(run["id"])

    # ---- watching ----
    def refresh(self) -> None:
        """Reap finished children, mark runs whose process died as failed, kill runs that ignore a
        stop, and start the next queued run. Safe to call often, from any process."""
        with self._lock:
            for run_id, proc in list(self._children.items()):
                if proc.poll() is not None:
                    del self._children[run_id]
            for run in self.store.runs(("running",)):
                self._check_running(run)
            nxt = self.store.claim_next_queued()
            if nxt:
                try:
                    self._spawn(nxt)
                except OSError as err:
                    self.store.update_run(nxt["id"], status="failed", finished=time.time(),
                                          error=f"Could not start the training process: {err}")

    def _check_running(self, run: dict) -> None:
        if run["pid"] is None:
            if time.time() - (run["started"] or 0) > 30:
                self.store.update_run(run["id"], status="failed", finished=time.time(),
                                      error="The training process never started.")
            return
        alive = process_alive(run["pid"], run["pid_started"])
        if alive and run["stop_requested"] and time.time() - run["stop_requested"] > STOP_GRACE_S:
            self._kill(run["pid"])
            self.store.update_run(run["id"], status="stopped", finished=time.time(),
                                  error="Did not stop within a minute, so it was killed; its last checkpoint is kept.")
            return
        if not alive:
            fresh = self.store.run(run["id"])
            if fresh and fresh["status"] == "running":  # the worker would have recorded its own ending
                self.store.update_run(run["id"], status="failed", finished=time.time(),
                                      error="The training process ended unexpectedly (killed or crashed). "
                                            "The end of its log is shown below.")

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

    # ---- acting on runs ----
    def get(self, run_ref: str) -> dict:
        run = self.store.run(run_ref)
        if run is None:
            raise PlaygroundError(f"No run '{run_ref}'. `python -m playground runs list` shows them.")
        return run

    def cancel(self, run_ref: str) -> str:
        run = self.get(run_ref)
        if run["status"] == "queued":
            self.store.update_run(run["id"], status="cancelled", finished=time.time())
            return f"Run '{run['name']}' was removed from the queue."
        if run["status"] != "running":
            raise PlaygroundError(f"Run '{run['name']}' is {run['status']}: there is nothing to stop.")
        (Path(run["run_dir"]) / STOP_FILE).touch()
        self.store.update_run(run["id"], stop_requested=time.time())
        return f"Stopping '{run['name']}': it saves its last state and ends within a few seconds."

    def events(self, run_ref: str, offset: int = 0) -> tuple[list[dict], int]:
        return read_events(Path(self.get(run_ref)["run_dir"]) / "events.jsonl", offset)

    def log_tail(self, run_ref: str, lines: int = 40) -> str:
        path = Path(self.get(run_ref)["run_dir"]) / "log.txt"
        if not path.exists():
            return ""
        with open(path, "rb") as f:
            f.seek(max(0, path.stat().st_size - 64_000))
            text = f.read().decode("utf-8", errors="replace")
        return "\n".join(text.splitlines()[-lines:])
