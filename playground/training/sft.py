"""Supervised fine-tuning with TRL's SFTTrainer, for every method: full, LoRA, QLoRA, prompt
tuning, selective and (IA)³. Read top to bottom: load, wrap for the method, train, save."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

from playground.errors import PlaygroundError
from playground.training.callbacks import EventWriter, RunEvents, StopRequested, is_main_process, memory_mb
from playground.training.recipes import Recipe
from playground.training.sft_data import build_splits, to_conversational

ATTENTION = ["q_proj", "k_proj", "v_proj", "o_proj"]


@dataclass
class Outcome:
    status: str  # finished or stopped
    output_dir: Path
    metrics: dict
    trainable_params: int
    total_params: int
    model: object = None  # the trained model, still in memory (for tests and in-process callers)


def count_params(model) -> tuple[int, int]:
    """(trainable, total); 4-bit weights are packed two per byte, so count them unpacked."""
    trainable = total = 0
    for param in model.parameters():
        n = param.numel()
        if param.__class__.__name__ == "Params4bit":
            n *= 2
        total += n
        trainable += n if param.requires_grad else 0
    return trainable, total


def load_base(recipe: Recipe, source: str):
    """The base model in the dtype and quantization the method needs."""
    import torch
    from transformers import AutoModelForCausalLM

    cuda = torch.cuda.is_available()
    dtype = torch.bfloat16 if cuda and torch.cuda.is_bf16_supported() else torch.float32
    if recipe.method == "qlora":
        from peft import prepare_model_for_kbit_training
        from transformers import BitsAndBytesConfig

        quant = BitsAndBytesConfig(
            load_in_4bit=True, bnb_4bit_quant_type=recipe.bnb_4bit_quant_type,
            bnb_4bit_use_double_quant=recipe.bnb_4bit_use_double_quant, bnb_4bit_compute_dtype=dtype,
        )
        model = AutoModelForCausalLM.from_pretrained(source, quantization_config=quant, dtype=dtype,
                                                     device_map="auto" if cuda else "cpu")
        return prepare_model_for_kbit_training(model, use_gradient_checkpointing=False)
    return AutoModelForCausalLM.from_pretrained(source, dtype=dtype)


def peft_config(recipe: Recipe, source: str):
    """The PEFT config of the method, or None for full and selective fine-tuning."""
    from peft import IA3Config, LoraConfig, PromptTuningConfig, PromptTuningInit, TaskType

    if recipe.method in ("lora", "qlora"):
        targets = "all-linear" if recipe.target_modules == "all-linear" else ATTENTION
        return LoraConfig(task_type=TaskType.CAUSAL_LM, r=recipe.lora_r, lora_alpha=recipe.lora_alpha,
                          lora_dropout=recipe.lora_dropout, target_modules=targets)
    if recipe.method == "prompt_tuning":
        text = recipe.prompt_tuning_init == "TEXT"
        return PromptTuningConfig(
            task_type=TaskType.CAUSAL_LM, num_virtual_tokens=recipe.num_virtual_tokens,
            prompt_tuning_init=PromptTuningInit.TEXT if text else PromptTuningInit.RANDOM,
            prompt_tuning_init_text=recipe.prompt_tuning_init_text if text else None,
            tokenizer_name_or_path=source if text else None,
        )
    if recipe.method == "ia3":
        return IA3Config(task_type=TaskType.CAUSAL_LM)
    return None


def freeze_for_selective(model, recipe: Recipe) -> None:
    """Selective fine-tuning: everything frozen but the chosen parameters."""
    for param in model.parameters():
        param.requires_grad = False
    if recipe.trainable == "last_n_blocks":
        layers = model.model.layers
        for block in layers[-min(recipe.last_n_blocks, len(layers)):]:
            for param in block.parameters():
                param.requires_grad = True
    else:
        suffix = "bias" if recipe.trainable == "biases" else "norm"
        chosen = [p for name, p in model.named_parameters() if name.endswith(suffix) or (suffix == "norm" and "norm" in name)]
        if not chosen:
            raise PlaygroundError(f"This model has no {recipe.trainable} to train: choose last_n_blocks instead.")
        for param in chosen:
            param.requires_grad = True


def sft_config(recipe: Recipe, run_dir: Path, n_train: int):
    import torch
    from trl import SFTConfig

    cuda = torch.cuda.is_available()
    steps_per_epoch = max(1, n_train // (recipe.per_device_train_batch_size * recipe.gradient_accumulation_steps))
    total = recipe.max_steps if recipe.max_steps > 0 else int(steps_per_epoch * recipe.num_train_epochs)
    return SFTConfig(
        output_dir=str(run_dir / "checkpoints"),
        learning_rate=recipe.learning_rate,
        num_train_epochs=recipe.num_train_epochs,
        max_steps=recipe.max_steps,
        per_device_train_batch_size=recipe.per_device_train_batch_size,
        per_device_eval_batch_size=recipe.per_device_train_batch_size,
        gradient_accumulation_steps=recipe.gradient_accumulation_steps,
        max_length=recipe.max_length,
        packing=recipe.packing,
        # Padding is waste: on a CPU, batching rows of similar length removes most of it (measured
        # faster than packing there); packing already removes it.
        train_sampling_strategy="random" if recipe.packing else "group_by_length",
        seed=recipe.seed,
        logging_steps=recipe.logging_steps,
        eval_strategy="steps" if recipe.val_fraction > 0 else "no",
        eval_steps=recipe.eval_steps or max(1, total // 10),
        save_strategy="steps",
        save_steps=max(1, total // 4),
        save_total_limit=1,
        report_to=[] if recipe.report_to == "none" else [recipe.report_to],
        include_num_input_tokens_seen="non_padding",
        use_cpu=not cuda,
        bf16=cuda and torch.cuda.is_bf16_supported(),
        gradient_checkpointing=False,
        dataloader_pin_memory=cuda,
        disable_tqdm=True,
    )


def train(recipe: Recipe, source: str, run_dir: Path, output_dir: Path, callbacks: list | None = None) -> Outcome:
    """Train `recipe` on the model at `source`, log to run_dir/events.jsonl, save to output_dir."""
    import datasets
    from transformers import AutoTokenizer
    from trl import SFTTrainer

    run_dir, output_dir = Path(run_dir), Path(output_dir)
    writer = EventWriter(run_dir / "events.jsonl")
    writer.write("status", message="Loading data")
    splits = build_splits(recipe)
    tokenizer = AutoTokenizer.from_pretrained(source)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    chat = bool(getattr(tokenizer, "chat_template", None))
    as_dataset = lambda rows: datasets.Dataset.from_list(to_conversational(rows) if chat else  # noqa: E731
                                                         [{"prompt": r["prompt"], "completion": r["completion"]} for r in rows])

    writer.write("status", message="Loading the model")
    model = load_base(recipe, source)
    if recipe.method == "selective":
        freeze_for_selective(model, recipe)
    config = sft_config(recipe, run_dir, len(splits.train))
    events = RunEvents(run_dir, writer)
    trainer = SFTTrainer(
        model=model,
        args=config,
        train_dataset=as_dataset(splits.train),
        eval_dataset=as_dataset(splits.validation) if splits.validation and recipe.val_fraction > 0 else None,
        processing_class=tokenizer,
        peft_config=peft_config(recipe, source),
        callbacks=[events, *(callbacks or [])],
    )
    trainable, total = count_params(trainer.model)
    writer.write("params", trainable=trainable, total=total)
    before = {}
    if trainer.eval_dataset is not None:  # the starting point, so a run shows how much it learned
        writer.write("status", message="Measuring the validation loss before training")
        before = {"eval_loss_before": trainer.evaluate()["eval_loss"]}
    if recipe.num_processes == 1:  # with several processes, one leaving mid-step would hang the others
        events.interrupt_steps(trainer.model)
    started = time.time()
    try:
        result = trainer.train()
        metrics = before | {k: v for k, v in result.metrics.items() if isinstance(v, (int, float))}
    except StopRequested:  # stopped mid-step: the weights are those of the last completed step
        metrics = before | {"stopped_at_step": trainer.state.global_step}
    if trainer.eval_dataset is not None and not events.stop_requested:
        metrics.update({k: v for k, v in trainer.evaluate().items() if isinstance(v, (int, float))})
    metrics["train_seconds"] = time.time() - started
    metrics["peak_memory_mb"] = memory_mb()
    status = "stopped" if events.stop_requested else "finished"

    if is_main_process():
        output_dir.mkdir(parents=True, exist_ok=True)
        trainer.model.save_pretrained(output_dir)
        tokenizer.save_pretrained(output_dir)
        (output_dir / "test.jsonl").write_text("".join(json.dumps(r) + "\n" for r in splits.test), encoding="utf-8")
        writer.write("saved", path=str(output_dir), status=status)
    return Outcome(status, output_dir, metrics, trainable, total, trainer.model)
