"""What an evaluation compares, on what data, how it decodes and what it measures."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from playground import access, limits
from playground.errors import PlaygroundError
from playground.evaluation.scores import DEFAULT_METRICS, METRICS
from playground.runs import check_name
from playground.settings import DEFAULT_MODEL

BASE = "base"  # the name the untuned base model has in results
HELD_OUT = ""  # data left empty: the held-out test split written by the run behind the (first) adapter
DECODING_KEYS = ("max_new_tokens", "do_sample", "temperature", "top_k", "top_p", "repetition_penalty", "seed")
MAX_EXAMPLES = 5000
MAX_NEW_TOKENS = 1024


@dataclass
class TaskData:
    """One data set to evaluate on: a built-in name, a file or a Hub id, with its column mapping
    and the template that turns an input into a prompt. Empty data: the adapters' held-out split."""

    data: str = HELD_OUT
    split: str = "test"  # for Hub data sets
    input_column: str = ""
    output_column: str = ""
    template: str = "plain"  # sft_data.TEMPLATES or "custom"; the held-out split is already templated
    custom_template: str = ""

    def __post_init__(self) -> None:
        from playground.training.sft_data import TEMPLATES

        self.data = _absolute_if_file(self.data)
        _check(self.template in TEMPLATES or self.template == "custom",
               f"Unknown template '{self.template}': use one of {', '.join(TEMPLATES)} or custom.")

    @classmethod
    def from_value(cls, value) -> TaskData:
        if isinstance(value, TaskData):
            return value
        if isinstance(value, str):
            return cls(data=value)
        if not isinstance(value, dict):
            raise PlaygroundError(f"A task is a data name or a mapping of data, split, columns and template (got {value!r}).")
        unknown = sorted(set(value) - {f.name for f in dataclasses.fields(cls)})
        if unknown:
            raise PlaygroundError(f"Unknown task keys: {', '.join(unknown)}.")
        return cls(**value)

    def describe(self) -> str:
        return str(self.data) if self.data else "the adapters' held-out test split"


@dataclass
class EvalRecipe:
    base_model: str = DEFAULT_MODEL
    adapters: list[str] = field(default_factory=list)  # names in the adapters folder: PEFT adapters or full models
    task: TaskData = field(default_factory=TaskData)
    other_task: TaskData | None = None  # a task the models were not tuned on: what they forgot
    metrics: list[str] = field(default_factory=lambda: list(DEFAULT_METRICS))
    primary_metric: str = "rougeL"  # sorts the per-example view and draws the forgetting chart
    max_examples: int = 100  # the first examples of each task
    chat: bool | None = None  # None: the chat template when the model has one, as fine-tuning did
    decoding: dict = field(default_factory=lambda: {"max_new_tokens": 64, "do_sample": False})  # unset keys: the model's own
    batch_size: int = 8
    benchmarks: list[str] = field(default_factory=list)  # lm-eval task names, or task YAML files
    benchmark_limit: int = 100  # examples per benchmark task
    output_name: str = ""

    def __post_init__(self) -> None:
        self.task = TaskData.from_value(self.task)
        if self.other_task not in (None, "", {}):
            self.other_task = TaskData.from_value(self.other_task)
            if not self.other_task.data:
                raise PlaygroundError("The second (forgetting) task needs data of its own: a built-in set, a file or a Hub id.")
        else:
            self.other_task = None
        if not self.task.data and self.task.template != "plain":  # the held-out split is already templated
            _check(self.other_task is not None,
                   f"The '{self.task.template}' template is for data you name: the held-out split's prompts were written "
                   "by fine-tuning (its template already in them). Leave the template plain, or name the data.")
            self.task.template = "plain"  # it was meant for the second task's data
        _check(bool(str(self.base_model).strip()), "Choose a base model.")
        _check(isinstance(self.adapters, list), "adapters must be a list of names.")
        self.adapters = [str(a).strip() for a in self.adapters if str(a).strip()]
        for name in self.adapters:
            check_name(name)
        _check(BASE not in self.adapters, f"'{BASE}' names the base model in results: rename that adapter first.")
        _check(len(set(self.adapters)) == len(self.adapters), "An adapter is listed twice.")
        _check(self.task.data or self.adapters,
               "Choose data to evaluate on: with no adapter there is no held-out split to default to.")
        _check(isinstance(self.metrics, list) and bool(self.metrics), f"Choose at least one metric: {', '.join(METRICS)}.")
        unknown = [m for m in self.metrics if m not in METRICS]
        _check(not unknown, f"Unknown metric(s) {', '.join(map(str, unknown))}: choose from {', '.join(METRICS)}.")
        if self.primary_metric not in self.metrics:
            self.primary_metric = next((m for m in ("rougeL", *self.metrics) if m in self.metrics), self.metrics[0])
        _check(_whole(self.max_examples) and 1 <= self.max_examples <= MAX_EXAMPLES,
               f"max_examples must be a whole number from 1 to {MAX_EXAMPLES} (got {self.max_examples}).")
        _check(_whole(self.batch_size) and 1 <= self.batch_size <= 256, f"batch_size must be from 1 to 256 (got {self.batch_size}).")
        _check(isinstance(self.benchmarks, list), "benchmarks must be a list of task names or files.")
        self.benchmarks = [_absolute_if_file(b) for b in self.benchmarks if str(b).strip()]
        _check(_whole(self.benchmark_limit) and self.benchmark_limit >= 1, "benchmark_limit must be at least 1.")
        cap = limits.current()
        cap.check(self.max_examples, "eval_examples", "max_examples")
        cap.check(self.benchmark_limit, "eval_examples", "benchmark_limit")
        _check(isinstance(self.decoding, dict), "decoding must be a mapping of decoding settings.")
        unknown = sorted(set(self.decoding) - set(DECODING_KEYS))
        _check(not unknown, f"Unknown decoding setting(s) {', '.join(unknown)}: use {', '.join(DECODING_KEYS)}.")
        max_new = self.decoding.get("max_new_tokens")
        _check(max_new is None or (_whole(max_new) and 1 <= max_new <= MAX_NEW_TOKENS),
               f"max_new_tokens must be from 1 to {MAX_NEW_TOKENS} (got {max_new}).")
        self.decoding_params()  # the rest of the settings are checked where they are defined
        if self.output_name:
            check_name(self.output_name)

    @property
    def models(self) -> list[str]:
        return [BASE, *self.adapters]

    @property
    def needs_generation(self) -> bool:
        return any(not METRICS[m].from_likelihood for m in self.metrics)

    def decoding_params(self, model_defaults=None):
        """The decoding settings: the model's own (when given) with this recipe's on top."""
        from playground.generation import DecodingParams

        base = model_defaults if model_defaults is not None else DecodingParams()
        return base.with_settings(**{k: v for k, v in self.decoding.items() if v is not None})

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> EvalRecipe:
        if not isinstance(values, dict):
            raise PlaygroundError("An evaluation recipe is a mapping of settings.")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise PlaygroundError(f"Unknown evaluation keys: {', '.join(unknown)}. Known: {', '.join(sorted(known))}.")
        try:
            return cls(**values)
        except TypeError as err:
            raise PlaygroundError(f"Evaluation settings of the wrong type: {err}") from err

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _absolute_if_file(value) -> str:
    """A local file as an absolute path, so the run (in its own process and folder) finds it."""
    value = str(value or "").strip()
    if access.demo_mode():
        return value  # not looked at here: the loader refuses a server path
    path = Path(value).expanduser()
    return str(path.resolve()) if value and access.is_file(path) else value


def _whole(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and int(value) == value


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise PlaygroundError(message)
