"""The examples an evaluation runs on: prompts and their references, from the held-out test split
a fine-tuning run wrote beside its adapter (already templated, exactly as in training), or from
any data set with a column mapping and a template."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from playground.errors import PlaygroundError
from playground.evaluation.recipe import TaskData

TEST_SPLIT_FILE = "test.jsonl"  # written by training.sft.train beside the adapter


@dataclass
class EvalRows:
    name: str  # what the data is, for people
    prompts: list[str]
    references: list[str]

    def __len__(self) -> int:
        return len(self.prompts)


def held_out_source(adapters_dir: Path, adapters: list[str]) -> Path:
    """The test split of the first adapter that has one."""
    for name in adapters:
        path = adapters_dir / name / TEST_SPLIT_FILE
        if path.is_file():
            return path
    raise PlaygroundError("None of the chosen adapters has a held-out test split (test.jsonl, written by fine-tuning "
                          "with a test share above 0): choose data to evaluate on.")


def _read_test_split(path: Path, owner: str) -> tuple[list[str], list[str]]:
    prompts, references = [], []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as err:
        raise PlaygroundError(f"Could not read the held-out split of '{owner}': {err}") from err
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            prompt, completion = row["prompt"], row["completion"]
        except (ValueError, KeyError, TypeError) as err:
            raise PlaygroundError(f"Line {number} of {path} is not a prompt/completion row: {err}") from err
        if str(prompt).strip() and str(completion).strip():
            prompts.append(str(prompt))
            references.append(str(completion).strip())
    return prompts, references


def load_task(task: TaskData, adapters_dir: Path, adapters: list[str], max_examples: int) -> EvalRows:
    """The first max_examples rows of a task. Raises, with what to change, when there is nothing
    to evaluate on or no reference to score against."""
    from playground.training.sft_data import load_pairs, render

    if not task.data:
        path = held_out_source(adapters_dir, adapters)
        prompts, references = _read_test_split(path, path.parent.name)
        name = f"held-out test split of {path.parent.name}"
    else:
        pairs = load_pairs(task.data, task.input_column, task.output_column, split=task.split)
        prompts = [render(task.template, task.custom_template, x) for x, _ in pairs]
        references = [y.strip() for _, y in pairs]
        from playground.data import BUILTIN_TASKS

        name = (f"built-in {task.data} set" if task.data in BUILTIN_TASKS
                else str(task.data) + (f" ({task.split})" if task.split and "/" in str(task.data) else ""))
    if not prompts:
        raise PlaygroundError(f"The {name} has no examples with both a prompt and a reference: nothing to evaluate.")
    return EvalRows(name, prompts[:max_examples], references[:max_examples])
