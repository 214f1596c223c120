"""Supervised fine-tuning with TRL's SFTTrainer, for every method: full, LoRA, QLoRA, prompt
tuning, selective and (IA)³ (an encoder-decoder model: transformers' Seq2SeqTrainer, seq2seq.py).
Read top to bottom: load, wrap for the method, train, save."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from playground.runs import EVENTS_FILE, EventWriter, is_main_process
from playground.training.callbacks import RunEvents
from playground.training.loop import numbers, starting_point, train_and_measure
from playground.training.recipes import SFTRecipe
from playground.training.sft_data import build_splits, drop_rows_without_room, to_conversational, trains_in_chat_template


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
    from trl import SFTConfig

    from playground.training.trainer_args import config_args

    return SFTConfig(**config_args(
        recipe, run_dir, n_train, evaluate=recipe.val_fraction > 0,
        max_length=recipe.max_length,
        packing=recipe.packing,
        # Padding is waste: on a CPU, batching rows of similar length removes most of it (measured
        # faster than packing there); packing already removes it.
        train_sampling_strategy="random" if recipe.packing else "group_by_length",
        # (not include_num_input_tokens_seen: its count reads back from the GPU after every backward pass,
        # where TRL's own "num_tokens" is read after the forward pass it already waits for)
    ))  # (trainer_args' loss_type dft replaces the plan's)


def train(recipe: SFTRecipe, source: str, run_dir: Path, output_dir: Path, callbacks: list | None = None,
          stop_event=None, resume: bool = False, carried: dict | None = None) -> Outcome:
    """Train `recipe` on the model at `source`, log to run_dir/events.jsonl, save to output_dir.
    `stop_event` (a threading.Event) ends the run early, keeping what it learned (and a checkpoint);
    `resume` continues from the run's last checkpoint (`carried`: what the run measured before it
    stopped, such as its starting validation loss)."""
    import datasets
    from transformers import AutoTokenizer, set_seed
    from trl import SFTTrainer

    from playground.models import is_encoder_decoder_config, source_config
    from playground.training.seq2seq import cut_prompts, seq2seq_trainer

    run_dir, output_dir = Path(run_dir), Path(output_dir)
    writer = EventWriter(run_dir / EVENTS_FILE)
    writer.write("status", message="Loading data")
    splits = build_splits(recipe)
    tokenizer = AutoTokenizer.from_pretrained(source)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    encoder_decoder = is_encoder_decoder_config(source_config(source))
    chat = trains_in_chat_template(tokenizer, encoder_decoder)
    if encoder_decoder:  # the prompt has its own sequence: a long one is cut, and its reply still trains
        train_rows, validation_rows, dropped = splits.train, splits.validation, 0
        cut = cut_prompts(train_rows, tokenizer, recipe.max_length)
        if cut:
            writer.write("warning", message=f"{cut} training prompt(s) are longer than max_length {recipe.max_length}: "
                                             "the encoder reads their first max_length tokens.")
    else:
        train_rows, dropped = drop_rows_without_room(splits.train, tokenizer, recipe.max_length, chat)
        validation_rows, _ = drop_rows_without_room(splits.validation, tokenizer, recipe.max_length, chat)
    if dropped:
        writer.write("warning", message=f"{dropped} training example(s) left no room for their completion within "
                                         f"max_length {recipe.max_length} and were left out.")
    as_dataset = lambda rows: datasets.Dataset.from_list(to_conversational(rows) if chat else  # noqa: E731
                                                         [{"prompt": r["prompt"], "completion": r["completion"]} for r in rows])

    writer.write("status", message="Loading the model")
    from playground.training.estimate import count_trainable, estimate_memory, fit_batch
    from playground.training.memory_plan import plan_for

    meta_trainable, meta_total, config = count_trainable(recipe, source)  # the pre-launch estimate, kept beside the peak
    if plan_for(recipe).fit_batch:
        fitted = fit_batch(recipe, config, meta_trainable, meta_total)
        if fitted.per_device_train_batch_size != recipe.per_device_train_batch_size:
            writer.write("status", message=f"Batch {fitted.per_device_train_batch_size} x {fitted.gradient_accumulation_steps} "
                                           f"accumulation steps (was {recipe.per_device_train_batch_size} x "
                                           f"{recipe.gradient_accumulation_steps}): the largest that fits, same effective batch")
            recipe = fitted
    estimated_mb = estimate_memory(recipe, config, meta_trainable, meta_total).total / 2**20
    set_seed(recipe.seed)  # before the adapter's random start (LoRA's A, a random soft prompt): same seed, same run
    model = recipe.load_base(source)
    recipe.prepare(model)
    events = RunEvents(run_dir, writer, stop_event, recipe.checkpoint_minutes)
    if encoder_decoder:
        trainer = seq2seq_trainer(recipe, model, tokenizer, source, run_dir, train_rows, validation_rows,
                                  [events, *(callbacks or [])])
    else:
        trainer = SFTTrainer(
            model=model,
            args=sft_config(recipe, run_dir, len(train_rows)),
            train_dataset=as_dataset(train_rows),
            eval_dataset=as_dataset(validation_rows) if validation_rows and recipe.val_fraction > 0 else None,
            processing_class=tokenizer,
            peft_config=recipe.peft_config(source),
            callbacks=[events, *(callbacks or [])],
        )
    trainable, total = count_params(trainer.model)
    writer.write("params", trainable=trainable, total=total)
    measure = (lambda: {"eval_loss_before": trainer.evaluate()["eval_loss"]}) if trainer.eval_dataset is not None else None
    before = starting_point(writer, resume, carried, measure, "the validation loss")
    metrics, status = train_and_measure(trainer, events, recipe.num_processes, before,
                                        numbers if trainer.eval_dataset is not None else None, resume=resume,
                                        checkpoint_on_stop=True)
    metrics["estimated_peak_mb"] = estimated_mb

    if is_main_process():
        output_dir.mkdir(parents=True, exist_ok=True)
        trainer.model.save_pretrained(output_dir)
        tokenizer.save_pretrained(output_dir)
        (output_dir / "test.jsonl").write_text("".join(json.dumps(r) + "\n" for r in splits.test), encoding="utf-8")
        writer.write("saved", path=str(output_dir), status=status)
    return Outcome(status, output_dir, metrics, trainable, total, trainer.model)

