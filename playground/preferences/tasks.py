"""What an annotator judges next: a prompt from a prompt set and two completions written by two
different sources (the base, an adapter, or one of them with other decoding settings), in a
random order, never a pair this annotator has already labeled."""

from __future__ import annotations

import json
import random
from dataclasses import asdict, dataclass
from pathlib import Path

from playground import data
from playground.errors import PlaygroundError
from playground.preferences.labels import pair_key
from playground.settings import PROJECT_ROOT

# Not in assets/examples/: the built-in tiny model's tokenizer is trained on those files.
PROMPTS_FILE = PROJECT_ROOT / "assets" / "prompts" / "everyday.jsonl"
BUILTIN_PROMPTS = "built-in"
# Decoding settings a source can use: the model's own settings with these on top.
PRESETS = {
    "greedy": {"do_sample": False},
    "sampling T=0.7": {"do_sample": True, "temperature": 0.7, "top_p": 0.9},
    "sampling T=1.2": {"do_sample": True, "temperature": 1.2, "top_p": 1.0},
}
BASE = "base"
MAX_ATTEMPTS = 12


@dataclass(frozen=True)
class Source:
    adapter: str | None  # None: the base model
    preset: str

    @property
    def name(self) -> str:
        return f"{self.adapter or BASE} · {self.preset}"


@dataclass
class Completion:
    text: str
    source: str
    settings: dict


@dataclass
class Task:
    prompt: str
    left: Completion
    right: Completion | None  # None: one completion to rate

    @property
    def key(self) -> str:
        return pair_key(self.prompt, self.left.text, self.right.text if self.right else None)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> Task:
        return cls(values["prompt"], Completion(**values["left"]), Completion(**values["right"]) if values["right"] else None)


def sources(adapters: list[str], presets: list[str], at_least: int = 2) -> list[Source]:
    """Every chosen model (base and adapters) under every chosen decoding setting; at least two to
    compare (one is enough to rate)."""
    unknown = [p for p in presets if p not in PRESETS]
    if unknown:
        raise PlaygroundError(f"Unknown decoding setting(s) {', '.join(unknown)}: use {', '.join(PRESETS)}.")
    out = [Source(None if a in (None, "", BASE) else a, p) for a in adapters for p in presets]
    if not out:
        raise PlaygroundError("Choose a model and a decoding setting.")
    if len(out) < at_least:
        raise PlaygroundError("Choose at least two sources to compare: two models (the base and an adapter), or one "
                              "model with two decoding settings.")
    return out


def load_prompts(source: str = BUILTIN_PROMPTS, typed: str = "") -> list[str]:
    """Prompts typed one per line, else from a file (the column Fine-tune would guess as the input,
    e.g. `prompt` or `question`, or the first text column), else built-in."""
    lines = [line.strip() for line in (typed or "").splitlines() if line.strip()]
    if lines:
        return lines
    path = PROMPTS_FILE if (source or BUILTIN_PROMPTS) == BUILTIN_PROMPTS else Path(source).expanduser()
    if path == PROMPTS_FILE:
        return [json.loads(line)["prompt"] for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    frame = data.with_standard_columns(data.read_table(path))  # an Alpaca or chat file's prompts too
    guessed, _ = data.guess_columns(list(frame.columns))
    words = lambda v: isinstance(v, str) and not v.strip().replace(".", "", 1).lstrip("-").isdigit()  # noqa: E731
    texts = [c for c in frame.columns if frame[c].map(words).any()]  # a CSV's ids are strings too: not prompts
    column = guessed or (texts[0] if texts else None)
    if column is None:
        raise PlaygroundError(f"{path.name} has no column of text: add a 'prompt' column.")
    prompts = [str(x).strip() for x in frame[column].tolist() if str(x).strip()]
    if not prompts:
        raise PlaygroundError(f"{path.name} has no prompts in its '{column}' column.")
    return prompts


def _write(lm, prompt: str, source: Source, rng: random.Random, max_new_tokens: int, chat: bool) -> Completion:
    from playground.generation import defaults_of, generate

    params = defaults_of(lm).with_settings(max_new_tokens=max_new_tokens, seed=rng.randrange(2**31), **PRESETS[source.preset])
    if not params.do_sample:
        params = params.with_settings(temperature=1.0, top_k=0, top_p=1.0)
    text = generate(lm, prompt, params, chat=chat, adapter=source.adapter).text.strip()
    return Completion(text, source.name, asdict(params))


def make_task(lm, prompts: list[str], choices: list[Source], seen: set[str], rng: random.Random,
              max_new_tokens: int = 64, chat: bool = False, single: bool = False) -> Task:
    """Generate a new pair for one annotator: two different sources on a random prompt, sides at
    random (single=True: one completion, to rate). Empty completions and what this annotator
    already labeled are drawn again."""
    for _ in range(MAX_ATTEMPTS):
        prompt = rng.choice(prompts)
        if single:
            written = _write(lm, prompt, rng.choice(choices), rng, max_new_tokens, chat)
            task = Task(prompt, written, None)
            if written.text and task.key not in seen:
                return task
            continue
        first, second = (_write(lm, prompt, source, rng, max_new_tokens, chat) for source in rng.sample(choices, 2))
        if not (first.text and second.text) or first.text == second.text:
            continue  # nothing to choose between
        left, right = (first, second) if rng.random() < 0.5 else (second, first)
        task = Task(prompt, left, right)
        if task.key not in seen:
            return task
    raise PlaygroundError("No new pair to label: these sources keep writing empty, identical or already-labeled "
                          "completions for these prompts. Add prompts or sources, or raise max new tokens.")
