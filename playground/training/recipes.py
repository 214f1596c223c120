"""Training recipes, validated on construction, to and from YAML.

`RunRecipe` is what every training run has (model, schedule, seed); `SFTRecipe` adds what
supervised fine-tuning needs (data, templates, column mapping, mixing, packing). Each method is a
subclass of SFTRecipe that owns its behaviour: its PEFT config, how its base model is loaded and
what it freezes. `RECIPES` maps a method to its class, as PEFT maps a method to its config.

A key that is not a field of the recipe passes through to the method's PEFT config (e.g.
`use_dora`) or to TRL's SFTConfig (e.g. `weight_decay`), checked against their fields, so a new
TRL or PEFT hyperparameter needs no code here. The UI form, the CLI (`python -m playground train
RECIPE.yaml --set key=value`) and the run card all use these objects."""

from __future__ import annotations

import dataclasses
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from playground import access, limits
from playground.errors import PlaygroundError
from playground.runs import check_name
from playground.settings import DEFAULT_MODEL

TARGETS = ("attention", "all-linear")
ATTENTION = ["q_proj", "k_proj", "v_proj", "o_proj"]
# the attention projections of encoder-decoder families (LoRA's "attention" targets)
SEQ2SEQ_ATTENTION = {**dict.fromkeys(("t5", "mt5", "umt5", "longt5"), ["q", "k", "v", "o"]),
                     **dict.fromkeys(("bart", "mbart", "pegasus", "marian", "blenderbot", "plbart"),
                                     ["q_proj", "k_proj", "v_proj", "out_proj"])}
REPORT_TO = ("none", "tensorboard", "trackio", "wandb")
RESERVED_TRAINER_ARGS = {"output_dir", "disable_tqdm", "use_cpu", "report_to", "save_strategy"}  # set by the playground itself
PLAN_KEYS = {"gradient_checkpointing": "activation_checkpointing", "activation_checkpointing": "activation_checkpointing",
             "optim": "optimizer", "use_liger_kernel": "fused_loss"}  # TRL's keys for the memory plan -> the recipe's


def option(default, label: str, help: str = "", range: tuple | None = None, choices: tuple | None = None):
    """A method's own setting, with what a form needs to show it (label, a plain explanation, and
    a numeric range or the choices), so a new setting is added here and nowhere else."""
    meta = {"label": label, "help": help, "range": range, "choices": choices}
    return field(default=default, metadata=meta)


def own_options(cls: type) -> list[dataclasses.Field]:
    """The settings a method adds to SFTRecipe (its own and its parents' up to SFTRecipe)."""
    shared = {f.name for f in dataclasses.fields(SFTRecipe)}
    return [f for f in dataclasses.fields(cls) if f.name not in shared and f.metadata.get("label")]


