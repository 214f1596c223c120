"""Starts run workers from a process that has already imported the heavy libraries.

A run's process spends ~9 s importing torch, transformers, peft, trl and datasets on a CPU
before it does anything (measured: a 30-step LoRA run of the tiny model took 12 s, 9 of them
imports). The launcher imports them once, then forks one worker per run: the run starts at once.

A forked worker is what `python -m playground.worker RUN_DIR` would be: its own session (so it is
stopped and killed as a process group, and outlives the app), its working folder, environment and
log file. Only third-party libraries are imported before the fork; the playground's own modules
load in the worker, which reads its settings from its own environment. Environment variables that
those libraries read when imported (HF_HUB_OFFLINE, OMP_NUM_THREADS, ...) must be the same, so a
launcher serves only requests whose such variables match its own.

Not used where a GPU may be visible (CUDA does not survive a fork of a process that touched it,
and importing bitsandbytes does), off Linux (macOS can't fork safely once libraries started
threads), for runs of several processes (`accelerate launch`), or with PLAYGROUND_PRELOAD_WORKERS=0.

`python -m playground.launcher` is the launcher itself: it reads one JSON request per line on
stdin ({"argv", "cwd", "env", "log"}) and answers {"pid"} or {"error"} on stdout; it exits when
stdin closes (the app ended)."""

from __future__ import annotations

import atexit
import importlib
import io
import json
import os
import select
import signal
import subprocess
import sys
import threading
from pathlib import Path

PRELOAD = ("torch", "transformers", "transformers.trainer", "peft", "datasets", "accelerate", "trl",
           "trl.trainer.sft_trainer", "trl.trainer.dpo_trainer", "trl.trainer.reward_trainer")
GPU_DEVICE_FILES = ("/dev/nvidiactl", "/dev/kfd", "/dev/dxg")  # NVIDIA, AMD ROCm, WSL
READY_TIMEOUT_S = 120.0  # how long a caller that chose to wait waits for the imports
REPLY_TIMEOUT_S = 30.0  # a fork, once ready


class LauncherUnavailable(Exception):
    """The launcher could not start a worker; start it the plain way."""


def wanted(processes: int = 1) -> bool:
    """Whether runs should start through a launcher on this machine."""
    if os.environ.get("PLAYGROUND_PRELOAD_WORKERS", "1").strip().lower() in ("0", "false", "no", "off"):
        return False
    return sys.platform == "linux" and processes <= 1 and not any(os.path.exists(f) for f in GPU_DEVICE_FILES)


# variables the preloaded libraries read when imported (others, like PLAYGROUND_*, are read later)
IMPORT_TIME_VARIABLES = ("HF_", "HUGGINGFACE_", "TRANSFORMERS_", "TORCH_", "PYTORCH_", "CUDA_", "OMP_", "MKL_",
                         "TOKENIZERS_", "DATASETS_", "ACCELERATE_", "BNB_", "TRL_", "PEFT_", "PYTHON", "XDG_", "HOME")


def _import_environment(env: dict) -> tuple:
    return tuple(sorted((k, v) for k, v in env.items() if k.startswith(IMPORT_TIME_VARIABLES)))


