"""Building zero-, one- and few-shot prompts (in-context learning), and fitting them into the
context window. Pure functions: token counting comes in as a `TokenCounter`."""

from __future__ import annotations

import random
import string
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from playground.errors import PlaygroundError

OVERFLOW_POLICIES = {
    "ask": "Ask me (run nothing that overflows)",
    "drop_shots": "Drop shots until it fits",
    "truncate": "Cut tokens from the start of the prompt",
}


@dataclass(frozen=True)
class PromptTemplate:
    """An instruction on top, then each example written with `example_format`; the query uses
    the same format cut off at {output}, so the model continues with the answer."""

    instruction: str = ""
    example_format: str = "Input:\n{input}\nOutput: {output}"
    separator: str = "\n\n"

    def __post_init__(self) -> None:
        fields = {name for _, name, _, _ in string.Formatter().parse(self.example_format) if name is not None}
        unknown = fields - {"input", "output"}
        if unknown:
            raise PlaygroundError(
                f"The example format uses unknown placeholders {sorted(unknown)}: only {{input}} and {{output}} "
                "are filled in (write {{ and }} for literal braces)."
            )
        if "input" not in fields or "output" not in fields:
            raise PlaygroundError("The example format needs both {input} and {output}, e.g. 'Dialogue: {input}\\nSummary: {output}'.")
        if self.example_format.index("{output}") < self.example_format.index("{input}"):
            raise PlaygroundError("In the example format {output} must come after {input}: the model writes the output last.")

    def render_example(self, input_text: str, output_text: str) -> str:
        return self.example_format.format(input=input_text, output=output_text)

    def render_query(self, input_text: str) -> str:
        head = self.example_format.split("{output}")[0]
        return head.format(input=input_text).rstrip(" ")


def build_prompt(template: PromptTemplate, shots: Sequence[tuple[str, str]], query_input: str) -> str:
    """The instruction, the solved examples (shots), then the unsolved query."""
    parts = [template.instruction.strip()] if template.instruction.strip() else []
    parts += [template.render_example(i, o) for i, o in shots]
    parts.append(template.render_query(query_input))
    return template.separator.join(parts)


def choose_shots(
    n_examples: int, k: int, query_index: int, seed: int | None = 0, indices: Sequence[int] | None = None
) -> list[int]:
    """Which examples serve as shots: the given indices, or k drawn at random with a seed.
    The query example itself is never a shot (that would give the answer away)."""
    if not 0 <= query_index < n_examples:
        raise PlaygroundError(f"Example #{query_index} does not exist: pick 0 to {n_examples - 1}.")
    if indices:
        bad = [i for i in indices if not 0 <= i < n_examples]
        if bad:
            raise PlaygroundError(f"Shot indices {bad} are out of range: pick from 0 to {n_examples - 1}.")
        if query_index in indices:
            raise PlaygroundError(f"Example #{query_index} is the one being tested, so it can't also be a shot.")
        return list(dict.fromkeys(indices))
    pool = [i for i in range(n_examples) if i != query_index]
    if k > len(pool):
        raise PlaygroundError(f"{k} shots asked for, but only {len(pool)} other examples exist.")
    return random.Random(seed).sample(pool, k)


def parse_indices(text: str) -> list[int]:
    """'3, 7 12' -> [3, 7, 12]; empty -> []."""
    tokens = text.replace(",", " ").split()
    try:
        return [int(t) for t in tokens]
    except ValueError:
        raise PlaygroundError(f"Shot indices must be whole numbers separated by commas, e.g. '3, 7, 12' (got '{text}').") from None


@dataclass(frozen=True)
class Variant:
    name: str
    shot_indices: tuple[int, ...]


def standard_variants(few_shot_indices: Sequence[int]) -> list[Variant]:
    """Zero-shot, one-shot (the first few-shot example) and few-shot, side by side."""
    few = tuple(few_shot_indices)
    return [
        Variant("Zero-shot", ()),
        Variant("One-shot", few[:1]),
        Variant(f"Few-shot (k={len(few)})", few),
    ]


class TokenCounter(Protocol):
    def count(self, text: str) -> int: ...

    def keep_last(self, text: str, n_tokens: int) -> str: ...


@dataclass
class FittedPrompt:
    text: str
    shot_indices: tuple[int, ...]
    n_tokens: int
    budget: int  # context window minus the tokens reserved for the answer
    note: str = ""  # what was changed to make it fit, if anything

    @property
    def fits(self) -> bool:
        return self.n_tokens <= self.budget


def fit_prompt(
    template: PromptTemplate,
    examples: Sequence[tuple[str, str]],
    shot_indices: Sequence[int],
    query_input: str,
    counter: TokenCounter,
    budget: int,
    policy: str = "ask",
) -> FittedPrompt:
    """Build the prompt and, if it overflows `budget`, apply the chosen policy; "ask" changes
    nothing and leaves `fits` False so the caller can ask the user."""
    if policy not in OVERFLOW_POLICIES:
        raise PlaygroundError(f"Unknown overflow policy '{policy}': use one of {', '.join(OVERFLOW_POLICIES)}.")
    if budget < 1:
        raise PlaygroundError("Max new tokens leaves no room for a prompt in the context window: lower it.")
    shots = list(shot_indices)

    def build(used: Sequence[int]) -> tuple[str, int]:
        text = build_prompt(template, [examples[i] for i in used], query_input)
        return text, counter.count(text)

    text, n = build(shots)
    original = n
    if n <= budget or policy == "ask":
        return FittedPrompt(text, tuple(shots), n, budget)
    if policy == "drop_shots":
        while shots and n > budget:
            shots.pop()
            text, n = build(shots)
        dropped = len(shot_indices) - len(shots)
        note = f"dropped {dropped} shot{'s' * (dropped != 1)} to fit ({original:,} → {n:,} tokens)"
        if n <= budget:
            return FittedPrompt(text, tuple(shots), n, budget, note)
    text = counter.keep_last(text, budget)
    n = counter.count(text)
    return FittedPrompt(text, tuple(shots), n, budget, f"cut the start of the prompt to fit ({original:,} → {n:,} tokens)")