@dataclass
class RunRecipe:
    """What every training run has: a base model, the optimizer schedule and a seed."""

    base_model: str = DEFAULT_MODEL
    output_name: str = ""
    learning_rate: float = 2e-4
    num_train_epochs: float = 1.0
    max_steps: int = -1  # > 0 overrides epochs
    per_device_train_batch_size: int = 4
    gradient_accumulation_steps: int = 1
    seed: int = 42
    logging_steps: int = 1
    eval_steps: int = 0  # 0: evaluate about 10 times over the run
    report_to: str = "none"
    num_processes: int = 1  # > 1 launches through `accelerate launch`
    checkpoint_minutes: float = 10.0  # a resumable checkpoint this often, when stopped and at the end; 0: only when stopped
    # the memory plan (memory_plan.py): auto = on where it helps and the device can do it
    activation_checkpointing: str = "auto"
    optimizer: str = "adamw"
    fused_loss: str = "auto"
    trainer_args: dict = field(default_factory=dict)  # more TRL config keys, checked against its fields

    def __post_init__(self) -> None:
        self._check(bool(str(self.base_model).strip()), "base_model is empty: name a Hub id, a local folder or 'tiny'.")
        self._check(self.learning_rate > 0, f"learning_rate must be above 0 (got {self.learning_rate}).")
        # An Adam-type optimizer moves each weight by about the learning rate per step: above 1 is a typo
        self._check(self.learning_rate <= 1, f"learning_rate must be at most 1 (got {self.learning_rate:g}): typical "
                    "values are 1e-5 to 1e-4 for full fine-tuning, 1e-4 to 3e-3 for LoRA, up to 0.3 for prompt tuning.")
        self._check(self.num_train_epochs > 0 or self.max_steps > 0,
                    "Set num_train_epochs above 0, or max_steps above 0.")
        self._check(self.max_steps == -1 or self.max_steps > 0, f"max_steps must be above 0, or -1 for epochs (got {self.max_steps}).")
        cap = limits.current()
        cap.check(self.max_steps, "train_steps", "max_steps")
        cap.check(self.num_train_epochs, "train_epochs", "num_train_epochs")
        self._check(self.per_device_train_batch_size >= 1, "per_device_train_batch_size must be at least 1.")
        self._check(self.gradient_accumulation_steps >= 1, "gradient_accumulation_steps must be at least 1.")
        self._check(self.seed >= 0, f"seed must be 0 or more (got {self.seed}).")
        self._check(self.report_to in REPORT_TO, f"report_to must be one of {', '.join(REPORT_TO)} (got '{self.report_to}').")
        self._check(self.num_processes >= 1, "num_processes must be at least 1.")
        self._check(self.checkpoint_minutes >= 0, f"checkpoint_minutes must be 0 (only when stopped) or more "
                    f"(got {self.checkpoint_minutes}).")
        self._check(isinstance(self.trainer_args, dict), "trainer_args must be a mapping of TRL config keys to values.")
        reserved = sorted(RESERVED_TRAINER_ARGS & set(self.trainer_args))
        self._check(not reserved, f"trainer_args can't set {', '.join(reserved)}: the playground sets it.")
        planned = sorted(set(PLAN_KEYS) & set(self.trainer_args))
        self._check(not planned, f"trainer_args can't set {', '.join(planned)}: set the recipe's "
                    f"{', '.join(sorted({PLAN_KEYS[k] for k in planned}))} instead (the memory plan).")
        own = sorted({f.name for f in dataclasses.fields(self)} & set(self.trainer_args))  # else the recipe's checks are bypassed
        self._check(not own, f"trainer_args can't set {', '.join(own)}: it is a recipe key, set it there.")
        from playground.training.memory_plan import check_choices

        check_choices(self)
        if self.output_name:
            check_name(self.output_name)

    @classmethod
    def trainer_config_type(cls) -> type:
        """The TRL config class whose fields extra recipe keys may set (named by trainer_config_class)."""
        import trl

        return getattr(trl, cls.trainer_config_class)

    @staticmethod
    def _check(ok: bool, message: str) -> None:
        if not ok:
            raise PlaygroundError(message)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_yaml(self) -> str:
        import yaml

        return yaml.safe_dump(self.to_dict(), sort_keys=False)


