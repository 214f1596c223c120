"""A TrainerCallback that appends each logged step to the run's events.jsonl (read by the UI by
byte offset) and stops the run when asked (playground.runs.StopWatcher: a STOP file or SIGTERM)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from transformers import TrainerCallback

from playground.runs import EventWriter, StopWatcher
from playground.training.blocks import blocks


def memory_mb() -> float:
    """Peak memory of this run so far: the GPU's allocations, else the process's peak resident size
    (which includes the Python runtime and libraries, a few hundred MB)."""
    import torch

    from playground.zero_gpu import compute_on_cuda

    if compute_on_cuda():
        return torch.cuda.max_memory_allocated() / 2**20
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**10  # KiB on Linux


class StopRequested(Exception):
    """Raised inside a forward or backward pass when a stop is asked mid-step (single process)."""


class RunEvents(TrainerCallback):
    """Records progress and stops the run when asked. A stop is seen within half a second (a
    watcher thread polls the STOP file); with `interrupt_steps`, hooks on the decoder layers end a
    long step right away, leaving the weights of the last completed step, instead of waiting for
    the step to finish (a step of a real model on a CPU can take a minute)."""

    def __init__(self, run_dir: Path, writer: EventWriter, stop_event: threading.Event | None = None,
                 checkpoint_minutes: float | None = None):
        self.run_dir = Path(run_dir)
        self.writer = writer
        self.stop_event = stop_event if stop_event is not None else StopWatcher(run_dir).event
        self._start = self._last_time = self._last_checkpoint = time.time()
        self._last_tokens = 0
        self._first_step = 0  # where this process's training started (a resumed run's checkpoint step)
        # None: no checkpoints of its own (a kind that can't resume); 0: only when stopped (a 7B full
        # fine-tune's checkpoint with its AdamW state is ~45 GB); else by the clock and at the last step,
        # so a crash while measuring or saving after training loses no training
        self.checkpoint_s = (checkpoint_minutes or 0) * 60
        self.checkpoint_at_end = bool(checkpoint_minutes)
        self._hooks: list = []

    @property
    def stop_requested(self) -> bool:
        return self.stop_event.is_set()

    def _should_stop(self) -> bool:
        return self.stop_event.is_set()

    def interrupt_steps(self, model) -> None:
        """Make every transformer block (decoder layers; an encoder-decoder model's blocks, such as
        T5Block, as the model names them in _no_split_modules) check for a stop in the forward and
        the backward pass."""

        def check(*_):
            if self.stop_event.is_set():
                raise StopRequested()

        for block in blocks(model):
            self._hooks += [block.register_forward_pre_hook(check), block.register_full_backward_pre_hook(check)]

    def release_steps(self) -> None:
        """Take the hooks off: after training, a stopped run's model still scores and saves."""
        for hook in self._hooks:
            hook.remove()
        self._hooks = []

    def on_train_begin(self, args, state, control, **kwargs):
        self._start = self._last_time = time.time()
        self._last_tokens = state.num_input_tokens_seen  # a resumed run's count goes on from there (GRPO, RLOO)
        self._first_step = state.global_step
        self.writer.write("train_begin", max_steps=state.max_steps)

    def on_step_end(self, args, state, control, **kwargs):
        elapsed = time.time() - self._start
        done_here = state.global_step - self._first_step  # a resumed run's pace is of the steps since it resumed
        eta = elapsed / done_here * (state.max_steps - state.global_step) if done_here > 0 else None
        self.writer.write("progress", step=state.global_step, max_steps=state.max_steps, elapsed_s=elapsed, eta_s=eta)
        if self._should_stop():
            control.should_training_stop = True
            control.should_save = True
        elif self.checkpoint_s and time.time() - self._last_checkpoint >= self.checkpoint_s:
            control.should_save = True
        elif self.checkpoint_at_end and state.global_step >= state.max_steps:
            control.should_save = True
        return control

    def on_save(self, args, state, control, **kwargs):
        self._last_checkpoint = time.time()
        self.writer.write("checkpoint", step=state.global_step)

    def on_log(self, args, state, control, logs=None, **kwargs):
        logs = dict(logs or {})
        now = time.time()
        # non-padding tokens so far: TRL's SFTTrainer logs "num_tokens"; a Trainer told to count, the other
        tokens = logs.pop("num_input_tokens_seen", logs.get("num_tokens"))
        if tokens is not None and tokens > self._last_tokens and now > self._last_time:  # (not an evaluation's log)
            logs["tokens_per_s"] = (tokens - self._last_tokens) / (now - self._last_time)
            self._last_tokens, self._last_time = tokens, now
        logs = {k: v for k, v in logs.items() if isinstance(v, (int, float))}
        self.writer.write("log", **{"step": state.global_step, "epoch": state.epoch, "memory_mb": memory_mb(), **logs})
