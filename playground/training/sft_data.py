"""Turning a recipe's data into TRL prompt-completion datasets: instruction templates, weighted
mixing of several sets (multitask fine-tuning), and a seeded train/validation/test split."""

from __future__ import annotations

import difflib
import math
import random
from dataclasses import dataclass, field
from pathlib import Path

from playground import access, data
from playground.errors import PlaygroundError

# Named instruction templates, as prompt-template libraries provide; {input} is the example's input.
TEMPLATES = {
    "plain": "{input}",
    "instruction": "### Instruction:\n{input}\n\n### Response:\n",
    "alpaca": ("Below is an instruction that describes a task. Write a response that appropriately "
               "completes the request.\n\n### Instruction:\n{input}\n\n### Response:\n"),
    "summarize": "Summarize the following conversation.\n\n{input}\n\nSummary:",
    "question": "Question: {input}\nAnswer:",
}


@dataclass
class Splits:
    train: list[dict]
    validation: list[dict]
    test: list[dict]
    notes: list[str] = field(default_factory=list)  # how each set was read: a known format, rows left out


def render(template: str, custom: str, text: str) -> str:
    pattern = custom if template == "custom" else TEMPLATES.get(template)
    if pattern is None:
        raise PlaygroundError(f"Unknown template '{template}': use one of {', '.join(TEMPLATES)} or custom.")
    return pattern.replace("{input}", text)


def load_pairs(source: str, input_column: str = "", output_column: str = "", split: str = "train") -> list[tuple[str, str]]:
    """(input, output) pairs of load_examples."""
    return load_examples(source, input_column, output_column, split).pairs()


def load_examples(source: str, input_column: str = "", output_column: str = "", split: str = "train") -> data.ExampleSet:
    """The examples of a built-in name, a local file or a Hub dataset id (its `split`). A file with
    `prompt` and `completion` columns, or in Alpaca's or a chat format, needs no mapping."""
    source = str(source).strip()
    if source in data.BUILTIN_TASKS:
        task = data.BUILTIN_TASKS[source]
        frame, name = data.builtin_frame(source), f"the built-in {source} set"
        input_column, output_column = input_column or task.input_column, output_column or task.output_column
    else:
        if access.names_local_data(source, data.SUPPORTED_SUFFIXES):
            path = Path(source).expanduser()
            frame, name = data.read_table(path), path.name
        else:
            access.check_hub_id(source)
            if not access.is_local_folder(source):
                check_hub_id(source)
            frame, name = data.read_hub(source, split=split or "train"), source
        frame = data.with_standard_columns(frame)
        guess_in, guess_out = data.guess_columns(list(frame.columns))
        input_column, output_column = input_column or guess_in or "", output_column or guess_out or ""
    return data.to_examples(frame, input_column, output_column, name)


def check_hub_id(source: str) -> None:
    """Before waiting on the Hub: a name that is no built-in set, no file and not a Hub id that
    could be reached is refused at once, with the built-in set it is closest to."""
    from playground.models import hub_reachable
    from playground.settings import Settings

    near = difflib.get_close_matches(source.lower(), list(data.BUILTIN_TASKS), n=1, cutoff=0.6)
    hint = f" Did you mean the built-in set '{near[0]}'?" if near else ""
    looks_like_hub = "/" in source and not source.startswith(("/", ".", "~"))
    if near and not looks_like_hub:
        raise PlaygroundError(f"'{source}' is not a built-in set ({', '.join(data.BUILTIN_TASKS)}) nor a file.{hint}")
    if not hub_reachable(Settings.from_env()):
        raise PlaygroundError(f"'{source}' is not a built-in set ({', '.join(data.BUILTIN_TASKS)}) nor an existing file, "
                              f"and the Hugging Face Hub can't be reached to look for a dataset of that id.{hint}")


def trains_in_chat_template(tokenizer, encoder_decoder: bool) -> bool:
    """Whether fine-tuning writes each prompt into the model's chat template as a user turn (a
    decoder-only model that has one); an encoder-decoder reads its prompt as it is."""
    return bool(getattr(tokenizer, "chat_template", None)) and not encoder_decoder


