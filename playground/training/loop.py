"""What every TRL training kind does around `trainer.train()`: stop cleanly when asked (mid-step
on a single process), measure again on the held-out data, and report time and peak memory."""

from __future__ import annotations

import gc
import time
from collections.abc import Callable

from playground.training.callbacks import RunEvents, StopRequested, memory_mb


def numbers(metrics: dict) -> dict:
    return {k: v for k, v in metrics.items() if isinstance(v, (int, float))}


def starting_point(writer, resume: bool, carried: dict | None, measure: Callable[[], dict] | None, what: str) -> dict:
    """The `*_before` numbers a run reports its change against: measured now (`what` says what, on
    the page), or, when the run resumes, the ones it measured before it stopped."""
    if resume:
        writer.write("status", message="Resuming from the last checkpoint")
        return {k: v for k, v in (carried or {}).items() if k.endswith("_before")}
    if measure is None:
        return {}
    writer.write("status", message=f"Measuring {what} before training")
    return measure()


def freeze_what_lives_on() -> None:
    """Leave everything made so far (libraries, model, data: ~500,000 objects that live as long as the
    run) out of the garbage collector's full passes. TRL's PPO calls gc.collect() twice per update:
    each pass walked all of them (0.3 s), 73% of a PPO run's time on the tiny model. Cycles made
    while training are still collected."""
    gc.collect()  # what is garbage now is freed, not kept forever
    gc.freeze()


def stopped_at(trainer) -> dict:
    """Where a stopped run stands, for its row in the runs tables ("stopped at 79/300")."""
    return {"stopped_at_step": trainer.state.global_step, "max_steps": trainer.state.max_steps}


def whole_run_loss(log_history: list[dict], resumed_from: int, resumed_mean: float, last_step: int) -> float:
    """A resumed run's mean training loss over all its steps (the trainer's covers only the steps
    since the resume): the losses logged before `resumed_from` (each the mean since the log before
    it, weighted by the steps it covers), then the resumed steps' mean. Steps trained after their
    last log and before the stop are left out: no loss of theirs was kept."""
    total, counted, previous = 0.0, 0, 0
    for entry in log_history:
        step = entry.get("step", 0)
        if "loss" in entry and previous < step <= resumed_from:
            total, counted, previous = total + entry["loss"] * (step - previous), counted + step - previous, step
    resumed = max(last_step - resumed_from, 0)
    return (total + resumed_mean * resumed) / max(counted + resumed, 1)


def train_and_measure(trainer, events: RunEvents, num_processes: int, before: dict,
                      measure: Callable[[dict], dict] | None = numbers, resume: bool = False,
                      checkpoint_on_stop: bool = False) -> tuple[dict, str]:
    """(metrics, status): `before` + the trainer's own numbers + measure(trainer.evaluate()) after
    training (skipped when stopped, or when measure is None). Stopped mid-step, the weights are
    those of the last completed step, and with `checkpoint_on_stop` they are saved as a checkpoint
    (with the optimizer), so that `resume` continues from it."""
    if num_processes == 1:  # with several processes, one leaving mid-step would hang the others
        events.interrupt_steps(trainer.model)
    freeze_what_lives_on()
    started = time.time()
    try:
        # TRL's online trainers (PPO) take no resume argument and return nothing
        result = trainer.train(resume_from_checkpoint=True) if resume else trainer.train()
        metrics = before | numbers(getattr(result, "metrics", None) or {})
        resumed_from = getattr(trainer, "_initial_global_step", 0)  # transformers' own record of where it resumed
        if resume and resumed_from and "train_loss" in metrics:
            metrics["train_loss"] = whole_run_loss(trainer.state.log_history, resumed_from, metrics["train_loss"],
                                                   trainer.state.global_step)
        if events.stop_requested:  # stopped between two steps: training ended by itself (and checkpointed)
            metrics |= stopped_at(trainer)
    except StopRequested:
        metrics = before | stopped_at(trainer)
        if checkpoint_on_stop and trainer.state.global_step > 0:
            trainer.optimizer.zero_grad(set_to_none=True)  # the interrupted step's partial gradients
            trainer._save_checkpoint(trainer.model, trial=None)  # Trainer's own format, what resume reads
            events.writer.write("checkpoint", step=trainer.state.global_step)
    finally:
        events.release_steps()
    if measure is not None and not events.stop_requested:
        metrics.update(measure(trainer.evaluate()))
    metrics["train_seconds"] = time.time() - started
    metrics["peak_memory_mb"] = memory_mb()
    return metrics, "stopped" if events.stop_requested else "finished"
