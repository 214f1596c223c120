"""What every TRL training kind does around `trainer.train()`: stop cleanly when asked (mid-step
on a single process), measure again on the held-out data, and report time and peak memory."""

from __future__ import annotations

import time
from collections.abc import Callable

from playground.training.callbacks import RunEvents, StopRequested, memory_mb


def numbers(metrics: dict) -> dict:
    return {k: v for k, v in metrics.items() if isinstance(v, (int, float))}


def train_and_measure(trainer, events: RunEvents, num_processes: int, before: dict,
                      measure: Callable[[dict], dict] | None = numbers) -> tuple[dict, str]:
    """(metrics, status): `before` + the trainer's own numbers + measure(trainer.evaluate()) after
    training (skipped when stopped, or when measure is None). Stopped mid-step, the weights are
    those of the last completed step."""
    if num_processes == 1:  # with several processes, one leaving mid-step would hang the others
        events.interrupt_steps(trainer.model)
    started = time.time()
    try:
        result = trainer.train()  # TRL's online trainers (PPO) return nothing
        metrics = before | numbers(getattr(result, "metrics", None) or {})
    except StopRequested:
        metrics = before | {"stopped_at_step": trainer.state.global_step}
    if measure is not None and not events.stop_requested:
        metrics.update(measure(trainer.evaluate()))
    metrics["train_seconds"] = time.time() - started
    metrics["peak_memory_mb"] = memory_mb()
    return metrics, "stopped" if events.stop_requested else "finished"
