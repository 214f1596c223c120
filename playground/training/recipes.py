"""Training recipes: one dataclass per method, validated on construction, to and from YAML.

The UI form, the CLI (`python -m playground train RECIPE.yaml --set key=value`) and the run card
all use these objects. Hyperparameters keep the names TRL and PEFT use."""

from __future__ import annotations

import dataclasses
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from playground.errors import PlaygroundError
from playground.settings import DEFAULT_MODEL

OUTPUT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$")
TARGETS = ("attention", "all-linear")
REPORT_TO = ("none", "tensorboard", "trackio", "wandb")


@dataclass
class Recipe:
    """What every method shares: base model, data, split, and the optimizer schedule."""

    method: ClassVar[str] = ""
    about: ClassVar[str] = ""

    base_model: str = DEFAULT_MODEL
    data: str = "summarization"  # a built-in name, a local file, or a Hub dataset id
    data_mix: list[dict] = field(default_factory=list)  # [{"data": ..., "weight": ...}] for multitask mixing
    input_column: str = ""  # empty: the data's own prompt/completion or the built-in mapping
    output_column: str = ""
    template: str = "plain"  # a named instruction template (prompting.TEMPLATES) or "custom"
    custom_template: str = ""  # with {input}; used when template == "custom"
    output_name: str = ""
    val_fraction: float = 0.1
    test_fraction: float = 0.1
    split_seed: int = 0
    learning_rate: float = 2e-4
    num_train_epochs: float = 1.0
    max_steps: int = -1  # > 0 overrides epochs
    per_device_train_batch_size: int = 4
    gradient_accumulation_steps: int = 1
    max_length: int = 512
    packing: bool = False
    seed: int = 42
    logging_steps: int = 1
    eval_steps: int = 0  # 0: evaluate about 10 times over the run
    report_to: str = "none"
    num_processes: int = 1  # > 1 launches through `accelerate launch`

    def __post_init__(self) -> None:
        self._check(bool(str(self.base_model).strip()), "base_model is empty: name a Hub id, a local folder or 'tiny'.")
        self._check(bool(str(self.data).strip()) or bool(self.data_mix), "data is empty: name a built-in set, a file or a Hub dataset.")
        self._check(self.learning_rate > 0, f"learning_rate must be above 0 (got {self.learning_rate}).")
        self._check(self.num_train_epochs > 0 or self.max_steps > 0,
                    "Set num_train_epochs above 0, or max_steps above 0.")
        self._check(self.max_steps == -1 or self.max_steps > 0, f"max_steps must be above 0, or -1 for epochs (got {self.max_steps}).")
        self._check(self.per_device_train_batch_size >= 1, "per_device_train_batch_size must be at least 1.")
        self._check(self.gradient_accumulation_steps >= 1, "gradient_accumulation_steps must be at least 1.")
        self._check(self.max_length >= 8, f"max_length must be at least 8 tokens (got {self.max_length}).")
        self._check(0 <= self.val_fraction < 0.5 and 0 <= self.test_fraction < 0.5,
                    "val_fraction and test_fraction must each be between 0 and 0.5.")
        self._check(self.report_to in REPORT_TO, f"report_to must be one of {', '.join(REPORT_TO)} (got '{self.report_to}').")
        self._check(self.num_processes >= 1, "num_processes must be at least 1.")
        if self.template == "custom":
            self._check("{input}" in self.custom_template, "A custom template needs an {input} placeholder.")
        for part in self.data_mix:
            self._check(isinstance(part, dict) and part.get("data") and float(part.get("weight", 1)) > 0,
                        "Each data_mix entry needs 'data' and a weight above 0.")
        if self.output_name:
            check_output_name(self.output_name)

    @staticmethod
    def _check(ok: bool, message: str) -> None:
        if not ok:
            raise PlaygroundError(message)

    # ---- serialization ----
    def to_dict(self) -> dict[str, Any]:
        return {"method": self.method, **dataclasses.asdict(self)}

    def to_yaml(self) -> str:
        import yaml

        return yaml.safe_dump(self.to_dict(), sort_keys=False)

    def with_method(self, method: str) -> Recipe:
        """The same data and schedule under another method, with that method's own defaults."""
        shared = {f.name: getattr(self, f.name) for f in dataclasses.fields(Recipe)}
        if method == self.method:
            return self
        return RECIPES[method](**shared)

    def cli_command(self, recipe_path: str = "recipe.yaml") -> str:
        return f"python -m playground train {shlex.quote(recipe_path)}"


def check_output_name(name: str) -> None:
    if "/" in name or "\\" in name or ".." in name or not OUTPUT_NAME.match(name):
        raise PlaygroundError(
            f"Output name '{name}' is not allowed: use letters, digits, '.', '_' and '-' (no path separators or '..'), "
            "at most 80 characters."
        )


@dataclass
class FullRecipe(Recipe):
    method: ClassVar[str] = "full"
    about: ClassVar[str] = "Every weight of the model trains. Best quality; needs the most memory (weights, gradients and optimizer state)."
    learning_rate: float = 5e-5


