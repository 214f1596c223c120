"""Preference data in and out.

Out, in TRL's formats: preference pairs (`prompt`, `chosen`, `rejected`; standard or
conversational) as JSONL, Parquet or a `datasets.Dataset` on disk (DPO, reward models), and
unpaired labels (`prompt`, `completion`, `label`) for KTO: the two sides of decisive votes, both
completions of a "both bad" vote (False), and rated completions (mean HHH ≥ 4: True; ≤ 2: False).

In: TRL preference JSONL (standard or conversational, with an explicit or implicit prompt) and
Anthropic HH-RLHF's whole conversations ("\\n\\nHuman: … \\n\\nAssistant: …", JSONL or JSONL.GZ),
detected per line, from a file or a Hub dataset's rows. Bad lines are reported by number; the
good ones are kept only when the user confirms."""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass, field
from pathlib import Path

from playground import access, limits
from playground.errors import PlaygroundError
from playground.preferences.labels import HHH, Label

ASSISTANT = "\n\nAssistant:"
FORMATS = ("jsonl", "parquet", "kto", "dataset")


# ---- out ----
def rated_pairs(labels: list[Label]) -> list[tuple[str, str, str]]:
    """(prompt, chosen, rejected) from HHH ratings: two completions of one prompt whose mean scores differ."""
    by_prompt: dict[str, dict[str, list[float]]] = {}
    for label in labels:
        if label.kind == "rating":
            mean = sum(label.scores[k] for k in HHH) / len(HHH)
            by_prompt.setdefault(label.prompt, {}).setdefault(label.left_text, []).append(mean)
    pairs = []
    for prompt, texts in by_prompt.items():
        means = sorted(((sum(v) / len(v), t) for t, v in texts.items()), reverse=True)
        pairs += [(prompt, better, worse) for i, (high, better) in enumerate(means)
                  for low, worse in means[i + 1:] if high > low]
    return pairs


def preference_rows(labels: list[Label], conversational: bool = False) -> list[dict]:
    """Decisive votes (ties and "both bad" say nothing about which is better), then pairs derived
    from HHH ratings, as TRL preference rows."""
    rows = []
    decided = [(x.prompt, *x.winner()) for x in labels if x.kind == "pair" and x.winner()]
    for prompt, chosen, rejected in decided + rated_pairs(labels):
        row = {"prompt": prompt, "chosen": chosen, "rejected": rejected}
        rows.append(conversational_row(row) if conversational else row)
    return rows


def left_out_note(labels: list[Label], fmt: str) -> str:
    """What an export in `fmt` leaves out of the labels, and why ("" when nothing): a person who
    counted four votes and got two rows hears where the other two went."""
    votes = [x for x in labels if x.kind == "pair"]
    ties = sum(x.choice == "tie" for x in votes)
    both_bad = sum(x.choice == "both_bad" for x in votes)
    parts = [f"{ties} tie{'s' * (ties != 1)}"] if ties else []
    if fmt == "kto":
        middling = sum(1 for x in labels if x.kind == "rating" and 2 < sum(x.scores[k] for k in HHH) / len(HHH) < 4)
        if middling:
            parts.append(f"{middling} middling rating{'s' * (middling != 1)} (mean between 2 and 4)")
        why = "KTO needs a reply marked good or bad"
    else:
        if both_bad:
            parts.append(f"{both_bad} 'both bad' vote{'s' * (both_bad != 1)}")
        why = "a pair needs a preferred reply; the kto format keeps 'both bad' replies, as undesirable"
    return f"Left out: {' and '.join(parts)} ({why})." if parts else ""


def conversational_row(row: dict) -> dict:
    """A standard preference row (prompt, chosen, rejected as text) in TRL's conversational form."""
    return {"prompt": [{"role": "user", "content": row["prompt"]}],
            "chosen": [{"role": "assistant", "content": row["chosen"]}],
            "rejected": [{"role": "assistant", "content": row["rejected"]}]}


def kto_rows(labels: list[Label]) -> list[dict]:
    """TRL's unpaired format: each completion with a desirable (True) / undesirable (False) label."""
    rows = []
    for label in labels:
        if label.kind == "rating":
            mean = sum(label.scores[k] for k in HHH) / len(HHH)
            if mean >= 4 or mean <= 2:
                rows.append({"prompt": label.prompt, "completion": label.left_text, "label": mean >= 4})
        elif label.choice == "both_bad":
            rows += [{"prompt": label.prompt, "completion": text, "label": False}
                     for text in (label.left_text, label.right_text)]
        elif label.winner():
            chosen, rejected = label.winner()
            rows += [{"prompt": label.prompt, "completion": chosen, "label": True},
                     {"prompt": label.prompt, "completion": rejected, "label": False}]
    return rows


