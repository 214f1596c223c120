"""DPO and KTO as run kinds: checked like every preference run (and a starting adapter must be a
generation adapter on the same base); the result is an adapter for generation, offered in the labs."""

from __future__ import annotations

from playground.kinds import Outcome, RunContext
from playground.settings import Settings
from playground.training.preference_recipes import DirectRecipe, DPORecipe, KTORecipe
from playground.training.sft_kind import training_kind


def check(recipe: DirectRecipe, settings: Settings) -> list[str]:
    from playground.training.direct_alignment import direct_config
    from playground.training.preference_checks import check_preference_run

    return check_preference_run(recipe, settings, direct_config)


def run(recipe: DirectRecipe, ctx: RunContext) -> Outcome:
    from playground.models import ModelManager
    from playground.training.direct_alignment import train_direct

    return train_direct(recipe, ModelManager(ctx.settings).resolve(recipe.base_model), ctx)


DPO_KIND = training_kind("dpo", "DPO", DPORecipe, check, run, resumable=True)
KTO_KIND = training_kind("kto", "KTO", KTORecipe, check, run, resumable=True)