@dataclass
class SFTRecipe(RunRecipe):
    """Supervised fine-tuning: what the data is and how each example becomes a training prompt.
    Subclasses are the methods."""

    method: ClassVar[str] = ""
    title: ClassVar[str] = ""
    about: ClassVar[str] = ""
    trainer_config_class: ClassVar[str] = "SFTConfig"  # the TRL config whose fields extra keys may set
    is_peft: ClassVar[bool] = False  # saved as a PEFT adapter on an untouched base
    mergeable: ClassVar[bool] = False  # can be folded into its base weights (LoRA)
    quantized_base: ClassVar[bool] = False  # the frozen base is stored in 4 bits
    peft_config_class: ClassVar[str] = ""  # the peft class whose fields extra keys may set

    data: str = "summarization"  # a built-in name, a local file, or a Hub dataset id
    data_mix: list[dict] = field(default_factory=list)  # [{"data": ..., "weight": ...}] mixed in (data weighs 1 unless listed)
    input_column: str = ""  # empty: the data's own prompt/completion or the built-in mapping
    output_column: str = ""
    template: str = "plain"  # a named instruction template (sft_data.TEMPLATES) or "custom"
    custom_template: str = ""  # with {input}; used when template == "custom"
    val_fraction: float = 0.1
    test_fraction: float = 0.1
    split_seed: int = 0
    max_length: int = 512
    packing: bool = False
    fit_batch: str = "auto"  # memory plan: per-device batch from the free memory, same effective batch
    peft_args: dict = field(default_factory=dict)  # more keys of the method's PEFT config

    def __post_init__(self) -> None:
        super().__post_init__()
        self._check(bool(str(self.data).strip()) or bool(self.data_mix), "data is empty: name a built-in set, a file or a Hub dataset.")
        self._check(self.max_length >= 8, f"max_length must be at least 8 tokens (got {self.max_length}).")
        self._check(0 <= self.val_fraction < 0.5 and 0 <= self.test_fraction < 0.5,
                    "val_fraction and test_fraction must each be between 0 and 0.5.")
        if self.template == "custom":
            self._check("{input}" in self.custom_template, "A custom template needs an {input} placeholder.")
        for part in self.data_mix:
            self._check(isinstance(part, dict) and part.get("data") and float(part.get("weight", 1)) > 0,
                        "Each data_mix entry needs 'data' and a weight above 0.")
        self._check(isinstance(self.peft_args, dict), "peft_args must be a mapping of PEFT config keys to values.")
        self._check(not self.peft_args or self.is_peft, f"{self.method} has no PEFT config: remove peft_args.")
        self._check(self.trainer_args.get("loss_type", "dft") == "dft", "trainer_args can't set loss_type "
                    f"'{self.trainer_args.get('loss_type')}': set fused_loss instead (chunked or off; the memory plan), "
                    "or loss_type dft.")

    def to_dict(self) -> dict[str, Any]:
        return {"method": self.method, **dataclasses.asdict(self)}

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> SFTRecipe:
        return recipe_from_dict(values)

    def with_method(self, method: str) -> SFTRecipe:
        """The same data and schedule under another method, with that method's own defaults."""
        if method == self.method:
            return self
        shared = {f.name: getattr(self, f.name) for f in dataclasses.fields(SFTRecipe)
                  if f.name not in ("learning_rate", "peft_args")}
        return RECIPES[method](**shared)

    def cli_command(self, recipe_path: str = "recipe.yaml") -> str:
        return f"python -m playground train {shlex.quote(recipe_path)}"

    # ---- the method's behaviour ----
    def quantization_config(self, dtype):
        """A transformers quantization config for the base model, or None."""
        return None

    def load_base(self, source: str):
        """The base model (decoder-only or encoder-decoder) in the dtype and quantization the method needs."""
        import transformers

        from playground.models import auto_model_class, source_config
        from playground.training.trainer_args import training_dtype
        from playground.zero_gpu import compute_on_cuda

        cuda = compute_on_cuda()
        dtype = training_dtype()
        quant = self.quantization_config(dtype)
        auto_class = getattr(transformers, auto_model_class(source_config(source)))
        if quant is None:
            return auto_class.from_pretrained(source, use_safetensors=True, dtype=dtype)
        model = auto_class.from_pretrained(source, use_safetensors=True, quantization_config=quant, dtype=dtype,
                                           device_map="auto" if cuda else "cpu")
        return self.prepare_quantized(model)

    def prepare_quantized(self, model):
        """A 4-bit base ready for adapters: every weight frozen (the adapters bring their own)."""
        for param in model.parameters():
            param.requires_grad_(False)
        return model

    def peft_config(self, source: str):
        """The method's PEFT config, or None when the model's own weights train."""
        return None

    def prepare(self, model) -> None:
        """Freeze what the method does not train (PEFT methods are frozen by PEFT itself)."""

    def counting_recipe(self) -> SFTRecipe:
        """The recipe to count trainable parameters with (on the meta device, where values can't be set)."""
        return self


