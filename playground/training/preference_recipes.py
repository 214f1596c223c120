"""Recipes of the kinds that learn from preference pairs: a reward model, and DPO (later PPO,
RLOO, GRPO and KTO beside them). Each is validated on construction and read from the same YAML
and `--set key=value` overrides as fine-tuning recipes; keys that are not fields pass through to
the LoRA config or to the method's TRL config, checked against their fields."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, ClassVar

from playground.errors import PlaygroundError
from playground.training.preference_data import LABELS
from playground.training.recipes import TARGETS, RunRecipe, build_recipe, check_lora, lora_config, option


@dataclass
class PreferenceRecipe(RunRecipe):
    """What every run that learns from preference pairs has: the pairs, a held-out split, and
    LoRA (on by default) on the model that trains."""

    method: ClassVar[str] = ""
    about: ClassVar[str] = ""
    trainer_config_class: ClassVar[str] = ""
    peft_config_class: ClassVar[str] = "LoraConfig"
    task_type: ClassVar[str] = "CAUSAL_LM"

    data: str = LABELS  # "labels" (the Rate tab's), or a TRL / HH-RLHF preference JSONL file
    val_fraction: float = 0.2  # held out, to measure what was learned
    split_seed: int = 0
    max_length: int = 512
    use_lora: bool = option(True, "LoRA", "Train small low-rank matrices beside the frozen model instead of every weight.")
    lora_r: int = option(16, "LoRA rank (r)", "Size of the low-rank update: more capacity, more parameters.", (1, 128, 1))
    lora_alpha: int = option(32, "LoRA alpha", "Scales the update (effective scale alpha/r).", (1, 256, 1))
    lora_dropout: float = option(0.05, "LoRA dropout", "Drops part of the update's input while training.", (0.0, 0.5, 0.01))
    target_modules: str = option("all-linear", "Target modules", "Attention projections only, or every linear layer.",
                                 choices=TARGETS)
    peft_args: dict = field(default_factory=dict)  # more LoraConfig keys

    def __post_init__(self) -> None:
        super().__post_init__()
        self._check(bool(str(self.data).strip()), f"data is empty: use '{LABELS}' (the Rate tab's labels) or a preference file.")
        self._check(0 < self.val_fraction < 0.5, f"val_fraction must be above 0 and below 0.5 (got {self.val_fraction}): "
                    "the held-out pairs are how the run shows what it learned.")
        self._check(self.max_length >= 8, f"max_length must be at least 8 tokens (got {self.max_length}).")
        check_lora(self)
        self._check(isinstance(self.peft_args, dict), "peft_args must be a mapping of LoraConfig keys to values.")
        self._check(not self.peft_args or self.use_lora, "peft_args needs use_lora: true.")

    def to_dict(self) -> dict[str, Any]:
        return {"method": self.method, **dataclasses.asdict(self)}

    @classmethod
    def from_dict(cls, values: dict[str, Any]):
        values = dict(values or {})
        method = str(values.pop("method", cls.method)).strip()
        if method != cls.method:
            raise PlaygroundError(f"This is a {cls.method} recipe, not '{method}'.")
        return build_recipe(cls, values)

    def lora_config(self, **extra):
        """The LoRA config of the model that trains, or None without LoRA."""
        return lora_config(self, self.task_type, **extra) if self.use_lora else None


@dataclass
class RewardRecipe(PreferenceRecipe):
    method: ClassVar[str] = "reward"
    about: ClassVar[str] = ("A reward model reads a prompt and a reply and gives one number: how much people would "
                            "prefer it. It is the language model with a scalar head, trained so the chosen reply of "
                            "each pair scores above the rejected one (Bradley–Terry loss).")
    trainer_config_class: ClassVar[str] = "RewardConfig"
    task_type: ClassVar[str] = "SEQ_CLS"
    learning_rate: float = 1e-4


@dataclass
class DPORecipe(PreferenceRecipe):
    method: ClassVar[str] = "dpo"
    about: ClassVar[str] = ("Direct Preference Optimization trains the language model itself on the pairs, with no "
                            "reward model: it raises the chosen reply's likelihood over the rejected one's, relative "
                            "to a frozen reference (the model before training); beta sets how far it may move.")
    trainer_config_class: ClassVar[str] = "DPOConfig"
    learning_rate: float = 5e-5
    beta: float = option(0.1, "beta", "How strongly the policy is held to the reference: lower lets it move further.",
                         (0.01, 1.0, 0.01))
    loss_type: str = option("sigmoid", "Loss", "sigmoid: DPO's loss; ipo: IPO's squared loss (less overfitting on "
                            "deterministic preferences); hinge: SLiC's.", choices=("sigmoid", "ipo", "hinge"))
    policy_adapter: str = option("", "Start from adapter", "An SFT adapter to start from (it also becomes the frozen "
                                 "reference); empty: the base model.")

    def __post_init__(self) -> None:
        super().__post_init__()
        self._check(self.beta > 0, f"beta must be above 0 (got {self.beta}).")
        self._check(self.loss_type in ("sigmoid", "ipo", "hinge"), "loss_type must be sigmoid, ipo or hinge.")
        self._check(not self.policy_adapter or self.use_lora,
                    "Starting from an adapter trains that adapter further: set use_lora: true.")


PREFERENCE_RECIPES: dict[str, type[PreferenceRecipe]] = {cls.method: cls for cls in (RewardRecipe, DPORecipe)}