def export(labels: list[Label], path: str | Path, fmt: str = "jsonl", conversational: bool = False) -> int:
    """Write the labels to `path` in a format of FORMATS; returns the number of rows written."""
    if fmt not in FORMATS:
        raise PlaygroundError(f"Unknown export format '{fmt}': use one of {', '.join(FORMATS)}.")
    rows = kto_rows(labels) if fmt == "kto" else preference_rows(labels, conversational)
    if not rows:
        raise PlaygroundError("Nothing to export: there are no decisive votes (or, for KTO, no labeled completions) yet.")
    path = Path(path).expanduser()
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt in ("jsonl", "kto"):
        path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    elif fmt == "parquet":
        import pandas as pd

        pd.DataFrame(rows).to_parquet(path, index=False)
    else:
        import datasets

        datasets.Dataset.from_list(rows).save_to_disk(str(path))
    return len(rows)


def push_to_hub(labels: list[Label], repo_id: str, token: str | None, conversational: bool = False,
                private: bool = True) -> str:
    """The preference pairs as a Hub dataset (needs a token with write access)."""
    if not token:
        raise PlaygroundError("Pushing to the Hub needs a token: set HF_TOKEN (a write token from huggingface.co/settings/tokens).")
    rows = preference_rows(labels, conversational)
    if not rows:
        raise PlaygroundError("Nothing to push: there are no decisive votes yet.")
    import datasets

    datasets.Dataset.from_list(rows).push_to_hub(repo_id, token=token, private=private)
    return f"https://huggingface.co/datasets/{repo_id}"


# ---- in ----
@dataclass
class ImportReport:
    labels: list[Label] = field(default_factory=list)
    rows: list[dict] = field(default_factory=list)  # unpaired rows (prompt, completion, label), read for KTO
    errors: list[str] = field(default_factory=list)  # "line N: what is wrong"
    format: str = ""


def split_hh(chosen: str, rejected: str) -> tuple[str, str, str]:
    """(prompt, chosen reply, rejected reply) of an HH-RLHF pair: the conversation up to the last
    assistant turn is the prompt, and both must share it."""
    cut = chosen.rfind(ASSISTANT)
    if cut < 0 or rejected.rfind(ASSISTANT) != cut or chosen[:cut] != rejected[:cut]:
        raise ValueError("chosen and rejected do not share the conversation before the last Assistant turn")
    prompt = chosen[:cut + len(ASSISTANT)]
    return prompt, chosen[cut + len(ASSISTANT):].strip(), rejected[cut + len(ASSISTANT):].strip()


def _text(value, role: str) -> str:
    """A string, or the content of a TRL conversational list (the last message of that role)."""
    if isinstance(value, str):
        return value
    if _is_messages(value):
        if role == "user":
            return "\n\n".join(str(m["content"]) for m in value)
        return str(value[-1]["content"])
    raise ValueError(f"expected text or a list of messages, got {type(value).__name__}")


def _is_messages(value) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(m, dict) and "content" in m for m in value)


def split_implicit(chosen: list, rejected: list) -> tuple[str, str, str]:
    """(prompt, chosen reply, rejected reply) of TRL's conversational pair with an implicit prompt:
    two conversations that share every message but the last (e.g. trl-lib/ultrafeedback_binarized)."""
    if len(chosen) < 2 or chosen[:-1] != rejected[:-1]:
        raise ValueError("chosen and rejected conversations do not share the messages before the last reply")
    return _text(chosen[:-1], "user"), _text(chosen[-1:], "assistant"), _text(rejected[-1:], "assistant")


def _row_label(row: dict, source: str) -> tuple[Label, str]:
    if not isinstance(row, dict):
        raise ValueError("not a JSON object")
    if "prompt" in row and "chosen" in row and "rejected" in row:
        prompt, chosen, rejected = _text(row["prompt"], "user"), _text(row["chosen"], "assistant"), _text(row["rejected"], "assistant")
        kind = "trl"
    elif "chosen" in row and "rejected" in row and isinstance(row["chosen"], str) and ASSISTANT in row["chosen"]:
        prompt, chosen, rejected = split_hh(row["chosen"], row["rejected"])
        kind = "hh-rlhf"
    elif _is_messages(row.get("chosen")) and _is_messages(row.get("rejected")):
        prompt, chosen, rejected = split_implicit(row["chosen"], row["rejected"])
        kind = "trl-implicit-prompt"
    else:
        raise ValueError(f"needs prompt/chosen/rejected (TRL) or HH-RLHF chosen/rejected conversations; has {', '.join(map(str, row)) or 'no keys'}")
    label = Label(prompt=prompt, left_text=chosen, right_text=rejected, left_source="imported", right_source="imported",
                  choice="left", annotator=f"import:{source}", origin=f"imported:{source}")
    return label, kind