def check_lora(recipe) -> None:
    """The LoRA settings of any recipe that has them (lora_r, lora_alpha, lora_dropout, target_modules)."""
    RunRecipe._check(recipe.lora_r >= 1, f"lora_r (rank) must be at least 1 (got {recipe.lora_r}).")
    RunRecipe._check(recipe.lora_alpha > 0, f"lora_alpha must be above 0 (got {recipe.lora_alpha}).")
    RunRecipe._check(0 <= recipe.lora_dropout < 1, f"lora_dropout must be in [0, 1) (got {recipe.lora_dropout}).")
    RunRecipe._check(recipe.target_modules in TARGETS, f"target_modules must be one of {', '.join(TARGETS)}.")


def lora_config(recipe, task_type: str, attention: list[str] = ATTENTION, **extra):
    """PEFT's LoraConfig from a recipe's LoRA settings, for a causal LM, an encoder-decoder
    (SEQ_2_SEQ_LM, with its own `attention` projections' names) or a classifier (SEQ_CLS)."""
    from peft import LoraConfig

    targets = "all-linear" if recipe.target_modules == "all-linear" else attention
    return LoraConfig(task_type=task_type, r=recipe.lora_r, lora_alpha=recipe.lora_alpha, lora_dropout=recipe.lora_dropout,
                      target_modules=targets, **extra, **recipe.peft_args)


@dataclass
class FullRecipe(SFTRecipe):
    method: ClassVar[str] = "full"
    title: ClassVar[str] = "Full fine-tuning"  # as the Fine-tune form names it
    about: ClassVar[str] = "Every weight of the model trains. Best quality; needs the most memory (weights, gradients and optimizer state)."
    learning_rate: float = 5e-5


@dataclass
class LoraRecipe(SFTRecipe):
    method: ClassVar[str] = "lora"
    title: ClassVar[str] = "LoRA"  # as the Fine-tune form names it
    about: ClassVar[str] = ("LoRA freezes the model and trains small low-rank matrices beside chosen layers "
                            "(reparameterization): a few MB of adapter, far less memory.")
    is_peft: ClassVar[bool] = True
    mergeable: ClassVar[bool] = True
    peft_config_class: ClassVar[str] = "LoraConfig"
    lora_r: int = option(16, "LoRA rank (r)", "Size of the low-rank update: more capacity, more parameters.", (1, 128, 1))
    lora_alpha: int = option(32, "LoRA alpha", "Scales the update (effective scale alpha/r).", (1, 256, 1))
    lora_dropout: float = option(0.05, "LoRA dropout", "Drops part of the update's input while training (regularization).",
                                 (0.0, 0.5, 0.01))
    target_modules: str = option("all-linear", "Target modules", "Attention projections only, or every linear layer.",
                                 choices=TARGETS)

    def __post_init__(self) -> None:
        super().__post_init__()
        check_lora(self)

    def peft_config(self, source: str):
        from playground.models import is_encoder_decoder_config, source_config

        config = source_config(source)
        if not is_encoder_decoder_config(config):
            return lora_config(self, "CAUSAL_LM")
        if self.target_modules != "all-linear" and config.model_type not in SEQ2SEQ_ATTENTION:
            raise PlaygroundError(f"The attention layers of a '{config.model_type}' model are not known here: choose "
                                  "all-linear as LoRA's target modules.")
        return lora_config(self, "SEQ_2_SEQ_LM", SEQ2SEQ_ATTENTION.get(config.model_type, ATTENTION))


