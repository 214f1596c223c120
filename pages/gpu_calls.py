"""The labs' computation, made where ZeroGPU lends a GPU (see playground/zero_gpu.py).

On a ZeroGPU Space a GPU exists only during a call of a function wrapped in `spaces.GPU`. Such a
call runs in a worker forked from the app (kept for the next call while it is idle); the arguments
go there and the result comes back pickled. So what runs inside is computation only: it is given a
model's name and its adapters (never the loaded model), finds them in its copy of the app's
ModelManager (a worker forked before the app loaded that model loads it itself), moves the model
onto its GPU once, and returns plain results. Loading with progress, access checks, rate limits and
database writes stay in the app's process. A refusal (PlaygroundError) comes back as its message:
`spaces` would turn it into "ZeroGPU worker error".

Everywhere else `run` and `stream` call the function on the loaded model directly."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from playground import generation
from playground.errors import PlaygroundError
from playground.models import LoadedModel, ModelManager
from playground.zero_gpu import on_zero_gpu

GPU_SECONDS = 60  # what a call asks of ZeroGPU unless told: a visitor whose quota has less left waits
FORWARD_SECONDS = 10  # one forward pass (the next-token chart), moving the model onto the GPU included
MAX_GPU_SECONDS = 120  # ZeroGPU refuses a call that asks for more than its maximum

_models: ModelManager | None = None  # the app's, as a forked worker sees it
_gpu_run: Callable | None = None
_gpu_stream: Callable | None = None


def zero_gpu_decorator() -> Callable:
    import spaces

    spaces.disable_gradio_auto_wrap()  # where a Space turns it on, every handler would run in a GPU worker
    return spaces.GPU(duration=_seconds_asked)


def use(models: ModelManager) -> None:
    """On ZeroGPU: send the labs' calls through spaces.GPU. Called as the app is built, before its
    events are defined and before launch (when `spaces` reports the Space's GPU functions)."""
    global _models, _gpu_run, _gpu_stream
    if not on_zero_gpu():
        return
    gpu = zero_gpu_decorator()
    _models, _gpu_run, _gpu_stream = models, gpu(_run_here), gpu(_stream_here)


def run(lm: LoadedModel, fn: Callable, *args, gpu_seconds: int = GPU_SECONDS, **kwargs):
    """fn(lm, *args, **kwargs), on ZeroGPU in a GPU call that asks for `gpu_seconds` (fn: a
    module-level function, so that it can be named in another process)."""
    if _gpu_run is None:
        return fn(lm, *args, **kwargs)
    return _raised(_gpu_run(lm.ref, dict(lm.adapters), fn, args, kwargs, min(gpu_seconds, MAX_GPU_SECONDS)))


def stream(lm: LoadedModel, fn: Callable, *args, stop_event=None, **kwargs) -> Iterator:
    """What fn(lm, *args, stop_event=..., **kwargs) yields, as `run` does. On ZeroGPU the event
    can't reach the worker: once it is set the stream is closed instead, which ends the worker's
    generation at its next step, and nothing more is yielded (so no final result, unless the last
    update was that)."""
    if _gpu_stream is None:
        yield from fn(lm, *args, stop_event=stop_event, **kwargs)
        return
    updates = _gpu_stream(lm.ref, dict(lm.adapters), fn, args, kwargs, GPU_SECONDS)
    try:
        for update in updates:
            yield _raised(update)
            if stop_event is not None and stop_event.is_set():
                return
    finally:
        updates.close()


def last_position_logits(lm: LoadedModel, ids: list[int], adapter: str | None):
    """generation.last_position_logits in a short call: the next-token chart asks for one forward
    pass per new prompt and keeps the logits in the app, so a slider change needs no GPU."""
    return run(lm, generation.last_position_logits, ids, adapter, gpu_seconds=FORWARD_SECONDS)


def _model_here(ref: str, adapters: dict[str, str]) -> LoadedModel:
    """In a worker: the app's model (on this worker's GPU) with the adapters the app knew."""
    import torch

    lm = _models.get(ref)
    for name, folder in adapters.items():
        if lm.adapters.get(name) != folder:  # known to the app since this worker was forked
            lm.attach(name, folder)
    if lm.device != "cuda" and torch.cuda.is_available():
        lm.model.to("cuda")
        lm.device = "cuda"
    return lm


@dataclass(frozen=True)
class _Refused:
    message: str


def _raised(result):
    if isinstance(result, _Refused):
        raise PlaygroundError(result.message)
    return result


def _seconds_asked(ref, adapters, fn, args, kwargs, seconds: int) -> int:
    return seconds


def _run_here(ref: str, adapters: dict[str, str], fn: Callable, args: tuple, kwargs: dict, seconds: int):
    try:
        return fn(_model_here(ref, adapters), *args, **kwargs)
    except PlaygroundError as err:
        return _Refused(str(err))


def _stream_here(ref: str, adapters: dict[str, str], fn: Callable, args: tuple, kwargs: dict, seconds: int) -> Iterator:
    try:
        yield from fn(_model_here(ref, adapters), *args, **kwargs)
    except PlaygroundError as err:
        yield _Refused(str(err))
