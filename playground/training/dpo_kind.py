"""DPO as a run kind: checked like every preference run (and its starting adapter must be a
generation adapter on the same base); its result is an adapter for generation, offered in the labs."""

from __future__ import annotations

from playground.kinds import Outcome, Output, RunContext, RunKind
from playground.settings import Settings
from playground.training.preference_recipes import DPORecipe
from playground.training.sft_kind import default_name, write_card


def check(recipe: DPORecipe, settings: Settings) -> list[str]:
    from playground.training.preference_checks import check_preference_run

    return check_preference_run(recipe, settings)


def run(recipe: DPORecipe, ctx: RunContext) -> Outcome:
    from playground.models import ModelManager
    from playground.training.dpo import train_dpo

    return train_dpo(recipe, ModelManager(ctx.settings).resolve(recipe.base_model), ctx)


KIND = RunKind(
    name="dpo",
    title="DPO",
    output=Output.ADAPTER,
    recipe_class=DPORecipe,
    check=check,
    run=run,
    default_name=default_name,
    summary=lambda recipe: {"method": recipe.method, "base_model": recipe.base_model},
    write_card=write_card,
)
