"""Supervised fine-tuning with TRL's SFTTrainer, for every method: full, LoRA, QLoRA, prompt
tuning, selective and (IA)³. Read top to bottom: load, wrap for the method, train, save."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

from playground.runs import EVENTS_FILE, EventWriter, is_main_process
from playground.training.callbacks import RunEvents, StopRequested, memory_mb
from playground.training.recipes import SFTRecipe
from playground.training.sft_data import build_splits, drop_rows_without_room, to_conversational


@dataclass
class Outcome:
    status: str  # finished or stopped
    output_dir: Path
    metrics: dict
    trainable_params: int
    total_params: int
    model: object = None  # the trained model, still in memory (for tests and in-process callers)


def count_params(model) -> tuple[int, int]:
    """(trainable, total); 4-bit weights are packed two per byte, so count them unpacked. A PEFT
    model counts itself (PEFT's get_nb_trainable_parameters)."""
    if hasattr(model, "get_nb_trainable_parameters"):
        return model.get_nb_trainable_parameters()
    trainable = total = 0
    for param in model.parameters():
        n = param.numel()
        if param.__class__.__name__ == "Params4bit":
            n *= 2
        total += n
        trainable += n if param.requires_grad else 0
    return trainable, total


def sft_config(recipe: SFTRecipe, run_dir: Path, n_train: int):
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
        **recipe.trainer_args,
    )


def train(recipe: SFTRecipe, source: str, run_dir: Path, output_dir: Path, callbacks: list | None = None,
          stop_event=None) -> Outcome:
    """Train `recipe` on the model at `source`, log to run_dir/events.jsonl, save to output_dir.
    `stop_event` (a threading.Event) ends the run early, keeping what it learned."""
    import datasets
    from transformers import AutoTokenizer
    from trl import SFTTrainer

    run_dir, output_dir = Path(run_dir), Path(output_dir)
    writer = EventWriter(run_dir / EVENTS_FILE)
    writer.write("status", message="Loading data")
    splits = build_splits(recipe)
    tokenizer = AutoTokenizer.from_pretrained(source)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    chat = bool(getattr(tokenizer, "chat_template", None))
    train_rows, dropped = drop_rows_without_room(splits.train, tokenizer, recipe.max_length, chat)
    validation_rows, _ = drop_rows_without_room(splits.validation, tokenizer, recipe.max_length, chat)
    if dropped:
        writer.write("warning", message=f"{dropped} training example(s) left no room for their completion within "
                                         f"max_length {recipe.max_length} and were left out.")
    as_dataset = lambda rows: datasets.Dataset.from_list(to_conversational(rows) if chat else  # noqa: E731
                                                         [{"prompt": r["prompt"], "completion": r["completion"]} for r in rows])

    writer.write("status", message="Loading the model")
    model = recipe.load_base(source)
    recipe.prepare(model)
    config = sft_config(recipe, run_dir, len(train_rows))
    events = RunEvents(run_dir, writer, stop_event)
    trainer = SFTTrainer(
        model=model,
        args=config,
        train_dataset=as_dataset(train_rows),
        eval_dataset=as_dataset(validation_rows) if validation_rows and recipe.val_fraction > 0 else None,
        processing_class=tokenizer,
        peft_config=recipe.peft_config(source),
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
