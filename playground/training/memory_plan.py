"""The memory plan of a training run: how it fits in the device's memory. Each part is a recipe
setting with a plain explanation (shown in the Fine-tune form); `auto` turns a part on where it
helps and the device can do it (a CUDA GPU). `plan_for` resolves the settings for this machine and
refuses, before anything starts, an option the device can't use."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass

from playground.errors import PlaygroundError

SWITCH = ("auto", "on", "off")
LOSSES = ("auto", "on", "chunked", "off")  # fused_loss: on = Liger's kernel, chunked = TRL's, off = whole logits
OPTIMIZERS = ("adamw", "adamw_8bit", "paged_adamw_8bit")
LIGER_PIN = "liger-kernel==0.8.5"

EXPLAIN = {
    "activation_checkpointing": ("Keeps only each block's input during the forward pass and recomputes the rest "
                                 "for the backward pass. Far less memory for activations, about "
                                 "20-30% slower. auto: on a GPU."),
    "optimizer": ("AdamW keeps two numbers per trainable weight, in the weight's own type (16 bits for full "
                  "fine-tuning on a GPU, 32 for adapters). The 8-bit versions (bitsandbytes) keep them in 8 bits, a half "
                  "to a quarter of that; paged ones move them to CPU memory when the GPU runs short. 8-bit needs a "
                  "CUDA GPU."),
    "fit_batch": ("Finds the largest batch per step that fits in the free memory, by the estimate, and accumulates "
                  "gradients over as many steps as keep your effective batch (batch x accumulation): the same "
                  "training, fewer and fuller steps. auto: on a GPU."),
    "fused_loss": ("How the loss over the vocabulary is computed. The logits (batch x length x vocabulary numbers, "
                   "in 32 bits) are the largest activation of a small model with a large vocabulary. on: Liger's fused "
                   f"kernel computes it block by block and never holds them ({LIGER_PIN}, a CUDA GPU). chunked: TRL's "
                   "loss runs the output layer on the completion's tokens only, 256 at a time, recomputed in the "
                   "backward pass (any device; supervised fine-tuning). off: the whole logits at once. auto: on where "
                   "Liger can run, else chunked for fine-tuning, else off."),
}


@dataclass(frozen=True)
class MemoryPlan:
    activation_checkpointing: bool
    optimizer: str  # one of OPTIMIZERS
    loss: str  # "liger" (fused), "chunked" (TRL's chunked loss, supervised fine-tuning) or "logits" (whole logits)
    fit_batch: bool = False  # per-device batch from the free memory, same effective batch (fine-tuning)

    @property
    def fused_loss(self) -> bool:
        return self.loss == "liger"

    def trainer_kwargs(self, sft: bool = False) -> dict:
        """The TRL / transformers TrainingArguments that carry the plan out (`sft`: for an SFTConfig,
        which also takes the loss_type)."""
        kwargs = {"activation_checkpointing": self.activation_checkpointing, "use_liger_kernel": self.fused_loss}
        if sft and not self.fused_loss:
            kwargs["loss_type"] = "chunked_nll" if self.loss == "chunked" else "nll"
        if self.activation_checkpointing:  # non-reentrant: works with frozen inputs (LoRA, QLoRA) and any model
            kwargs["activation_checkpointing_kwargs"] = {"use_reentrant": False}
        if self.optimizer != "adamw":
            kwargs["optim"] = self.optimizer
        return kwargs


def check_choices(recipe) -> None:
    """The plan's settings are known values (any machine: a recipe is written before it runs)."""
    for name in ("activation_checkpointing", "fit_batch"):
        if getattr(recipe, name, "off") not in SWITCH:
            raise PlaygroundError(f"{name} must be auto, on or off (got '{getattr(recipe, name)}').")
    if recipe.fused_loss not in LOSSES:
        raise PlaygroundError(f"fused_loss must be auto, on, chunked or off (got '{recipe.fused_loss}').")
    if recipe.fused_loss == "chunked" and not chunked_loss_available(recipe):
        raise PlaygroundError("fused_loss chunked is TRL's supervised fine-tuning loss, and this run is not one: "
                              "choose auto, on or off.")
    if recipe.optimizer not in OPTIMIZERS:
        raise PlaygroundError(f"optimizer must be one of {', '.join(OPTIMIZERS)} (got '{recipe.optimizer}').")


def plan_for(recipe, cuda: bool | None = None, encoder_decoder: bool = False) -> MemoryPlan:
    """The plan on this machine (`cuda`: whether a CUDA GPU trains; None: ask torch). An
    encoder-decoder model trains with transformers' own loss over the whole logits (Liger's kernels
    and TRL's chunked loss are written for decoder-only models)."""
    if cuda is None:
        from playground.zero_gpu import compute_on_cuda

        cuda = compute_on_cuda()
    check_choices(recipe)
    if encoder_decoder and recipe.fused_loss in ("on", "chunked"):
        raise PlaygroundError(f"fused_loss {recipe.fused_loss} is for decoder-only models; an encoder-decoder model "
                              "trains with its own loss over the whole logits: choose auto or off.")
    if recipe.optimizer != "adamw" and not cuda:
        raise PlaygroundError(f"optimizer {recipe.optimizer} needs a CUDA GPU (bitsandbytes' 8-bit optimizers run "
                              "there) and this machine has none: choose adamw.")
    liger = liger_installed()
    if recipe.fused_loss == "on" and not cuda:
        raise PlaygroundError("fused_loss on needs a CUDA GPU (Liger's kernels are written in Triton) and this machine "
                              "has none: choose auto or off.")
    if recipe.fused_loss == "on" and not liger:
        raise PlaygroundError(f"fused_loss on needs the liger-kernel package: pip install {LIGER_PIN}, or choose "
                              "auto or off.")
    plan = MemoryPlan(
        activation_checkpointing=_switched(recipe.activation_checkpointing, cuda),
        optimizer=recipe.optimizer,
        loss="logits" if encoder_decoder else _loss(recipe, cuda and liger),
        fit_batch=_switched(getattr(recipe, "fit_batch", "off"), cuda),
    )
    if plan.loss == "chunked" and "lm_head" in str(getattr(recipe, "peft_args", {}).get("target_modules", "")):
        raise PlaygroundError("The chunked loss reads the output layer's weight directly, so an adapter on lm_head "
                              "would not train: choose fused_loss off, or leave lm_head out of target_modules.")
    return plan


def _loss(recipe, liger_runs: bool) -> str:
    if recipe.fused_loss == "on" or (recipe.fused_loss == "auto" and liger_runs):
        return "liger"
    if recipe.trainer_args.get("loss_type") == "dft":  # TRL's DFT loss (trainer_args) takes the whole logits
        return "logits"
    if recipe.fused_loss == "chunked" or (recipe.fused_loss == "auto" and chunked_loss_available(recipe)):
        return "chunked"
    return "logits"


def chunked_loss_available(recipe) -> bool:
    """TRL's chunked loss (loss_type chunked_nll) is SFTTrainer's."""
    return getattr(recipe, "trainer_config_class", "") == "SFTConfig"


def liger_installed() -> bool:
    return importlib.util.find_spec("liger_kernel") is not None


def _switched(value: str, cuda: bool) -> bool:
    return value == "on" or (value == "auto" and cuda)
