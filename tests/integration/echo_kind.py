"""A trivial run kind that lives only in the tests: it proves that a new kind needs its own file
and one registry line, and nothing else, to be queued, stopped, re-attached and reported by the
same job system as fine-tuning. It counts to `steps`, one step every `delay` seconds, and
stores the message it was given as its result (an evaluation-like kind: no folder)."""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass

from playground.errors import PlaygroundError
from playground.kinds import Outcome, Output, RunKind


@dataclass
class EchoRecipe:
    message: str = "hello"
    steps: int = 3
    delay: float = 0.1
    output_name: str = ""

    @classmethod
    def from_dict(cls, values: dict) -> EchoRecipe:
        return cls(**values)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def check(recipe: EchoRecipe, settings) -> list[str]:
    if recipe.steps < 1:
        raise PlaygroundError(f"steps must be at least 1 (got {recipe.steps}).")
    return []


def run(recipe: EchoRecipe, ctx) -> Outcome:
    ctx.writer.write("train_begin", max_steps=recipe.steps)
    for step in range(1, recipe.steps + 1):
        if ctx.stop.is_set():
            return Outcome("stopped", {"steps_done": step - 1}, {"echo": recipe.message[: step - 1]})
        time.sleep(recipe.delay)
        ctx.writer.write("progress", step=step, max_steps=recipe.steps)
    return Outcome("finished", {"steps_done": recipe.steps}, {"echo": recipe.message})


KIND = RunKind(name="echo", title="Echo (tests only)", output=Output.RESULT, recipe_class=EchoRecipe, check=check,
               run=run, default_name=lambda recipe: "echo")