@dataclass
class QLoraRecipe(LoraRecipe):
    method: ClassVar[str] = "qlora"
    title: ClassVar[str] = "QLoRA (4-bit base)"  # as the Fine-tune form names it
    about: ClassVar[str] = ("QLoRA: LoRA on a base model stored in 4 bits (NF4, double quantization), "
                            "so a model ~4x larger fits in the same memory.")
    quantized_base: ClassVar[bool] = True
    bnb_4bit_quant_type: str = option("nf4", "4-bit type", "NF4 suits normally distributed weights (QLoRA's choice); FP4 is plain 4-bit float.",
                                      choices=("nf4", "fp4"))
    bnb_4bit_use_double_quant: bool = option(True, "Double quantization",
                                             "Quantize the quantization constants too (~0.4 bits per weight saved).")
    upcast_non_quantized: bool = option(False, "Other weights in 32 bits",
                                        "Embeddings and norms in 32 bits, as PEFT's kbit preparation does: steadier "
                                        "in rare cases, twice their GPU memory. Off: 16 bits.")

    def __post_init__(self) -> None:
        super().__post_init__()
        self._check(self.bnb_4bit_quant_type in ("nf4", "fp4"), "bnb_4bit_quant_type must be nf4 or fp4.")

    def prepare_quantized(self, model):
        if not self.upcast_non_quantized:
            return super().prepare_quantized(model)
        from peft import prepare_model_for_kbit_training

        return prepare_model_for_kbit_training(model, use_gradient_checkpointing=False)

    def quantization_config(self, dtype):
        from transformers import BitsAndBytesConfig

        return BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type=self.bnb_4bit_quant_type,
                                  bnb_4bit_use_double_quant=self.bnb_4bit_use_double_quant, bnb_4bit_compute_dtype=dtype)


@dataclass
class PromptTuningRecipe(SFTRecipe):
    method: ClassVar[str] = "prompt_tuning"
    title: ClassVar[str] = "Prompt tuning (soft prompt)"  # as the Fine-tune form names it
    about: ClassVar[str] = ("Prompt tuning (additive): the model is frozen; only a few 'virtual token' "
                            "embeddings put before every input are learned (a soft prompt).")
    is_peft: ClassVar[bool] = True
    peft_config_class: ClassVar[str] = "PromptTuningConfig"
    learning_rate: float = 3e-2
    num_virtual_tokens: int = option(20, "Virtual tokens", "Length of the learned soft prompt.", (1, 100, 1))
    prompt_tuning_init: str = option("TEXT", "Initialize from", "Start the soft prompt from the embeddings of a text, or at random.",
                                     choices=("TEXT", "RANDOM"))
    prompt_tuning_init_text: str = option("Summarize the following conversation.", "Initial text",
                                          "Used with TEXT: words that describe the task.")

    def __post_init__(self) -> None:
        super().__post_init__()
        self._check(1 <= self.num_virtual_tokens <= 512, f"num_virtual_tokens must be 1 to 512 (got {self.num_virtual_tokens}).")
        self._check(self.prompt_tuning_init in ("TEXT", "RANDOM"), "prompt_tuning_init must be TEXT or RANDOM.")
        if self.prompt_tuning_init == "TEXT":
            self._check(bool(self.prompt_tuning_init_text.strip()), "prompt_tuning_init_text is empty: write a text or use RANDOM.")

    def peft_config(self, source: str):
        from peft import PromptTuningConfig, PromptTuningInit, TaskType

        from playground.models import is_encoder_decoder_config, source_config

        text = self.prompt_tuning_init == "TEXT"
        # an encoder-decoder's soft prompt goes before the encoder's input only (Lester et al. on T5; PEFT's
        # generate() reads only that one, while its default of 2 would also train an unused decoder prompt)
        where = ({"task_type": TaskType.SEQ_2_SEQ_LM, "num_transformer_submodules": 1}
                 if is_encoder_decoder_config(source_config(source)) else {"task_type": TaskType.CAUSAL_LM})
        return PromptTuningConfig(
            **where, num_virtual_tokens=self.num_virtual_tokens,
            prompt_tuning_init=PromptTuningInit.TEXT if text else PromptTuningInit.RANDOM,
            prompt_tuning_init_text=self.prompt_tuning_init_text if text else None,
            tokenizer_name_or_path=source if text else None, **self.peft_args,
        )

    def counting_recipe(self) -> SFTRecipe:
        return dataclasses.replace(self, prompt_tuning_init="RANDOM")  # the init text changes values, not the count