def _unpaired_rows(row, source: str) -> tuple[list[dict], str]:
    """KTO rows of one line: a TRL unpaired row as it is, or both sides of a pair (chosen: True)."""
    if isinstance(row, dict) and "completion" in row and "label" in row:
        if not isinstance(row["label"], bool):
            raise ValueError(f"label must be true or false, got {row['label']!r}")
        prompt, completion = _text(row.get("prompt", ""), "user"), _text(row["completion"], "assistant")
        if not prompt.strip() or not completion.strip():
            raise ValueError("the prompt or the completion is empty")
        return [{"prompt": prompt, "completion": completion, "label": row["label"]}], "trl-unpaired"
    label, kind = _row_label(row, source)
    return kto_rows([label]), kind


def read_file(path: str | Path, max_errors: int = 20, unpaired: bool = False) -> ImportReport:
    """Parse a TRL or HH-RLHF preference file (JSONL, optionally gzipped). Nothing is stored.
    With `unpaired`, the report's rows are KTO's (prompt, completion, label), and TRL's unpaired
    lines are read too."""
    access.check_typed_path(path)
    path = Path(path).expanduser()
    if not access.is_file(path):
        raise PlaygroundError(f"File not found: {str(path)[:200]}")
    opener = gzip.open if path.suffix == ".gz" else open
    cap = 4 * limits.current().upload_mb * 2**20  # what a .gz may unpack to

    def lines(handle):
        read = 0
        for number, line in enumerate(handle, 1):
            read += len(line)
            if read > cap:
                raise PlaygroundError(f"{path.name} holds more than {cap // 2**20:,} MB of text: use a sample of it.")
            if line.strip():
                yield number, line

    try:
        with opener(path, "rt", encoding="utf-8") as handle:
            report = _parse(lines(handle), path.name, "line", max_errors, unpaired)
    except (OSError, UnicodeDecodeError, EOFError) as err:
        raise PlaygroundError(f"Could not read {path.name}: {err}") from err
    if not report.labels and not report.rows and not report.errors:
        raise PlaygroundError(f"{path.name} is empty.")
    return report


def read_records(records, source: str, max_errors: int = 20, unpaired: bool = False) -> ImportReport:
    """Parse rows already read (dicts, e.g. a Hub dataset's) as read_file parses a file's lines."""
    report = _parse(((number, record) for number, record in enumerate(records, 1)), source, "row", max_errors, unpaired)
    if not report.labels and not report.rows and not report.errors:
        raise PlaygroundError(f"{source} has no rows.")
    return report


def _parse(numbered, source: str, unit: str, max_errors: int, unpaired: bool) -> ImportReport:
    """An ImportReport of (number, JSON text or dict) items: the pairs (or KTO rows), and what is
    wrong with the others, by number."""
    report = ImportReport()
    kinds = set()
    for number, item in numbered:
        try:
            row = json.loads(item) if isinstance(item, str) else item
            if unpaired:
                rows, kind = _unpaired_rows(row, source)
                report.rows += rows
            else:
                label, kind = _row_label(row, source)
                report.labels.append(label)
            kinds.add(kind)
        except (ValueError, PlaygroundError) as err:
            if len(report.errors) < max_errors:
                report.errors.append(f"{unit} {number}: {str(err).splitlines()[0]}")
            else:
                report.errors[-1] = f"… and more bad {unit}s (first {max_errors} listed)"
    report.format = " + ".join(sorted(kinds)) or "unknown"
    return report


def grouped(errors: list[str]) -> str:
    """"line 1: X", "line 2: X", "line 3: Y" said once per problem: "lines 1, 2: X; line 3: Y"."""
    by_problem: dict[str, list[str]] = {}
    for error in errors:
        where, _, problem = error.partition(": ")
        unit, _, number = where.rpartition(" ")
        if not problem or not number.isdigit():
            by_problem.setdefault(error, [])
            continue
        by_problem.setdefault(problem, []).append((unit, number))
    said = []
    for problem, places in by_problem.items():
        if not places:
            said.append(problem)
            continue
        unit = places[0][0] + ("s" if len(places) > 1 else "")
        said.append(f"{unit} {', '.join(number for _, number in places)}: {problem}")
    return "; ".join(said)


def import_file(store, path: str | Path, confirm: bool = False) -> ImportReport:
    """Store the pairs of a file beside one's own labels, all in one transaction. With bad lines,
    nothing is stored unless `confirm` (then the good lines are)."""
    from playground.preferences.labels import add_many

    report = read_file(path)
    if not report.labels:
        raise PlaygroundError(f"No line of {Path(path).name} is a preference pair: " + grouped(report.errors[:5]))
    if report.errors and not confirm:
        raise PlaygroundError(f"{len(report.errors)} bad line(s) in {Path(path).name}; nothing was imported. "
                              + grouped(report.errors[:5])
                              + f". Confirm to import the {len(report.labels):,} good line(s) anyway (--yes on the command line).")
    add_many(store, report.labels)
    return report
