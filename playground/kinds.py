"""The registry of run kinds. Fine-tuning, and later evaluation, reward models, PPO, DPO, RLOO and
GRPO, are all runs: queued, watched, stopped and re-attached by the same job system. Each kind
declares, in its own file, a `RunKind`:

- its recipe class (`from_dict` parses and validates a recipe; `to_dict` writes it back);
- its check before launch (bad input starts nothing);
- the function its worker runs;
- what it produces and where that goes (`Output`).

Adding a kind is its own file plus one line in `KINDS`. Kinds are imported lazily, by name, so
the app does not pay for training libraries it has not used. Extensions (and tests) register
more with `register()`; the job system hands those registrations to its worker processes
through the PLAYGROUND_RUN_KINDS environment variable."""

from __future__ import annotations

import importlib
import json
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from playground.errors import PlaygroundError
from playground.runs import EventWriter
from playground.settings import Settings

ENV_EXTRA_KINDS = "PLAYGROUND_RUN_KINDS"

# kind name -> "module:attribute" of its RunKind. One line per kind.
KINDS: dict[str, str] = {
    "sft": "playground.training.sft_kind:KIND",
    "merge": "playground.merge_kind:KIND",
    "eval": "playground.evaluation.eval_kind:KIND",
    "reward": "playground.training.reward_kind:KIND",
    "dpo": "playground.training.direct_kind:DPO_KIND",
    "kto": "playground.training.direct_kind:KTO_KIND",
    "ppo": "playground.training.ppo_kind:KIND",
    "grpo": "playground.training.group_kind:GRPO_KIND",
    "rloo": "playground.training.group_kind:RLOO_KIND",
}

# `python -m playground train` recipes whose method is its own run kind; every other method is "sft".
TRAINING_KINDS: dict[str, str] = {name: name for name in ("reward", "dpo", "kto", "ppo", "grpo", "rloo")}


class Output(StrEnum):
    ADAPTER = "adapter"  # a model or adapter for generation: adapters/<name>, offered in the labs' pickers
    REWARD_MODEL = "reward_model"  # adapters/<name>, marked as a reward model, never offered for generation
    RESULT = "result"  # numbers kept in the database with the run (e.g. an evaluation): no folder

    @property
    def has_folder(self) -> bool:
        return self is not Output.RESULT


@dataclass
class RunContext:
    """What a kind's run function is given by the worker."""

    run_id: str
    name: str
    run_dir: Path
    settings: Settings
    writer: EventWriter
    stop: threading.Event  # set when the run is asked to stop
    resume: bool = False  # continue from the run's last checkpoint (a kind with `resumable`)
    carried: dict = field(default_factory=dict)  # the metrics the run had recorded before it was resumed

    @property
    def output_dir(self) -> Path:
        """Where a kind with a folder output writes it; the worker publishes it only when complete."""
        return self.run_dir / "output"


@dataclass
class Outcome:
    status: str  # "finished" or "stopped"
    metrics: dict = field(default_factory=dict)  # numbers shown with the run (losses, scores, ...)
    record: dict = field(default_factory=dict)  # extra fields for the result's run.json (e.g. trainable_params)
    model: Any = None  # the trained model, still in memory (for in-process callers and tests)


@dataclass(frozen=True)
class RunKind:
    name: str
    title: str
    output: Output
    recipe_class: type  # has from_dict(values) -> recipe and to_dict()
    check: Callable[[Any, Settings], list[str]]  # raises PlaygroundError; returns notes worth showing
    run: Callable[[Any, RunContext], Outcome]  # the worker's work; writes events through ctx.writer
    default_name: Callable[[Any], str]  # the stem of an automatic output name
    summary: Callable[[Any], dict] = lambda recipe: {}  # {"method": ..., "base_model": ...} for run lists
    write_card: Callable[[Path, dict], None] | None = None  # writes run.json / model card into the output folder
    resumable: bool = False  # a stopped or failed run continues from its last checkpoint (JobManager.resume)


_loaded: dict[str, RunKind] = {}
_lock = threading.Lock()


def _extra_from_env() -> dict[str, str]:
    try:
        extra = json.loads(os.environ.get(ENV_EXTRA_KINDS) or "{}")
    except ValueError:
        return {}
    return {str(k): str(v) for k, v in extra.items()} if isinstance(extra, dict) else {}


KINDS.update({k: v for k, v in _extra_from_env().items() if k not in KINDS})


def register(name: str, target: str) -> None:
    """Add a kind ("module:attribute" of its RunKind) to this process and to the workers it starts."""
    KINDS[name] = target
    extra = _extra_from_env() | {name: target}
    os.environ[ENV_EXTRA_KINDS] = json.dumps(extra)


def get(name: str) -> RunKind:
    with _lock:
        if name in _loaded:
            return _loaded[name]
        target = KINDS.get(name)
        if target is None:
            raise PlaygroundError(f"Unknown run kind '{name}': known kinds are {', '.join(sorted(KINDS))}.")
        module, _, attribute = target.partition(":")
        kind = getattr(importlib.import_module(module), attribute)
        if kind.name != name:
            raise PlaygroundError(f"Run kind '{name}' points at {target}, which is the kind '{kind.name}'.")
        _loaded[name] = kind
        return kind


def names() -> list[str]:
    return list(KINDS)