@dataclass
class SelectiveRecipe(SFTRecipe):
    method: ClassVar[str] = "selective"
    title: ClassVar[str] = "Selective"  # as the Fine-tune form names it
    about: ClassVar[str] = ("Selective fine-tuning: only chosen parameters train (the last N blocks, "
                            "or only the biases / norms); the rest stays frozen.")
    learning_rate: float = 1e-4
    trainable: str = option("last_n_blocks", "Train only", "The last N transformer blocks (of the encoder and of the "
                            "decoder, in an encoder-decoder), or only the biases, or only the norms.",
                            choices=("last_n_blocks", "biases", "norms"))
    last_n_blocks: int = option(2, "Last N blocks", "Used with last_n_blocks.", (1, 48, 1))

    def __post_init__(self) -> None:
        super().__post_init__()
        self._check(self.trainable in ("last_n_blocks", "biases", "norms"),
                    "trainable must be last_n_blocks, biases or norms.")
        self._check(self.last_n_blocks >= 1, "last_n_blocks must be at least 1.")

    def prepare(self, model) -> None:
        for param in model.parameters():
            param.requires_grad = False
        if self.trainable == "last_n_blocks":
            from playground.training.blocks import block_stacks

            for stack in block_stacks(model):  # an encoder-decoder's encoder and decoder each
                for block in stack[-min(self.last_n_blocks, len(stack)):]:
                    for param in block.parameters():
                        param.requires_grad = True
            return
        suffix = "bias" if self.trainable == "biases" else "norm"
        chosen = [p for name, p in model.named_parameters() if name.endswith(suffix) or (suffix == "norm" and "norm" in name)]
        if not chosen:
            raise PlaygroundError(f"This model has no {self.trainable} to train: choose last_n_blocks instead.")
        for param in chosen:
            param.requires_grad = True


@dataclass
class IA3Recipe(SFTRecipe):
    method: ClassVar[str] = "ia3"
    title: ClassVar[str] = "(IA)³"  # as the Fine-tune form names it
    about: ClassVar[str] = ("(IA)³ (additive): learned vectors rescale the keys, values and feed-forward "
                            "activations; even fewer parameters than LoRA.")
    is_peft: ClassVar[bool] = True
    peft_config_class: ClassVar[str] = "IA3Config"
    learning_rate: float = 3e-3

    def peft_config(self, source: str):
        from peft import IA3Config, TaskType
        from peft.utils import TRANSFORMERS_MODELS_TO_IA3_TARGET_MODULES_MAPPING

        from playground.models import is_encoder_decoder_config, source_config

        config = source_config(source)
        if "target_modules" not in self.peft_args and config.model_type not in TRANSFORMERS_MODELS_TO_IA3_TARGET_MODULES_MAPPING:
            raise PlaygroundError(f"(IA)³ knows no layers to scale in a '{config.model_type}' model: give peft_args "
                                  "target_modules and feedforward_modules, or choose LoRA.")
        seq2seq = is_encoder_decoder_config(config)  # (IA)3's own paper tuned T0, a T5
        return IA3Config(task_type=TaskType.SEQ_2_SEQ_LM if seq2seq else TaskType.CAUSAL_LM, **self.peft_args)


RECIPES: dict[str, type[SFTRecipe]] = {
    cls.method: cls for cls in (FullRecipe, LoraRecipe, QLoraRecipe, PromptTuningRecipe, SelectiveRecipe, IA3Recipe)
}


def recipe_from_dict(values: dict[str, Any]) -> SFTRecipe:
    values = dict(values or {})
    method = str(values.pop("method", "")).strip()
    if method not in RECIPES:
        from playground.kinds import TRAINING_KINDS

        raise PlaygroundError(f"Unknown method '{method}': use one of {', '.join([*RECIPES, *TRAINING_KINDS])}.")
    return build_recipe(RECIPES[method], values)


