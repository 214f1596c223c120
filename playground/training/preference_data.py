"""Preference pairs for the RLHF kinds (reward model, DPO, ...): where they come from, how they
are split, and how a (prompt, completion) becomes the tokens a reward model reads.

The pairs come from the Rate tab's labels in the app's database (`data: labels`), from a file
in TRL's preference format or HH-RLHF's (the Rate tab's import reads both), or from a Hub
dataset in one of those formats (`data: owner/name`, `data_split`). Training and scoring
format text with the same function, `reward_text`, so a reward model scores at use exactly what
it was trained on."""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from pathlib import Path

from playground import access
from playground.errors import PlaygroundError

LABELS = "labels"  # the data name that means "the labels collected in the Rate tab"
FILE_SUFFIXES = (".jsonl", ".json", ".gz")
MIN_TRAIN_PAIRS = 8
MIN_HELD_OUT_PAIRS = 4


@dataclass
class PreferenceSplit:
    train: list[dict]  # {"prompt", "chosen", "rejected"}
    held_out: list[dict]
    source: str  # what they were read from, for the run card


def load_pairs(data: str, settings, unpaired: bool = False, split: str = "train") -> tuple[list[dict], str]:
    """(rows of prompt/chosen/rejected, a description of where they came from): the Rate tab's
    labels, a file, or a Hub dataset's `split`. Lines of a file that are not pairs (e.g. an empty
    reply) are left out and counted in the description, as fine-tuning data skips empty rows. With
    `unpaired`, KTO's rows of prompt/completion/label: both sides of each pair, "both bad" votes and
    clear ratings, or a file's TRL unpaired lines."""
    from playground.preferences import formats

    what = "labeled replies" if unpaired else "pairs"
    data = (data or "").strip()
    if data == LABELS:
        from playground.preferences.labels import all_labels
        from playground.store import Store

        labels = all_labels(Store(settings.db_path))
        rows = formats.kto_rows(labels) if unpaired else formats.preference_rows(labels)
        return rows, f"{len(rows):,} {what} from the Rate tab's labels"
    if is_hub_id(data):
        report, name, unit = read_hub_pairs(data, split, unpaired), f"{data} ({split} split)", "rows"
    else:
        access.check_typed_path(data)
        path = Path(data).expanduser()
        if not access.is_file(path):
            raise PlaygroundError(f"Preference data '{data}' is neither '{LABELS}' (the Rate tab's labels), a file nor a Hub "
                                  "dataset id. Give a JSONL file with prompt/chosen/rejected (TRL) or HH-RLHF chosen/rejected "
                                  "lines" + (", or prompt/completion/label lines (TRL unpaired)." if unpaired else "."))
        report, name, unit = formats.read_file(path, unpaired=unpaired), path.name, "lines"
    rows = report.rows if unpaired else formats.preference_rows(report.labels)
    described = f"{len(rows):,} {what} from {name} ({report.format})"
    if report.errors:
        described += f"; {unit} left out: {'; '.join(e.rstrip('.') for e in report.errors[:3])}"
        described += " (and more)" if len(report.errors) > 3 else ""
    return rows, described


def is_hub_id(data: str) -> bool:
    """Whether preference data names a Hub dataset (owner/name) rather than a file."""
    return bool(re.fullmatch(r"[A-Za-z0-9][\w.-]*/[A-Za-z0-9][\w.-]*", data)) and not access.names_local_data(data, FILE_SUFFIXES)


def read_hub_pairs(dataset_id: str, split: str, unpaired: bool):
    """The preference rows of a Hub dataset split (its first data.MAX_ROWS), parsed as a file's lines are."""
    from playground import data
    from playground.preferences import formats

    frame = data.read_hub(dataset_id, split=split, offline_message=(
        f"'{dataset_id}' looks like a Hub dataset id, and the Hugging Face Hub can't be reached (offline): use the "
        "Rate tab's labels or a preference file."))
    records = ({key: _plain(value) for key, value in row.items()} for row in frame.to_dict("records"))
    return formats.read_records(records, dataset_id, unpaired=unpaired)


def _plain(value):
    """A dataset cell as JSON would give it: lists for arrays (pandas holds list columns as numpy arrays)."""
    if hasattr(value, "tolist") and not isinstance(value, (str, bytes)):
        value = value.tolist()
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def load_rows(recipe, settings) -> tuple[list[dict], str]:
    """The rows a recipe learns from: pairs, or labeled replies for the kinds that learn from those (KTO)."""
    unpaired = getattr(recipe, "unpaired", False)
    rows, described = load_pairs(recipe.data, settings, unpaired, recipe.data_split)
    if unpaired and rows and (all(r["label"] for r in rows) or not any(r["label"] for r in rows)):
        side = "good" if rows[0]["label"] else "bad"
        raise PlaygroundError(f"All {len(rows):,} labeled replies are {side}: KTO needs good and bad ones "
                              "(decisive votes give one of each; 'both bad' and low ratings give bad ones).")
    return rows, described


