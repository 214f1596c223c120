"""A stand-in for the `spaces` package of a ZeroGPU Space, for tests on machines without one: what
the app relies on, done the way spaces 0.51.3 does it (zero/wrappers.py).

`GPU(duration=...)` wraps a function so that each call runs in a worker forked from the app, kept
for the next call while it is idle; arguments and result cross pickled (pickled at once, so a value
that can't be pickled fails the call, as there). A generator's items come back one by one; closing
the stream stops the worker's generator at its next item. An exception in the worker comes back as
gr.Error("<its class name>", title="ZeroGPU worker error"): its message is lost, as there. Each
call appends "<worker pid> <function>" to the file named by $ZERO_GPU_CALLS_LOG.

Where SPACES_ZERO_GPU is set, torch is patched as there in the whole app process: it says a GPU is
there (none is, here: anything that tries to use it fails, as it would in the app's handler threads
there), and a worker gets the real answer back.

Not emulated: the GPU itself, moving tensors "on cuda" in the main thread, Gradio's request context
in the worker (progress is not relayed), durations, quotas and scheduling."""

from __future__ import annotations

import inspect
import multiprocessing
import os
import pickle
import threading
import time
import traceback

_fork = multiprocessing.get_context("fork")

_cuda_available = None
if os.environ.get("SPACES_ZERO_GPU", "").lower() in ("1", "t", "true"):
    # bitsandbytes picks its backend from torch when imported: imported first, as its CUDA one can't
    # load on a CPU build of torch (on ZeroGPU torch is a CUDA build, and spaces patches bitsandbytes).
    import bitsandbytes  # noqa: F401
    import torch

    _cuda_available = torch.cuda.is_available
    torch.cuda.is_available = lambda: True


def disable_gradio_auto_wrap() -> None:
    pass


def GPU(task=None, *, duration=None, size=None):  # the real package's name
    if task is None:
        return _wrap
    return _wrap(task)


class _Worker:
    def __init__(self, task, generator: bool):
        self.requests, self.replies, self.stop = _fork.SimpleQueue(), _fork.SimpleQueue(), _fork.Event()
        self.process = _fork.Process(target=_serve, args=(task, generator, self.requests, self.replies, self.stop),
                                     daemon=True)
        self.process.start()


def _wrap(task):
    generator = inspect.isgeneratorfunction(task)
    idle: list[_Worker] = []
    lock = threading.Lock()

    def take() -> _Worker:
        with lock:
            while idle:
                worker = idle.pop()
                if worker.process.is_alive():
                    return worker
        return _Worker(task, generator)

    def call(*args, **kwargs):
        worker = take()
        worker.requests.put(pickle.dumps((args, kwargs)))
        kind, value = pickle.loads(worker.replies.get())
        idle.append(worker)
        return _value(kind, value)

    def stream(*args, **kwargs):
        worker = take()
        worker.requests.put(pickle.dumps((args, kwargs)))
        ended = False
        try:
            while True:
                kind, value = pickle.loads(worker.replies.get())
                if kind == "end":
                    ended = True
                    return
                yield _value(kind, value)
                if kind == "error":
                    return
        finally:
            if ended:
                idle.append(worker)
            else:  # closed early: the worker stops at its next item; this one is not reused
                worker.stop.set()

    return stream if generator else call


def _value(kind: str, value):
    if kind == "error":
        import gradio as gr

        raise gr.Error(value, title="ZeroGPU worker error")
    return value


def _exit_with(parent: int) -> None:
    """A worker ends with the app (a test stops it with SIGTERM, which skips multiprocessing's own
    clean-up of daemon children): it would otherwise hold the app's pipes, and its launcher, open."""
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(0)


def _close_app_sockets() -> None:
    """As spaces does in a new worker: a fork holds copies of the web server's sockets, which keeps
    each connection the app closes open for the browser (which then waits for one of its six
    connections to the host: a click stayed pending for a minute)."""
    import psutil

    for connection in psutil.Process().net_connections(kind="inet"):
        if connection.fd != -1:
            try:
                os.close(connection.fd)
            except OSError:
                pass


def _serve(task, generator, requests, replies, stop) -> None:
    import torch

    _close_app_sockets()
    threading.Thread(target=_exit_with, args=(os.getppid(),), daemon=True).start()

    if _cuda_available is not None:
        torch.cuda.is_available = _cuda_available  # the worker's own answer, as after spaces' unpatch
    while True:
        args, kwargs = pickle.loads(requests.get())
        stop.clear()
        if os.environ.get("ZERO_GPU_CALLS_LOG"):
            with open(os.environ["ZERO_GPU_CALLS_LOG"], "a", encoding="utf-8") as log:
                log.write(f"{os.getpid()} {task.__name__}\n")
        try:
            if generator:
                for item in task(*args, **kwargs):
                    if stop.is_set():
                        break
                    replies.put(pickle.dumps(("item", item)))
                replies.put(pickle.dumps(("end", None)))
            else:
                replies.put(pickle.dumps(("ok", task(*args, **kwargs))))
        except Exception as err:  # noqa: BLE001 - sent back as the real package does
            traceback.print_exc()
            replies.put(pickle.dumps(("error", type(err).__name__)))
