"""A reward model as a run kind: its check before launch, the worker's function, and its result:
a folder in adapters/ marked as a reward model, so the generation pickers never offer it."""

from __future__ import annotations

from playground.kinds import Outcome, Output, RunContext
from playground.settings import Settings
from playground.training.preference_recipes import RewardRecipe
from playground.training.sft_kind import training_kind


def check(recipe: RewardRecipe, settings: Settings) -> list[str]:
    from playground.training.preference_checks import check_preference_run
    from playground.training.reward import reward_config

    return check_preference_run(recipe, settings, reward_config)


def run(recipe: RewardRecipe, ctx: RunContext) -> Outcome:
    from playground.models import ModelManager
    from playground.training.reward import train_reward

    return train_reward(recipe, ModelManager(ctx.settings).resolve(recipe.base_model), ctx)


KIND = training_kind("reward", "Reward model", RewardRecipe, check, run, Output.REWARD_MODEL, resumable=True)
