"""PPO as a run kind: checked before launch (a reward model on the same tokenizer, a generation
adapter to start from, enough distinct prompts); its result is a policy adapter for generation."""

from __future__ import annotations

from playground.errors import PlaygroundError
from playground.kinds import Outcome, RunContext
from playground.settings import Settings
from playground.training.preference_recipes import PPORecipe
from playground.training.sft_kind import training_kind


def check(recipe: PPORecipe, settings: Settings) -> list[str]:
    from transformers import AutoTokenizer

    from playground.models import ModelManager
    from playground.training.ppo import ppo_config, ppo_plan, ppo_trainer_class, same_tokenizer
    from playground.training.preference_checks import generation_adapter, reward_model_folder
    from playground.training.preference_data import prompt_split
    from playground.training.trainer_args import check_run_settings, check_trainer_config

    ppo_trainer_class()  # the right TRL, or what to install
    check_run_settings(recipe)
    source = ModelManager(settings).training_source(recipe.base_model)
    folder = reward_model_folder(settings, recipe.reward_model)
    if not same_tokenizer(AutoTokenizer.from_pretrained(source), AutoTokenizer.from_pretrained(str(folder))):
        raise PlaygroundError(f"The reward model '{folder.name}' was trained on another tokenizer than {recipe.base_model}'s: "
                              "PPO scores the policy's tokens with it directly. Train a reward model on this base model.")
    split = prompt_split(recipe, settings)
    check_trainer_config(recipe, ppo_config)
    if recipe.policy_adapter:
        generation_adapter(settings, recipe.policy_adapter, recipe.base_model)
    return [f"{split.source}: {len(split.train):,} to train on, {len(split.held_out):,} held out.",
            ppo_plan(recipe, len(split.train), world_size=recipe.num_processes)]


def run(recipe: PPORecipe, ctx: RunContext) -> Outcome:
    from playground.models import ModelManager
    from playground.training.ppo import train_ppo

    return train_ppo(recipe, ModelManager(ctx.settings).resolve(recipe.base_model), ctx)


KIND = training_kind("ppo", "PPO", PPORecipe, check, run)
