"""Recipes of the kinds that learn from preference pairs: a reward model, DPO and KTO,
PPO, RLOO and GRPO. Each is validated on construction and read from the same YAML
and `--set key=value` overrides as fine-tuning recipes; keys that are not fields pass through to
the LoRA config or to the method's TRL config, checked against their fields."""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from typing import Any, ClassVar

from playground.errors import PlaygroundError
from playground.training.preference_data import LABELS
from playground.training.recipes import TARGETS, RunRecipe, build_recipe, check_lora, lora_config, option

GET_A_REWARD_MODEL = ("train one first (\"Train reward model\" in the RLHF tab, or `python -m playground train` "
                      "with method: reward) and choose it as the reward model.")


@dataclass
class PreferenceRecipe(RunRecipe):
    """What every run that learns from preference pairs has: the pairs, a held-out split, and
    LoRA (on by default) on the model that trains."""

    method: ClassVar[str] = ""
    about: ClassVar[str] = ""
    trainer_config_class: ClassVar[str] = ""
    peft_config_class: ClassVar[str] = "LoraConfig"
    task_type: ClassVar[str] = "CAUSAL_LM"

    data: str = LABELS  # "labels" (the Rate tab's), a TRL / HH-RLHF preference JSONL file, or a Hub dataset id
    data_split: str = "train"  # of a Hub dataset
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
        self._check(bool(str(self.data).strip()), f"data is empty: use '{LABELS}' (the Rate tab's labels), a preference file or a Hub dataset id.")
        self._check(bool(re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", str(self.data_split))),
                    f"data_split must be a split name like train or test (got '{str(self.data_split)[:64]}').")
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
class DirectRecipe(PreferenceRecipe):
    """DPO and KTO: the language model itself learns from the labels, with no reward model, held
    near a frozen reference (the model before training) by beta."""

    unpaired: ClassVar[bool] = False  # learns from single labeled replies (prompt, completion, label), not pairs
    learning_rate: float = 5e-5
    beta: float = option(0.1, "beta", "How strongly the policy is held to the reference: lower lets it move further.",
                         (0.01, 1.0, 0.01))
    policy_adapter: str = option("", "Start from adapter", "An SFT adapter to start from (it also becomes the frozen "
                                 "reference); empty: the base model.")

    def __post_init__(self) -> None:
        super().__post_init__()
        self._check(self.beta > 0, f"beta must be above 0 (got {self.beta}).")
        self._check(not self.policy_adapter or self.use_lora,
                    "Starting from an adapter trains that adapter further: set use_lora: true.")

    def method_args(self) -> dict:
        """The method's own keys of its TRL config."""
        return {}


@dataclass
class DPORecipe(DirectRecipe):
    method: ClassVar[str] = "dpo"
    about: ClassVar[str] = ("Direct Preference Optimization trains the language model itself on the pairs, with no "
                            "reward model: it raises the chosen reply's likelihood over the rejected one's, relative "
                            "to a frozen reference (the model before training); beta sets how far it may move.")
    trainer_config_class: ClassVar[str] = "DPOConfig"
    loss_type: str = option("sigmoid", "Loss", "sigmoid: DPO's loss; ipo: IPO's squared loss (less overfitting on "
                            "deterministic preferences); hinge: SLiC's.", choices=("sigmoid", "ipo", "hinge"))

    def __post_init__(self) -> None:
        super().__post_init__()
        self._check(self.loss_type in ("sigmoid", "ipo", "hinge"), "loss_type must be sigmoid, ipo or hinge.")

    def method_args(self) -> dict:
        return {"loss_type": [self.loss_type]}


@dataclass
class KTORecipe(DirectRecipe):
    method: ClassVar[str] = "kto"
    about: ClassVar[str] = ("KTO (Kahneman–Tversky Optimization) learns from single replies marked good or bad, no "
                            "pairs needed: 'both bad' votes, 1–5 ratings (mean ≥ 4 good, ≤ 2 bad) and both sides of "
                            "decisive votes. It raises the likelihood of good replies and lowers that of bad ones, "
                            "relative to a frozen reference, weighing losses more than gains as people do.")
    unpaired: ClassVar[bool] = True
    trainer_config_class: ClassVar[str] = "KTOConfig"
    per_device_train_batch_size: int = 8
    desirable_weight: float = option(1.0, "Good-reply weight", "Raise it when good replies are rarer than bad ones "
                                     "(TRL suggests keeping weight × count of the two sides within 1 to 4/3).",
                                     (0.1, 10.0, 0.1))
    undesirable_weight: float = option(1.0, "Bad-reply weight", "The same for bad replies.", (0.1, 10.0, 0.1))

    def __post_init__(self) -> None:
        super().__post_init__()
        self._check(self.desirable_weight > 0 and self.undesirable_weight > 0,
                    "desirable_weight and undesirable_weight must be above 0.")
        self._check(self.per_device_train_batch_size >= 2,
                    "KTO needs a batch of at least 2 replies: it estimates its KL term from mismatched replies in a batch.")

    def method_args(self) -> dict:
        return {"desirable_weight": self.desirable_weight, "undesirable_weight": self.undesirable_weight}


@dataclass
class PolicyRecipe(PreferenceRecipe):
    """PPO, RLOO and GRPO: a policy trained to earn reward from a reward model on the pairs' prompts."""

    sample_every: int = option(10, "Samples every (steps)", "Every N steps, a reply to a few held-out prompts with its "
                               "reward, shown beside the charts (0: never).", (0, 1000, 1))

    def __post_init__(self) -> None:
        super().__post_init__()
        self._check(self.sample_every >= 0, f"sample_every must be 0 (never) or more steps (got {self.sample_every}).")


@dataclass
class PPORecipe(PolicyRecipe):
    method: ClassVar[str] = "ppo"
    about: ClassVar[str] = ("PPO (Proximal Policy Optimization) trains the model that writes (the policy) to earn more "
                            "reward from a reward model on the prompts of the pairs: it writes replies, the reward "
                            "model scores them, and each update moves the policy a little (clip range) while a KL "
                            "penalty holds it near the frozen reference. A value model learns what reward to expect.")
    trainer_config_class: ClassVar[str] = "PPOConfig"
    learning_rate: float = 1e-4
    reward_model: str = option("", "Reward model", "A reward model trained here (method 'reward'), on this base model's tokenizer.")
    policy_adapter: str = option("", "Start from adapter", "An SFT adapter to start from (a frozen copy of it is the "
                                 "reference); empty: the base model.")
    kl_coef: float = option(0.05, "KL coefficient", "How much each token's drift from the reference costs: higher keeps "
                            "the policy closer (less reward hacking, less change).", (0.0, 1.0, 0.01))
    cliprange: float = option(0.2, "Clip range", "How far one update may change a token's probability ratio.", (0.05, 0.5, 0.05))
    response_length: int = option(64, "Response length", "New tokens per reply (also the cap for models that never "
                                  "write their end-of-sequence token).", (4, 1024, 4))
    num_ppo_epochs: int = option(4, "PPO epochs", "Passes over each batch of replies.", (1, 16, 1))
    num_mini_batches: int = option(1, "Mini-batches", "Each batch is split into this many updates per epoch.", (1, 16, 1))
    temperature: float = option(0.7, "Temperature", "Sampling temperature of the replies.", (0.1, 2.0, 0.05))
    missing_eos_penalty: float = option(1.0, "Missing-EOS penalty", "Subtracted from the reward of a reply that hits "
                                        "the length cap without ending (0: none).", (0.0, 10.0, 0.1))
    total_episodes: int = option(0, "Episodes", "Replies written and scored in all; 0: epochs × training prompts.",
                                 (0, 100000, 8))

    @classmethod
    def trainer_config_type(cls) -> type:
        from playground.training.ppo import ppo_config_class

        return ppo_config_class()

    def __post_init__(self) -> None:
        super().__post_init__()
        self._check(bool(self.reward_model.strip()) if isinstance(self.reward_model, str) else False,
                    f"PPO needs a reward model: {GET_A_REWARD_MODEL}")
        self._check(self.kl_coef >= 0, f"kl_coef must be 0 or more (got {self.kl_coef}).")
        self._check(0 < self.cliprange < 1, f"cliprange must be between 0 and 1 (got {self.cliprange}).")
        self._check(self.response_length >= 1, f"response_length must be at least 1 (got {self.response_length}).")
        self._check(self.max_length - self.response_length >= 8,
                    f"max_length ({self.max_length}) must leave at least 8 prompt tokens beside response_length "
                    f"({self.response_length}).")
        self._check(self.num_ppo_epochs >= 1 and self.num_mini_batches >= 1, "num_ppo_epochs and num_mini_batches must be at least 1.")
        batch = self.per_device_train_batch_size * self.gradient_accumulation_steps
        self._check(batch % self.num_mini_batches == 0,
                    f"The batch ({batch} replies) must split evenly into num_mini_batches ({self.num_mini_batches}).")
        self._check(self.temperature > 0, f"temperature must be above 0 (got {self.temperature}).")
        self._check(self.missing_eos_penalty >= 0, "missing_eos_penalty must be 0 or more.")
        self._check(self.total_episodes >= 0, "total_episodes must be 0 (from epochs) or more.")
        self._check(not self.policy_adapter or self.use_lora,
                    "Starting from an adapter trains that adapter further: set use_lora: true.")


@dataclass
class GroupRecipe(PolicyRecipe):
    """RLOO and GRPO: several replies to each prompt, each judged against the others' rewards (no value model)."""

    reward_model: str = option("", "Reward model", "A reward model trained here (method 'reward').")
    num_generations: int = option(4, "Replies per prompt", "Each reply's advantage is its reward against the others'.",
                                  (2, 32, 1))
    response_length: int = option(64, "Response length", "New tokens per reply at most.", (4, 1024, 4))
    temperature: float = option(1.0, "Temperature", "Sampling temperature of the replies.", (0.1, 2.0, 0.05))
    policy_adapter: str = ""  # not supported: TRL's reference would be the base, not the adapter

    def __post_init__(self) -> None:
        super().__post_init__()
        self._check(isinstance(self.reward_model, str) and bool(self.reward_model.strip()),
                    f"{self.method.upper()} needs a reward model: {GET_A_REWARD_MODEL}")
        self._check(self.beta >= 0, f"beta must be 0 or more (got {self.beta}).")
        self._check(self.num_generations >= 2, "num_generations must be at least 2: each reply is judged against the others.")
        batch = self.per_device_train_batch_size * self.gradient_accumulation_steps
        self._check(batch % self.num_generations == 0,
                    f"The batch ({batch} replies) must be a multiple of num_generations ({self.num_generations}).")
        self._check(self.response_length >= 1, f"response_length must be at least 1 (got {self.response_length}).")
        self._check(self.temperature > 0, f"temperature must be above 0 (got {self.temperature}).")
        self._check(not self.policy_adapter,
                    f"{self.method.upper()} starts from a model, not an adapter (its reference would be the base without "
                    "the adapter): merge the SFT adapter first (Fine-tune tab, Merge) and choose the merged model as the base.")


@dataclass
class GRPORecipe(GroupRecipe):
    method: ClassVar[str] = "grpo"
    about: ClassVar[str] = ("GRPO (Group Relative Policy Optimization) writes a group of replies per prompt and "
                            "rewards each by how it scores against its group (no value model); beta is the weight of "
                            "the KL penalty to the reference.")
    trainer_config_class: ClassVar[str] = "GRPOConfig"
    learning_rate: float = 1e-4
    per_device_train_batch_size: int = 8
    beta: float = option(0.04, "beta (KL weight)", "TRL's GRPO defaults to 0 (no KL penalty at all); the playground sets "
                         "0.04 so the policy stays near its reference. 0 turns it off.", (0.0, 1.0, 0.01))


@dataclass
class RLOORecipe(GroupRecipe):
    method: ClassVar[str] = "rloo"
    about: ClassVar[str] = ("RLOO (REINFORCE Leave-One-Out) writes several replies per prompt; each reply's baseline is "
                            "the mean reward of the others. Simpler than PPO, no value model; beta weighs the KL penalty.")
    trainer_config_class: ClassVar[str] = "RLOOConfig"
    learning_rate: float = 1e-4
    per_device_train_batch_size: int = 8
    beta: float = option(0.05, "beta (KL weight)", "How strongly the policy is held to its reference.", (0.0, 1.0, 0.01))


PREFERENCE_RECIPES: dict[str, type[PreferenceRecipe]] = {
    cls.method: cls for cls in (RewardRecipe, DPORecipe, KTORecipe, PPORecipe, GRPORecipe, RLOORecipe)}