def drop_rows_without_room(rows: list[dict], tokenizer, max_length: int, chat: bool) -> tuple[list[dict], int]:
    """The rows whose prompt (as the trainer formats it) leaves at least one token of the
    completion within max_length, and how many were left out. Training truncates at max_length,
    so a longer prompt would train on nothing."""
    kept = []
    for row in rows:
        if chat:
            ids = tokenizer.apply_chat_template([{"role": "user", "content": row["prompt"]}], tokenize=True,
                                                add_generation_prompt=True)
            ids = ids["input_ids"] if isinstance(ids, dict) or hasattr(ids, "keys") else ids
        else:
            ids = tokenizer(row["prompt"], verbose=False)["input_ids"]
        if len(ids) < max_length:
            kept.append(row)
    return kept, len(rows) - len(kept)


def build_splits(recipe) -> Splits:
    """Rows {"prompt", "completion"}; several data sets are mixed by weight (the smaller ones
    are sampled with replacement up to their share)."""
    rng = random.Random(recipe.split_seed)
    parts = list(recipe.data_mix)
    if recipe.data and not any(str(part.get("data")) == str(recipe.data) for part in parts):
        parts.insert(0, {"data": recipe.data, "weight": 1.0})  # the main data is part of the mix, weighing 1
    splits = Splits([], [], [])
    for part in parts:
        examples = load_examples(part["data"], part.get("input_column", recipe.input_column),
                                 part.get("output_column", recipe.output_column))
        splits.notes += [note for note in (examples.format_note, examples.skipped_rows and examples.skipped_note()) if note]
        rows = [{"prompt": render(recipe.template, recipe.custom_template, x), "completion": " " + y.strip(),
                 "source": str(part["data"])} for x, y in examples.pairs()]
        rng.shuffle(rows)
        n_val = round(len(rows) * recipe.val_fraction)
        n_test = round(len(rows) * recipe.test_fraction)
        if recipe.val_fraction > 0 and n_val == 0:
            need = math.floor(0.5 / recipe.val_fraction) + 1
            raise PlaygroundError(
                f"'{part['data']}' has {len(rows)} usable row(s): a validation share of {recipe.val_fraction:.0%} leaves "
                f"none to validate on. Add rows (at least {need}), raise the validation share, or set it to 0.")
        if len(rows) - n_val - n_test < 1:
            raise PlaygroundError(f"'{part['data']}' has too few rows ({len(rows)}) for the validation and test split: "
                                  "add rows or lower the validation and test shares.")
        splits.validation += rows[:n_val]
        splits.test += rows[n_val:n_val + n_test]
        splits.train.append((float(part.get("weight", 1.0)), rows[n_val + n_test:]))
    splits.train = _mix(splits.train, recipe.split_seed)
    return splits


def _mix(weighted: list[tuple[float, list[dict]]], seed: int) -> list[dict]:
    """Multitask mixing with datasets' interleave_datasets: each next row comes from a set with
    probability proportional to its weight, until every row of every set has been used at least
    once (smaller sets are seen again: "all_exhausted"), the way LLaMA-Factory's interleave mix works."""
    if len(weighted) == 1:
        return weighted[0][1]
    import datasets

    total = sum(weight for weight, _ in weighted)
    parts = [datasets.Dataset.from_list(rows) for _, rows in weighted]
    mixed = datasets.interleave_datasets(parts, probabilities=[weight / total for weight, _ in weighted], seed=seed,
                                         stopping_strategy="all_exhausted")
    return mixed.to_list()


def to_conversational(rows: list[dict]) -> list[dict]:
    """Prompt-completion rows as chat messages, so the model's chat template formats them."""
    return [{"prompt": [{"role": "user", "content": r["prompt"]}],
             "completion": [{"role": "assistant", "content": r["completion"].strip()}]} for r in rows]
