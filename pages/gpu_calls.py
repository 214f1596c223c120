"""The labs' computation, made where ZeroGPU lends a GPU (see playground/zero_gpu.py).

On a ZeroGPU Space a GPU exists only during a call of a function wrapped in `spaces.GPU`. Such a
call runs in a worker forked from the app (kept for the next call while it is idle), which moves
the models the app put "on cuda" onto the GPU it got; the arguments go there and the result comes
back pickled. So what runs inside is computation only: it is given a model's name and its
adapters (never the loaded model), finds them in its copy of the app's ModelManager (a worker
forked before the model was loaded loads it itself), and returns plain results. Loading with
progress, access checks, rate limits and database writes stay in the app's process. A refusal
(PlaygroundError) comes back as its message: `spaces` would turn it into "ZeroGPU worker error".

Everywhere else `run` and `stream` call the function on the loaded model directly."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from playground.errors import PlaygroundError
from playground.models import LoadedModel, ModelManager
from playground.zero_gpu import on_zero_gpu

GPU_SECONDS = 60  # what one call asks of ZeroGPU (a visitor's quota is counted in GPU seconds)

_models: ModelManager | None = None  # the app's, as a forked worker sees it
_gpu_run: Callable | None = None
_gpu_stream: Callable | None = None
_forked_in: int | None = None  # the process whose locks were last made fresh


def zero_gpu_decorator() -> Callable:
    import spaces  # installed on every Space; imported only here, where it patches torch

    return spaces.GPU(duration=GPU_SECONDS)


def use(models: ModelManager) -> None:
    """On ZeroGPU: send the labs' calls through spaces.GPU. Called as the app is built, before any
    model is loaded (`spaces` must patch torch first) and before launch (when it reports the
    Space's GPU functions)."""
    global _models, _gpu_run, _gpu_stream
    if not on_zero_gpu():
        return
    gpu = zero_gpu_decorator()
    _models, _gpu_run, _gpu_stream = models, gpu(_run_here), gpu(_stream_here)


def run(lm: LoadedModel, fn: Callable, *args, **kwargs):
    """fn(lm, *args, **kwargs), on ZeroGPU in a GPU call (fn: a module-level function, so that it
    can be named in another process)."""
    if _gpu_run is None:
        return fn(lm, *args, **kwargs)
    return _raised(_gpu_run(lm.ref, dict(lm.adapters), fn, args, kwargs))


def stream(lm: LoadedModel, fn: Callable, *args, stop_event=None, **kwargs) -> Iterator:
    """What fn(lm, *args, stop_event=..., **kwargs) yields, as `run` does. On ZeroGPU the event
    can't reach the worker: once it is set the stream is closed instead, which ends the worker's
    generation at its next step, and nothing more is yielded (no final result)."""
    if _gpu_stream is None:
        yield from fn(lm, *args, stop_event=stop_event, **kwargs)
        return
    updates = _gpu_stream(lm.ref, dict(lm.adapters), fn, args, kwargs)
    try:
        for update in updates:
            if stop_event is not None and stop_event.is_set():
                return
            yield _raised(update)
    finally:
        updates.close()


def _model_here(ref: str, adapters: dict[str, str]) -> LoadedModel:
    global _forked_in
    if _forked_in != os.getpid():
        _forked_in = os.getpid()
        _models.after_fork()
    lm = _models.get(ref)
    for name, folder in adapters.items():
        if lm.adapters.get(name) != folder:  # known to the app since this worker was forked
            lm.attach(name, folder)
    return lm


@dataclass(frozen=True)
class _Refused:
    message: str


def _raised(result):
    if isinstance(result, _Refused):
        raise PlaygroundError(result.message)
    return result


def _run_here(ref: str, adapters: dict[str, str], fn: Callable, args: tuple, kwargs: dict):
    try:
        return fn(_model_here(ref, adapters), *args, **kwargs)
    except PlaygroundError as err:
        return _Refused(str(err))


def _stream_here(ref: str, adapters: dict[str, str], fn: Callable, args: tuple, kwargs: dict) -> Iterator:
    try:
        yield from fn(_model_here(ref, adapters), *args, **kwargs)
    except PlaygroundError as err:
        yield _Refused(str(err))