class Launcher:
    """The app's handle on one launcher process. It says "ready" once its imports are done; until
    then a request is answered at once with LauncherUnavailable (the run starts the plain way)
    unless the caller chose to wait."""

    def __init__(self, cwd: Path, env: dict):
        self.key = (str(cwd), _import_environment(env))
        self._lock = threading.Lock()
        self.ready = False
        self.proc = subprocess.Popen([sys.executable, "-m", "playground.launcher"], cwd=cwd, env=env,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def _answer(self, timeout: float) -> dict | None:
        """The launcher's next line, or None when none came within `timeout` seconds."""
        readable, _, _ = select.select([self.proc.stdout], [], [], timeout)
        if not readable:
            return None
        line = self.proc.stdout.readline()
        try:
            return json.loads(line)
        except ValueError:
            return {"error": "it ended" if not line else f"unreadable answer {line[:200]!r}"}

    def _check_ready(self, timeout: float) -> bool:
        """Whether the imports are done (waiting up to `timeout` s for the launcher to say so)."""
        if not self.ready:
            hello = self._answer(timeout)
            if hello is not None and not hello.get("ready"):
                raise LauncherUnavailable(hello.get("error", "not ready"))
            self.ready = hello is not None
        return self.ready

    def wait_until_ready(self, timeout: float = READY_TIMEOUT_S) -> bool:
        with self._lock:
            try:
                return self._check_ready(timeout)
            except LauncherUnavailable:
                self._close()
                return False

    def start(self, argv: list[str], cwd: Path, env: dict, log: Path, wait: bool = False) -> int:
        """Fork a worker running `python argv...`; returns its pid. `wait`: for the imports too."""
        request = json.dumps({"argv": argv, "cwd": str(cwd), "env": env, "log": str(log)}) + "\n"
        with self._lock:
            try:
                if not self._check_ready(READY_TIMEOUT_S if wait else 0):
                    raise LauncherUnavailable("still importing")
                self.proc.stdin.write(request.encode())
                self.proc.stdin.flush()
                reply = self._answer(REPLY_TIMEOUT_S) or {"error": "no answer"}
                if "pid" not in reply:
                    raise LauncherUnavailable(reply.get("error", "no pid"))
                return int(reply["pid"])
            except LauncherUnavailable as err:
                if str(err) != "still importing":
                    self._close()
                raise
            except BaseException as err:  # a broken pipe, or an interrupt between a request and its answer:
                self._close()  # this launcher's answers can't be matched to requests any more
                if isinstance(err, OSError):
                    raise LauncherUnavailable(str(err)) from err
                raise

    def close(self) -> None:
        with self._lock:
            self._close()

    def _close(self) -> None:
        if self.alive():
            self.proc.kill()
            self.proc.wait()
        self.proc.stdin.close()
        self.proc.stdout.close()


_launchers: dict[tuple, Launcher] = {}
_registry_lock = threading.Lock()


def launcher_for(cwd: Path, env: dict) -> Launcher:
    """The running launcher for this working folder and environment; a new one (which starts
    importing at once) if there is none. One at a time: a launcher of another environment is ended."""
    key = (str(cwd), _import_environment(env))
    with _registry_lock:
        current = _launchers.get(key)
        if current and current.alive():
            return current
        for other in _launchers.values():
            other.close()
        _launchers.clear()
        _launchers[key] = Launcher(cwd, env)
        return _launchers[key]


def current() -> Launcher | None:
    """The launcher that starts runs now, if one is running."""
    with _registry_lock:
        return next((known for known in _launchers.values() if known.alive()), None)


def start_worker(argv: list[str], cwd: Path, env: dict, log: Path, wait: bool = False) -> int:
    """Start `python argv...` as a forked worker; raises LauncherUnavailable when that fails (or, unless
    `wait`, while the launcher is still importing)."""
    return launcher_for(cwd, env).start(argv, cwd, env, log, wait)


@atexit.register
def close_all() -> None:
    with _registry_lock:
        for launcher in _launchers.values():
            launcher._close()  # without its lock: at exit, a thread may hold it while it waits
        _launchers.clear()


# ---- the launcher process ----

def _become_worker(request: dict) -> None:
    """In the forked child: take the request's session, folder, environment and log, then run
    `python -m module args` as the interpreter would. Never returns."""
    code = 1
    try:
        os.setsid()
        for sig in (signal.SIGCHLD, signal.SIGTERM):  # SIGPIPE stays ignored, as Python starts with it
            signal.signal(sig, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        log = os.open(request["log"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(log, 1)
        os.dup2(log, 2)
        os.close(log)
        os.close(null)
        # unbuffered, as PYTHONUNBUFFERED=1 makes a fresh worker: its log is read while it runs
        sys.stdout = io.TextIOWrapper(io.FileIO(1, "w", closefd=False), encoding="utf-8", errors="backslashreplace",
                                      write_through=True)
        sys.stderr = io.TextIOWrapper(io.FileIO(2, "w", closefd=False), encoding="utf-8", errors="backslashreplace",
                                      write_through=True)
        sys.stdin = open(0, encoding="utf-8", closefd=False)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        argv = request["argv"]
        if argv[:1] != ["-m"] or len(argv) < 2:
            raise ValueError(f"only `-m module` commands are started here, not {argv}")
        sys.argv = [argv[1], *argv[2:]]
        sys.path[0] = request["cwd"]  # as `python -m` puts the working folder first
        import runpy

        try:
            runpy.run_module(argv[1], run_name="__main__", alter_sys=True)
            code = 0
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
    except BaseException:  # noqa: BLE001 - report it in the run's log, as a fresh process would
        import traceback

        traceback.print_exc()
    finally:
        try:
            threading._shutdown()  # as the interpreter ends: wait for non-daemon threads (a Hub upload, say)
            atexit._run_exitfuncs()
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


def serve() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C in a terminal is the app's (or CLI's) to handle
    # answers go through a descriptor of their own: whatever a library prints never reaches the app as one
    replies = os.fdopen(os.dup(1), "wb", buffering=0)
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 1)
    os.close(null)
    for module in PRELOAD:
        try:
            importlib.import_module(module)
        except Exception:  # noqa: BLE001 - a missing optional library loads (and fails) in the worker
            pass
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # ended workers are reaped by the system (after the imports,
    # which may run a subprocess of their own and wait for it)
    replies.write(b'{"ready": true}\n')
    for line in sys.stdin.buffer:
        try:
            request = json.loads(line)
            pid = os.fork()
        except (ValueError, OSError) as err:
            replies.write((json.dumps({"error": str(err)}) + "\n").encode())
            continue
        if pid == 0:
            replies.close()
            _become_worker(request)
        replies.write((json.dumps({"pid": pid}) + "\n").encode())


if __name__ == "__main__":
    serve()
