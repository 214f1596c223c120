"""Before launch: trainable parameters (counted on the real architecture, without loading its
weights) and an estimate of peak memory per method against what the device has free."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from playground.training.recipes import SFTRecipe

GIB = 2**30
# What "fits" keeps free: the estimate aims at ±20% of the measured peak (it was 10% under one on an H200),
# so a method fits when its estimate leaves a fifth of the free memory, and fit_batch keeps to that
FIT_SHARE = 0.8


@dataclass
class MemoryEstimate:
    weights: float  # bytes
    gradients: float
    optimizer: float
    activations: float
    available: float
    device: str

    @property
    def total(self) -> float:
        return self.weights + self.gradients + self.optimizer + self.activations

    @property
    def fits(self) -> bool:
        return self.total < self.available * FIT_SHARE

    def verdict(self) -> str:
        if self.fits:
            return "it fits"
        if self.total < self.available:
            return "it may not fit (the estimate is good to about ±20%)"
        return "it probably does NOT fit"


def count_trainable(recipe: SFTRecipe, source: str) -> tuple[int, int, object]:
    """(trainable, total, config) for the recipe's method on the model at `source`, built on the
    meta device: exact counts, no weights loaded."""
    import torch
    import transformers

    from playground.models import auto_model_class, source_config
    from playground.training.sft import count_params

    config = source_config(source)
    with torch.device("meta"):  # (accelerate's init_empty_weights unties tied embeddings)
        model = getattr(transformers, auto_model_class(config)).from_config(config, dtype=torch.float32)
    recipe.prepare(model)
    if recipe.is_peft:
        from peft import get_peft_model

        model = get_peft_model(model, recipe.counting_recipe().peft_config(source))
    trainable, total = count_params(model)
    return trainable, total, config


_NEVER_QUANTIZED: dict[str, int] = {}  # config (as JSON) -> count


def never_quantized(config) -> int:
    """Parameters a 4-bit load leaves unquantized besides the embeddings: the layers the model class
    keeps in full precision (T5's feed-forward output `wo`), which transformers never quantizes.
    Counted on the meta device, once per config."""
    import torch
    import transformers

    from playground.models import auto_model_class

    key = config.to_json_string()
    if key not in _NEVER_QUANTIZED:
        with torch.device("meta"):
            model = getattr(transformers, auto_model_class(config)).from_config(config, dtype=torch.float32)
        kept = set(model._keep_in_fp32_modules or ())  # what transformers' 4-bit quantizer leaves out
        _NEVER_QUANTIZED[key] = sum(p.numel() for name, p in model.named_parameters() if kept & set(name.split(".")))
    return _NEVER_QUANTIZED[key]


def estimate_memory(recipe: SFTRecipe, config, trainable: int, total: int) -> MemoryEstimate:
    """A back-of-the-envelope peak under the run's memory plan: weights + gradients + optimizer
    state + activations (including the loss over the vocabulary, which dominates for small models
    with large vocabularies when it holds the whole logits)."""
    import psutil
    import torch

    from playground.models import is_encoder_decoder_config
    from playground.training.blocks import block_counts
    from playground.training.memory_plan import plan_for
    from playground.zero_gpu import compute_on_cuda

    cuda = compute_on_cuda()
    encoder_decoder = is_encoder_decoder_config(config)
    plan = plan_for(recipe, cuda, encoder_decoder)
    width = 2 if cuda and torch.cuda.is_bf16_supported() else 4  # bytes per value
    # an encoder-decoder's decoder blocks too (counted at the prompt's length: an upper bound for short replies)
    hidden, layers = config.hidden_size, sum(block_counts(config)) or config.num_hidden_layers
    vocab = config.vocab_size
    embeddings = vocab * hidden * (1 if getattr(config, "tie_word_embeddings", False) else 2)
    head_width = width  # bytes per value of the embeddings and the output layer
    if recipe.quantized_base:  # linear layers in NF4 (~0.53 bytes with double quantization), the rest as is
        head_width = 4 if getattr(recipe, "upcast_non_quantized", False) else width
        kept = embeddings + never_quantized(config)
        weights = (total - trainable - kept) * 0.53 + kept * head_width + trainable * 4
    else:
        weights = total * width
    # Full and selective fine-tuning train the weights in their own dtype; PEFT keeps its adapters in float32
    # (it upcasts 16-bit ones). AdamW keeps two moments per trainable value in that dtype; 8-bit ones in a byte.
    trainable_width = 4 if recipe.is_peft else width
    gradients = trainable * trainable_width
    optimizer = trainable * (2 if "8bit" in plan.optimizer else 2 * trainable_width)
    batch, seq = recipe.per_device_train_batch_size, recipe.max_length
    if recipe.method == "prompt_tuning":
        seq += recipe.num_virtual_tokens
    # Korthikanti et al. 2022, per layer in 16 bits: s*b*h*(34 + 5*a*s/h); PyTorch's SDPA never
    # stores the a*s*s attention scores, so only the first term is kept, scaled to our width.
    per_layer = seq * batch * hidden * 34 * width / 2
    if plan.activation_checkpointing:  # each block's input kept, one block's activations at a time
        activations = seq * batch * hidden * width * layers + per_layer
    else:
        activations = per_layer * layers
    activations += loss_memory(plan.loss, recipe, config, batch * seq, head_width)
    if getattr(recipe, "lora_dropout", 0) > 0:  # each adapted layer drops out its own copy of its input (and a mask)
        dropped = batch * seq * lora_input_width(config, recipe.target_modules) * (width + 1)
        activations += dropped * (1 if plan.activation_checkpointing else layers)  # checkpointed: one block at a time
    if cuda:
        free, _ = torch.cuda.mem_get_info()
        device = torch.cuda.get_device_name()
    else:
        free, device = psutil.virtual_memory().available, "CPU (system memory)"
    return MemoryEstimate(weights, gradients, optimizer, activations, float(free), device)


CHUNK_TOKENS = 256  # TRL's chunked loss: tokens per chunk (trl.trainer.sft_trainer._CHUNKED_LM_HEAD_CHUNK_SIZE)


def loss_memory(loss: str, recipe: SFTRecipe, config, tokens: int, head_width: int) -> float:
    """Bytes the loss over the vocabulary holds at its peak (measured on a CPU with a 32k vocabulary:
    tests/integration/test_memory_estimate.py). Whole logits: four float32 values per token and
    vocabulary entry (the logits, their log-softmax, their gradient and a copy in the training dtype
    or in the backward pass). TRL's chunked loss: the same for one chunk, plus, when the output layer
    is held in 16 bits (`head_width` bytes), its float32 copy (and that copy's gradient when the layer
    trains). Liger's fused kernel: little."""
    vocab = config.vocab_size
    if loss == "logits":
        return tokens * vocab * 4 * 4
    if loss == "chunked":
        head_copies = 0 if head_width == 4 else (2 if recipe.method == "full" else 1)  # full: the head trains
        return min(tokens, CHUNK_TOKENS) * vocab * 4 * 4 + vocab * config.hidden_size * 4 * head_copies
    return 0.0


def lora_input_width(config, target_modules: str) -> int:
    """The summed input width of the linear layers LoRA adapts in one block (q, k, v, o; and the
    MLP's gate, up and down with all-linear)."""
    hidden = config.hidden_size
    attention = 4 * hidden
    if target_modules != "all-linear":
        return attention
    return attention + 2 * hidden + (getattr(config, "intermediate_size", None) or getattr(config, "d_ff", 4 * hidden))



def fit_batch(recipe: SFTRecipe, config, trainable: int, total: int) -> SFTRecipe:
    """The recipe with the largest per-device batch whose estimate fits in the free memory and the
    same effective batch (batch x accumulation); batch 1 when none fits (the run then says so by
    running out of memory, as it would have)."""
    effective = recipe.per_device_train_batch_size * recipe.gradient_accumulation_steps
    for batch in sorted((b for b in range(1, effective + 1) if effective % b == 0), reverse=True):
        trial = dataclasses.replace(recipe, per_device_train_batch_size=batch, gradient_accumulation_steps=effective // batch)
        if batch == 1 or estimate_memory(trial, config, trainable, total).fits:
            return trial
    return recipe
