"""The TRL config arguments every training kind shares (SFT, reward model, DPO, ...): where
checkpoints go, the schedule, evaluation and saving cadence, and the device settings that keep
TRL's GPU defaults from failing on a CPU."""

from __future__ import annotations

import importlib.util
import math
from collections.abc import Callable
from pathlib import Path

from playground.errors import PlaygroundError


def steps_per_epoch(recipe, n_train: int) -> int:
    """Optimizer steps in one pass over n_train rows, counted as transformers' Trainer counts them:
    the last, shorter batch and the last, shorter accumulation are steps too; with num_processes N
    (DDP), each process reads its 1/N of the rows (the sampler pads them to equal shares)."""
    rows_per_process = math.ceil(n_train / max(1, getattr(recipe, "num_processes", 1)))
    batches = math.ceil(rows_per_process / recipe.per_device_train_batch_size)
    return max(1, math.ceil(batches / recipe.gradient_accumulation_steps))


def total_steps(recipe, n_train: int) -> int:
    """How many optimizer steps the run takes: max_steps, or epochs over n_train rows."""
    if recipe.max_steps > 0:
        return recipe.max_steps
    return max(1, math.ceil(steps_per_epoch(recipe, n_train) * recipe.num_train_epochs))


def training_dtype():
    """bfloat16 on a GPU that has it, else float32 (a CPU trains in float32)."""
    import torch

    from playground.zero_gpu import compute_on_cuda

    return torch.bfloat16 if compute_on_cuda() and torch.cuda.is_bf16_supported() else torch.float32


def config_args(recipe, run_dir: Path, n_train: int, evaluate: bool, without: tuple = (), encoder_decoder: bool = False,
                **kind_args) -> dict:
    """Keyword arguments for a kind's TRL *Config (or, for an `encoder_decoder` model,
    transformers' Seq2SeqTrainingArguments): what every kind shares, less `without`, then the
    kind's own `kind_args`, then the user's `recipe.trainer_args` over both."""
    shared = _shared_args(recipe, run_dir, n_train, evaluate, encoder_decoder)
    for key in without:
        shared.pop(key)
    return shared | kind_args | recipe.trainer_args


def _shared_args(recipe, run_dir: Path, n_train: int, evaluate: bool, encoder_decoder: bool = False) -> dict:
    import torch

    from playground.training.memory_plan import chunked_loss_available, plan_for
    from playground.zero_gpu import compute_on_cuda

    cuda = compute_on_cuda()
    total = total_steps(recipe, n_train)
    return dict(
        output_dir=str(Path(run_dir) / "checkpoints"),
        learning_rate=recipe.learning_rate,
        num_train_epochs=recipe.num_train_epochs,
        max_steps=recipe.max_steps,
        per_device_train_batch_size=recipe.per_device_train_batch_size,
        per_device_eval_batch_size=recipe.per_device_train_batch_size,
        gradient_accumulation_steps=recipe.gradient_accumulation_steps,
        seed=recipe.seed,
        logging_steps=recipe.logging_steps,
        eval_strategy="steps" if evaluate else "no",
        eval_steps=recipe.eval_steps or max(1, total // 10),
        save_strategy="no",  # checkpoints by the clock and when stopped (callbacks.RunEvents), not by steps
        save_total_limit=1,
        report_to=[] if recipe.report_to == "none" else [recipe.report_to],
        use_cpu=not cuda,
        bf16=cuda and torch.cuda.is_bf16_supported(),
        dataloader_pin_memory=cuda,
        disable_tqdm=True,
        # Its NaN check reads the loss back at every step, a wait for the GPU; a NaN loss is logged as NaN
        logging_nan_inf_filter=False,
        **plan_for(recipe, cuda, encoder_decoder).trainer_kwargs(sft=chunked_loss_available(recipe) and not encoder_decoder),
    )


def check_trainer_config(recipe, build_config: Callable[..., object], config_name: str = "") -> None:
    """Build the kind's TRL config as its run will (`build_config(recipe, run_dir, n_train)`, here on a
    stand-in folder and one row), so that what TRL refuses (a trainer_args key it doesn't know, a
    value out of range, settings that don't go together) starts nothing. `config_name`: what the
    message calls the config (default: the recipe's TRL config)."""
    try:
        build_config(recipe, Path("/nonexistent"), 1)
    except (TypeError, ValueError) as err:
        extra = " (with trainer_args)" if recipe.trainer_args else ""
        name = config_name or f"TRL's {recipe.trainer_config_class}"
        raise PlaygroundError(f"{name} refuses these settings{extra}: "
                              f"{str(err).splitlines()[0]}") from err


def check_run_settings(recipe) -> None:
    """What a run needs from this machine, checked before launch: the memory plan's options and the
    reporting package."""
    from playground.training.memory_plan import plan_for

    plan_for(recipe)
    if recipe.report_to != "none" and importlib.util.find_spec(recipe.report_to) is None:
        raise PlaygroundError(f"report_to: {recipe.report_to} needs the '{recipe.report_to}' package: "
                              f"pip install {recipe.report_to}, or choose none.")
