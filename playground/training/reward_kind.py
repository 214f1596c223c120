"""A reward model as a run kind: its check before launch, the worker's function, and its result:
a folder in adapters/ marked as a reward model, so the generation pickers never offer it."""

from __future__ import annotations

from playground.kinds import Outcome, Output, RunContext, RunKind
from playground.settings import Settings
from playground.training.preference_recipes import RewardRecipe
from playground.training.sft_kind import default_name, write_card


def check(recipe: RewardRecipe, settings: Settings) -> list[str]:
    from playground.training.preference_checks import check_preference_run

    return check_preference_run(recipe, settings)


def run(recipe: RewardRecipe, ctx: RunContext) -> Outcome:
    from playground.models import ModelManager
    from playground.training.reward import train_reward

    return train_reward(recipe, ModelManager(ctx.settings).resolve(recipe.base_model), ctx)


KIND = RunKind(
    name="reward",
    title="Reward model",
    output=Output.REWARD_MODEL,
    recipe_class=RewardRecipe,
    check=check,
    run=run,
    default_name=default_name,
    summary=lambda recipe: {"method": recipe.method, "base_model": recipe.base_model},
    write_card=write_card,
)

