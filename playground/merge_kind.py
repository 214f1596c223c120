"""Folding a LoRA adapter into its base weights, as a run kind: loading a base model and saving a
full copy takes minutes and gigabytes for a real model, so it runs in its own process like
training, with progress, Stop and the same queue, never in the web app's process."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from playground import adapters
from playground.errors import PlaygroundError
from playground.kinds import Outcome, Output, RunContext, RunKind
from playground.runs import check_name
from playground.settings import Settings


@dataclass
class MergeRecipe:
    adapter: str  # a name in the adapters folder
    base_model: str = ""  # empty: the base the adapter was trained on (its run.json)
    output_name: str = ""  # empty: <adapter>-merged

    def __post_init__(self) -> None:
        if not str(self.adapter).strip():
            raise PlaygroundError("Choose the LoRA adapter to merge.")
        check_name(self.adapter)
        if self.output_name:
            check_name(self.output_name)

    @classmethod
    def from_dict(cls, values: dict) -> MergeRecipe:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise PlaygroundError(f"Unknown merge keys: {', '.join(unknown)}. Known: {', '.join(sorted(known))}.")
        return cls(**values)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def _base_of(recipe: MergeRecipe, settings: Settings) -> str:
    record = adapters.read_record(settings.adapters_dir / recipe.adapter)
    base = recipe.base_model or record.get("base_model") or ""
    if not base:
        raise PlaygroundError(f"'{recipe.adapter}' does not say which base model it was trained on: name base_model.")
    return base


def check(recipe: MergeRecipe, settings: Settings) -> list[str]:
    from playground.models import ModelManager

    adapters.check_mergeable(settings.adapters_dir, recipe.adapter)
    ModelManager(settings).resolve(_base_of(recipe, settings))
    return []


def run(recipe: MergeRecipe, ctx: RunContext) -> Outcome:
    from playground.models import ModelManager

    folder = adapters.check_mergeable(ctx.settings.adapters_dir, recipe.adapter)
    base = _base_of(recipe, ctx.settings)
    ctx.writer.write("status", message=f"Loading {base} and folding {recipe.adapter} into it")
    adapters.merge_into(folder, ModelManager(ctx.settings).resolve(base), ctx.output_dir)
    ctx.writer.write("status", message="Saved")
    record = adapters.read_record(folder)
    return Outcome("finished", {}, {"method": "full", "base_model": base, "merged_from": recipe.adapter,
                                    "trainable_params": record.get("total_params"), "total_params": record.get("total_params")})


def write_card(folder: Path, record: dict) -> None:
    import json

    (Path(folder) / "run.json").write_text(json.dumps(record, indent=2), encoding="utf-8")


KIND = RunKind(
    name="merge",
    title="Merge a LoRA adapter into its base",
    output=Output.ADAPTER,
    recipe_class=MergeRecipe,
    check=check,
    run=run,
    default_name=lambda recipe: f"{recipe.adapter}-merged",
    summary=lambda recipe: {"method": "merge", "base_model": recipe.base_model or None},
    write_card=write_card,
)
