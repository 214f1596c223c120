"""RLOO and GRPO as run kinds: checked before launch (a reward model, enough distinct prompts); the
result is a policy adapter for generation."""

from __future__ import annotations

from playground.kinds import Outcome, RunContext
from playground.settings import Settings
from playground.training.preference_recipes import GroupRecipe, GRPORecipe, RLOORecipe
from playground.training.sft_kind import training_kind


def check(recipe: GroupRecipe, settings: Settings) -> list[str]:
    from playground.models import ModelManager
    from playground.training.group_rl import group_config
    from playground.training.preference_checks import reward_model_folder
    from playground.training.preference_data import prompt_split
    from playground.training.trainer_args import check_run_settings, check_trainer_config

    check_run_settings(recipe)
    ModelManager(settings).training_source(recipe.base_model)
    reward_model_folder(settings, recipe.reward_model)
    split = prompt_split(recipe, settings)
    check_trainer_config(recipe, group_config)
    return [f"{split.source}: {len(split.train):,} to train on, {len(split.held_out):,} held out."]


def run(recipe: GroupRecipe, ctx: RunContext) -> Outcome:
    from playground.models import ModelManager
    from playground.training.group_rl import train_group

    return train_group(recipe, ModelManager(ctx.settings).resolve(recipe.base_model), ctx)


GRPO_KIND = training_kind("grpo", "GRPO", GRPORecipe, check, run)
RLOO_KIND = training_kind("rloo", "RLOO", RLOORecipe, check, run)