def build_recipe(cls: type, values: dict[str, Any]):
    """A recipe of class `cls` from YAML or form values (without "method"): values are turned into
    each field's type, and keys that are not fields pass through to the PEFT or TRL config."""
    known = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - set(known))
    if unknown:
        _pass_through(cls, values, unknown)
    try:
        return cls(**{k: _coerce(known[k], v) for k, v in values.items()})
    except (TypeError, ValueError) as err:
        if isinstance(err, PlaygroundError):
            raise
        raise PlaygroundError(f"Bad recipe value: {err}") from err


def _pass_through(cls: type, values: dict, unknown: list[str]) -> None:
    """Move keys that are not recipe fields into peft_args (fields of the method's PEFT config)
    or trainer_args (fields of its TRL config); anything else is refused, with what is known."""
    peft_fields: set[str] = set()
    if cls.peft_config_class:
        import peft

        peft_fields = {f.name for f in dataclasses.fields(getattr(peft, cls.peft_config_class))}
    trainer_config = cls.trainer_config_type()
    trainer_fields = {f.name for f in dataclasses.fields(trainer_config)} - RESERVED_TRAINER_ARGS  # plan keys: explained
    rest = []
    for key in unknown:
        value = _yaml_value(values.pop(key))
        if key in peft_fields:
            values.setdefault("peft_args", {})[key] = value
        elif key in trainer_fields:
            values.setdefault("trainer_args", {})[key] = value
        else:
            rest.append(key)
    if rest:
        where = f"{cls.peft_config_class} or " if cls.peft_config_class else ""
        raise PlaygroundError(f"Unknown recipe keys for method '{cls.method}': {', '.join(rest)}. They are neither recipe "
                              f"keys ({', '.join(sorted(f.name for f in dataclasses.fields(cls)))}) nor fields of "
                              f"{where}TRL's {cls.trainer_config_class}.")


def _yaml_value(value: Any) -> Any:
    if isinstance(value, str):
        import yaml

        try:
            return yaml.safe_load(value)
        except yaml.YAMLError:
            return value
    return value


def _coerce(f: dataclasses.Field, value: Any) -> Any:
    """Values from YAML or --set key=value strings, turned into the field's type."""
    kind = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", "")
    if kind == "int" and isinstance(value, float) and value.is_integer():
        return int(value)  # a whole number from a form's number box
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
        wanted = {"int": "a whole number", "float": "a number", "bool": "true or false"}[kind]
        raise PlaygroundError(f"'{f.name}' needs {wanted}, got '{value}'.") from None
    if kind.startswith(("list", "dict")):
        import yaml

        return yaml.safe_load(value)
    return value


def load_recipe(path: str | Path, overrides: list[str] | None = None) -> SFTRecipe:
    return recipe_from_dict(read_recipe_values(path, overrides))


def _beside(values: dict, key: str, folder: Path) -> None:
    """A relative file path in a recipe names a file beside the recipe (as a YAML file read from
    anywhere means it), when one is there; anything else is left as written."""
    from playground.data import BUILTIN_TASKS

    value = values.get(key)
    if isinstance(value, str) and value.strip() and value.strip() not in BUILTIN_TASKS \
            and not Path(value).expanduser().is_absolute() and access.is_file(folder / value.strip()):
        values[key] = str((folder / value.strip()).resolve())


def read_recipe_values(path: str | Path, overrides: list[str] | None = None) -> dict[str, Any]:
    """The keys of a recipe YAML file, with `--set key=value` overrides applied (values still text)."""
    import yaml

    path = Path(path)
    if not access.is_file(path):
        raise PlaygroundError(f"Recipe file not found: {str(path)[:200]}.")
    try:
        values = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as err:
        raise PlaygroundError(f"{path.name} is not valid YAML: {str(err).splitlines()[0]}") from err
    if not isinstance(values, dict):
        raise PlaygroundError(f"{path.name} must be a mapping of keys to values.")
    _beside(values, "data", path.parent)
    for part in values.get("data_mix") or []:
        if isinstance(part, dict):
            _beside(part, "data", path.parent)
    for item in overrides or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise PlaygroundError(f"--set takes key=value (got '{item}').")
        values[key.strip()] = value
    return values

