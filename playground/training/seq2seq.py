"""Supervised fine-tuning of an encoder-decoder model (FLAN-T5, BART): the encoder reads the prompt
and the decoder learns to write the completion. TRL's SFTTrainer is built for decoder-only models
(one sequence, prompt then completion), so these runs use transformers' Seq2SeqTrainer, inside the
same run as sft.py: the same data, events, stop, resume, checkpoints and saving."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from playground.errors import PlaygroundError
from playground.training.recipes import SFTRecipe


def check_recipe(recipe: SFTRecipe, source: str) -> None:
    """What an encoder-decoder run (of the model at `source`) can't do, refused before launch with
    what to choose instead."""
    from transformers import Seq2SeqTrainingArguments

    if recipe.packing:
        raise PlaygroundError("Packing joins several examples into one sequence, which an encoder-decoder model's "
                              "separate prompt and reply can't do: turn packing off.")
    known = {f.name for f in dataclasses.fields(Seq2SeqTrainingArguments)}
    sft_only = sorted(set(recipe.trainer_args) - known)
    if sft_only:
        raise PlaygroundError(f"trainer_args {', '.join(sft_only)} are TRL SFTTrainer settings, and an encoder-decoder "
                              "model trains with transformers' Seq2SeqTrainer: remove them.")
    recipe.peft_config(source)  # e.g. LoRA's attention targets in this model


def seq2seq_config(recipe: SFTRecipe, run_dir: Path, n_train: int):
    from transformers import Seq2SeqTrainingArguments

    from playground.training.trainer_args import config_args

    return Seq2SeqTrainingArguments(**config_args(
        recipe, run_dir, n_train, evaluate=recipe.val_fraction > 0, encoder_decoder=True,
        train_sampling_strategy="group_by_length",  # rows of similar length together: little padding
    ))


def cut_prompts(rows: list[dict], tokenizer, max_length: int) -> int:
    """How many prompts are longer than max_length (the encoder reads their first max_length tokens: keep_start)."""
    return sum(len(tokenizer(row["prompt"], verbose=False)["input_ids"]) > max_length for row in rows)


def tokenized(rows: list[dict], tokenizer, max_length: int) -> list[dict]:
    """Each row as the encoder's input ids and the decoder's labels (the completion, ended by EOS),
    each cut to max_length."""
    from playground.generation import keep_start

    eos = tokenizer.eos_token_id
    out = []
    for row in rows:
        prompt = keep_start(tokenizer(row["prompt"], verbose=False)["input_ids"], max_length, tokenizer)
        reply = tokenizer(row["completion"].strip(), add_special_tokens=False, verbose=False)["input_ids"]
        out.append({"input_ids": prompt, "labels": (reply + [eos])[:max_length]})
    return out


def seq2seq_trainer(recipe: SFTRecipe, model, tokenizer, source: str, run_dir: Path, train_rows: list[dict],
                    validation_rows: list[dict], callbacks: list):
    """transformers' Seq2SeqTrainer for the run: the method's adapter on the model (PEFT methods), the
    rows tokenized, labels padded with -100 and shifted into the decoder's input by the model."""
    import datasets
    from transformers import DataCollatorForSeq2Seq

    if recipe.is_peft:
        from peft import get_peft_model

        model = get_peft_model(model, recipe.peft_config(source))
    as_dataset = lambda rows: datasets.Dataset.from_list(tokenized(rows, tokenizer, recipe.max_length))  # noqa: E731
    return _counting_trainer_class()(
        model=model,
        args=seq2seq_config(recipe, run_dir, len(train_rows)),
        train_dataset=as_dataset(train_rows),
        eval_dataset=as_dataset(validation_rows) if validation_rows and recipe.val_fraction > 0 else None,
        data_collator=DataCollatorForSeq2Seq(tokenizer, model=model, label_pad_token_id=-100),
        processing_class=tokenizer,
        callbacks=callbacks,
    )


def _counting_trainer_class():
    import torch
    from transformers import Seq2SeqTrainer

    class CountingSeq2SeqTrainer(Seq2SeqTrainer):
        """Logs what TRL's SFTTrainer logs and the run's charts show: num_tokens (the prompt and
        reply tokens trained on so far, padding left out, for tokens/s) and, on held-out data,
        eval_mean_token_accuracy (how often the decoder's most likely token is the reference's).
        Counts stay tensors on the batch's device and are read when a step or an evaluation is
        logged: no extra wait for the GPU per step."""

        tokens_seen = None
        eval_counts = None  # (tokens predicted right, tokens) since the last evaluation was logged

        def training_step(self, model, inputs, *args, **kwargs):
            counted = inputs["attention_mask"].sum() + (inputs["labels"] != -100).sum()
            self.tokens_seen = counted if self.tokens_seen is None else self.tokens_seen + counted
            return super().training_step(model, inputs, *args, **kwargs)

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            loss, outputs = super().compute_loss(model, inputs, return_outputs=True, num_items_in_batch=num_items_in_batch)
            if not model.training:
                with torch.no_grad():  # the decoder's logits at step t predict label t (no shift, unlike a causal LM)
                    labels = inputs["labels"]
                    known = labels != -100
                    counts = torch.stack([((outputs.logits.argmax(-1) == labels) & known).sum(), known.sum()])
                    self.eval_counts = counts if self.eval_counts is None else self.eval_counts + counts
            return (loss, outputs) if return_outputs else loss

        def log(self, logs, *args, **kwargs):
            if "loss" in logs and self.tokens_seen is not None:
                logs["num_tokens"] = float(self.tokens_seen)
            if "eval_loss" in logs and self.eval_counts is not None:
                right, total = self.eval_counts.tolist()
                logs["eval_mean_token_accuracy"] = right / total if total else 0.0
                self.eval_counts = None
            super().log(logs, *args, **kwargs)

    return CountingSeq2SeqTrainer