@dataclass
class LoraRecipe(Recipe):
    method: ClassVar[str] = "lora"
    about: ClassVar[str] = ("LoRA freezes the model and trains small low-rank matrices beside chosen layers "
                            "(reparameterization): a few MB of adapter, far less memory.")
    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.05
    target_modules: str = "all-linear"

    def __post_init__(self) -> None:
        super().__post_init__()
        self._check(self.lora_r >= 1, f"lora_r (rank) must be at least 1 (got {self.lora_r}).")
        self._check(self.lora_alpha > 0, f"lora_alpha must be above 0 (got {self.lora_alpha}).")
        self._check(0 <= self.lora_dropout < 1, f"lora_dropout must be in [0, 1) (got {self.lora_dropout}).")
        self._check(self.target_modules in TARGETS, f"target_modules must be one of {', '.join(TARGETS)}.")


@dataclass
class QLoraRecipe(LoraRecipe):
    method: ClassVar[str] = "qlora"
    about: ClassVar[str] = ("QLoRA: LoRA on a base model stored in 4 bits (NF4, double quantization), "
                            "so a model ~4x larger fits in the same memory.")
    bnb_4bit_quant_type: str = "nf4"
    bnb_4bit_use_double_quant: bool = True

    def __post_init__(self) -> None:
        super().__post_init__()
        self._check(self.bnb_4bit_quant_type in ("nf4", "fp4"), "bnb_4bit_quant_type must be nf4 or fp4.")


@dataclass
class PromptTuningRecipe(Recipe):
    method: ClassVar[str] = "prompt_tuning"
    about: ClassVar[str] = ("Prompt tuning (additive): the model is frozen; only a few 'virtual token' "
                            "embeddings put before every input are learned (a soft prompt).")
    learning_rate: float = 3e-2
    num_virtual_tokens: int = 20
    prompt_tuning_init: str = "TEXT"  # TEXT or RANDOM
    prompt_tuning_init_text: str = "Summarize the following conversation."

    def __post_init__(self) -> None:
        super().__post_init__()
        self._check(1 <= self.num_virtual_tokens <= 512, f"num_virtual_tokens must be 1 to 512 (got {self.num_virtual_tokens}).")
        self._check(self.prompt_tuning_init in ("TEXT", "RANDOM"), "prompt_tuning_init must be TEXT or RANDOM.")
        if self.prompt_tuning_init == "TEXT":
            self._check(bool(self.prompt_tuning_init_text.strip()), "prompt_tuning_init_text is empty: write a text or use RANDOM.")


@dataclass
class SelectiveRecipe(Recipe):
    method: ClassVar[str] = "selective"
    about: ClassVar[str] = ("Selective fine-tuning: only chosen parameters train (the last N blocks, "
                            "or only the biases / norms); the rest stays frozen.")
    learning_rate: float = 1e-4
    trainable: str = "last_n_blocks"  # last_n_blocks, biases or norms
    last_n_blocks: int = 2

    def __post_init__(self) -> None:
        super().__post_init__()
        self._check(self.trainable in ("last_n_blocks", "biases", "norms"),
                    "trainable must be last_n_blocks, biases or norms.")
        self._check(self.last_n_blocks >= 1, "last_n_blocks must be at least 1.")


@dataclass
class IA3Recipe(Recipe):
    method: ClassVar[str] = "ia3"
    about: ClassVar[str] = ("(IA)³ (additive): learned vectors rescale the keys, values and feed-forward "
                            "activations; even fewer parameters than LoRA.")
    learning_rate: float = 3e-3


RECIPES: dict[str, type[Recipe]] = {
    cls.method: cls for cls in (FullRecipe, LoraRecipe, QLoraRecipe, PromptTuningRecipe, SelectiveRecipe, IA3Recipe)
}


def recipe_from_dict(values: dict[str, Any]) -> Recipe:
    values = dict(values or {})
    method = str(values.pop("method", "")).strip()
    if method not in RECIPES:
        raise PlaygroundError(f"Unknown method '{method}': use one of {', '.join(RECIPES)}.")
    cls = RECIPES[method]
    known = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise PlaygroundError(f"Unknown recipe keys for method '{method}': {', '.join(unknown)}. "
                              f"Known keys: {', '.join(sorted(known))}.")
    try:
        return cls(**{k: _coerce(known[k], v) for k, v in values.items()})
    except (TypeError, ValueError) as err:
        if isinstance(err, PlaygroundError):
            raise
        raise PlaygroundError(f"Bad recipe value: {err}") from err


def _coerce(f: dataclasses.Field, value: Any) -> Any:
    """Values from YAML or --set key=value strings, turned into the field's type."""
    kind = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", "")
    if not isinstance(value, str) or kind == "str":
        return value
    try:
        if kind == "bool":
            if value.lower() not in ("true", "false", "1", "0", "yes", "no"):
                raise ValueError
            return value.lower() in ("true", "1", "yes")
        if kind == "int":
            return int(value)
        if kind == "float":
            return float(value)
    except ValueError:
        raise PlaygroundError(f"'{f.name}' needs a {kind}, got '{value}'.") from None
    if kind.startswith("list"):
        import yaml

        return yaml.safe_load(value)
    return value


def load_recipe(path: str | Path, overrides: list[str] | None = None) -> Recipe:
    import yaml

    path = Path(path)
    if not path.is_file():
        raise PlaygroundError(f"Recipe file not found: {path}.")
    try:
        values = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as err:
        raise PlaygroundError(f"{path.name} is not valid YAML: {str(err).splitlines()[0]}") from err
    if not isinstance(values, dict):
        raise PlaygroundError(f"{path.name} must be a mapping of keys to values.")
    for item in overrides or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise PlaygroundError(f"--set takes key=value (got '{item}').")
        values[key.strip()] = value
    return recipe_from_dict(values)