def split_pairs(rows: list[dict], held_out_fraction: float, seed: int, source: str = "",
                what: str = "preference pairs") -> PreferenceSplit:
    """A seeded split into training and held-out rows, refusing sizes too small to learn or to judge from."""
    needed = minimum_pairs(held_out_fraction)
    if len(rows) < needed:
        raise PlaygroundError(
            f"Too few {what}: {len(rows)}, and at least {needed} are needed ({MIN_TRAIN_PAIRS} to train on and "
            f"{MIN_HELD_OUT_PAIRS} held out at a held-out share of {held_out_fraction:g}). Label more in the Rate tab "
            "(ties and 'both bad' give no pair), or train from a preference file or Hub data set (prompt, chosen, "
            "rejected, or HH-RLHF's chosen/rejected).")
    # the same pair labeled by two people is two rows: both go to one side, or the held-out
    # pairs would be scored on what was trained on
    groups: dict[tuple, list[int]] = {}
    for i, row in enumerate(rows):
        groups.setdefault(_same_example(row), []).append(i)
    order = list(groups.values())
    random.Random(seed).shuffle(order)
    n_held = max(MIN_HELD_OUT_PAIRS, round(len(rows) * held_out_fraction))
    held: list[int] = []
    while order and len(held) < n_held:
        held += order.pop(0)
    kept = [i for group in order for i in group]
    return PreferenceSplit([rows[i] for i in kept], [rows[i] for i in held], source)


def _same_example(row: dict) -> tuple:
    """Rows with this key are one example: a pair (whichever reply won) or one labeled reply."""
    replies = tuple(sorted(str(row[k]) for k in ("chosen", "rejected", "completion") if k in row))
    return (row.get("prompt"), replies)


def recipe_split(recipe, settings, writer=None, loaded=None) -> PreferenceSplit:
    """The rows a recipe names (or `loaded`: what load_rows gave for it), split as it says, with
    progress written to the run's events."""
    what = "labeled replies" if getattr(recipe, "unpaired", False) else "preference pairs"
    if writer:
        writer.write("status", message=f"Loading the {what}")
    rows, described = loaded or load_rows(recipe, settings)
    split = split_pairs(rows, recipe.val_fraction, recipe.split_seed, described, what=what)
    if writer:
        writer.write("status", message=f"{len(split.train):,} {what} to train on, {len(split.held_out):,} held out")
    return split


def _sentence(split: PreferenceSplit) -> str:
    return f"{split.source}: {len(split.train):,} to train on, {len(split.held_out):,} held out."


def describe_split(recipe, settings, loaded=None) -> str:
    """What a run of `recipe` would learn from, in a sentence (raises what split_pairs raises)."""
    return _sentence(recipe_split(recipe, settings, loaded=loaded))


def describe_prompts(recipe, settings, loaded=None) -> str:
    """What a PPO, RLOO or GRPO run of these pairs would train on (their distinct prompts), in a sentence."""
    return _sentence(prompt_split(recipe, settings, loaded=loaded))


def prompt_split(recipe, settings, writer=None, loaded=None) -> PreferenceSplit:
    """The distinct prompts of the pairs a recipe names (or `loaded`: what load_pairs gave for it),
    split as it says (rows of {"prompt"}), so that no held-out prompt is trained on (PPO, RLOO and
    GRPO need prompts only)."""
    if writer:
        writer.write("status", message="Loading the prompts of the preference pairs")
    rows, described = loaded or load_pairs(recipe.data, settings, split=recipe.data_split)
    prompts = [{"prompt": p} for p in dict.fromkeys(r["prompt"] for r in rows)]
    split = split_pairs(prompts, recipe.val_fraction, recipe.split_seed, f"{len(prompts):,} distinct prompts of {described}",
                        what="distinct prompts")
    if writer:
        writer.write("status", message=f"{len(split.train):,} prompts to train on, {len(split.held_out):,} held out")
    return split


def split_record(split: PreferenceSplit) -> dict:
    """What run.json keeps of the pairs a run learned from."""
    return {"pairs": split.source, "train_pairs": len(split.train), "held_out_pairs": len(split.held_out)}


def minimum_pairs(held_out_fraction: float) -> int:
    """The fewest pairs that leave MIN_TRAIN_PAIRS to train on and MIN_HELD_OUT_PAIRS held out."""
    needed = MIN_TRAIN_PAIRS + MIN_HELD_OUT_PAIRS
    while max(MIN_HELD_OUT_PAIRS, round(needed * held_out_fraction)) > needed - MIN_TRAIN_PAIRS:
        needed += 1
    return needed


def uses_chat(tokenizer) -> bool:
    return bool(getattr(tokenizer, "chat_template", None))


def reward_text(tokenizer, prompt: str, completion: str) -> str:
    """The text a reward model reads for one completion: the chat template's user turn and
    assistant reply where the model has one, else prompt + completion + the end-of-sequence token
    (the token whose final state the scalar head reads)."""
    if uses_chat(tokenizer):
        return tokenizer.apply_chat_template([{"role": "user", "content": prompt},
                                              {"role": "assistant", "content": completion}], tokenize=False)
    return prompt + completion + (tokenizer.eos_token or "")


def reward_ids(tokenizer, prompt: str, completion: str, max_length: int) -> list[int]:
    """Token ids of reward_text, cut from the start when too long: the reply at the end is what is judged."""
    ids = tokenizer(reward_text(tokenizer, prompt, completion), add_special_tokens=not uses_chat(tokenizer))["input_ids"]
    return ids[-max_length:]


def tokenized_pairs(tokenizer, rows: list[dict], max_length: int) -> list[dict]:
    """Rows in the pre-tokenized form TRL's RewardTrainer takes (chosen_ids / rejected_ids)."""
    return [{"chosen_ids": reward_ids(tokenizer, r["prompt"], r["chosen"], max_length),
             "rejected_ids": reward_ids(tokenizer, r["prompt"], r["rejected"], max_length)} for r in rows]
