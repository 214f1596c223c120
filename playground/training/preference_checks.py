"""What the kinds that learn from preferences check before launch, so bad input starts nothing:
the model, enough pairs for a held-out split, the TRL settings, and that each named model is of
the right sort (a generation adapter where a policy is asked for, a reward model where a reward
model is, on the same tokenizer)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from playground.adapters import adapter_base, read_record
from playground.errors import PlaygroundError
from playground.settings import Settings
from playground.training.preference_data import describe_split
from playground.training.preference_recipes import GET_A_REWARD_MODEL
from playground.training.trainer_args import check_run_settings, check_trainer_config


def check_preference_run(recipe, settings: Settings, build_config: Callable[..., object]) -> list[str]:
    """The checks of the kinds that train on pairs; `build_config` builds the kind's TRL config."""
    from playground.models import ModelManager

    check_run_settings(recipe)
    ModelManager(settings).training_source(recipe.base_model)  # an unknown model starts nothing
    described = describe_split(recipe, settings)
    check_trainer_config(recipe, build_config)
    if getattr(recipe, "policy_adapter", ""):
        generation_adapter(settings, recipe.policy_adapter, recipe.base_model)
    return [described]


def result_folder(settings: Settings, ref: str) -> Path:
    """A run's result: a name in the adapters folder, or a folder path."""
    ref = (ref or "").strip()
    folder = settings.adapters_dir / ref if ref and "/" not in ref else Path(ref).expanduser()
    if not ref or not folder.is_dir():
        raise PlaygroundError(f"No adapter or model named '{ref}' in {settings.adapters_dir}.")
    return folder


def generation_adapter(settings: Settings, ref: str, base_model: str) -> Path:
    """The folder of an adapter that writes text, trained on `base_model`; refuses a reward model."""
    folder = result_folder(settings, ref)
    record = read_record(folder)
    if record.get("output") == "reward_model":
        raise PlaygroundError(f"'{folder.name}' is a reward model (it scores text, it does not write any): "
                              "choose an adapter trained for generation as the policy.")
    if not (folder / "adapter_config.json").exists():
        raise PlaygroundError(f"'{folder.name}' is not a PEFT adapter: to start from a fully fine-tuned model, "
                              "choose its folder as the base model instead.")
    base = record.get("base_model") or adapter_base(folder)
    if base and not same_model(settings, base, base_model):
        raise PlaygroundError(f"'{folder.name}' was trained on {base}, not on {base_model}: choose that base model.")
    return folder


def reward_model_folder(settings: Settings, ref: str) -> Path:
    """The folder of a trained reward model; refuses a generation adapter."""
    if not (ref or "").strip():
        raise PlaygroundError(f"This method needs a reward model: {GET_A_REWARD_MODEL}")
    folder = result_folder(settings, ref)
    require_reward_model(folder)
    return folder


def require_reward_model(folder: Path) -> dict:
    """The run record of a reward model's folder; refuses anything else."""
    record = read_record(folder)
    if record.get("output") != "reward_model":
        what = f"a {record.get('method', 'fine-tuned')} model for generation" if record else "not a run's result"
        raise PlaygroundError(f"'{folder.name}' is {what}, not a reward model: {GET_A_REWARD_MODEL}")
    return record


def same_model(settings: Settings, first: str, second: str) -> bool:
    """Whether two model references (a menu alias, a folder, a Hub id) name the same model."""
    if first.strip() == second.strip():
        return True
    from playground.models import ModelManager

    models = ModelManager(settings)
    try:
        return models.resolve(first) == models.resolve(second)
    except PlaygroundError:
        return False
