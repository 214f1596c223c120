"""Supervised fine-tuning as a run kind: its recipe (one class per method), its check before
launch, the worker's function and where its result goes (adapters/, offered in the labs)."""

from __future__ import annotations

import time
from pathlib import Path

from playground.errors import PlaygroundError
from playground.kinds import Outcome, Output, RunContext, RunKind
from playground.settings import Settings
from playground.training.memory_plan import plan_for
from playground.training.recipes import SFTRecipe
from playground.training.trainer_args import check_run_settings, check_trainer_config, steps_per_epoch

MANY_EPOCHS = 20  # more passes than this over the data: the max_steps note warns of overfitting


def check(recipe: SFTRecipe, settings: Settings) -> list[str]:
    """Everything that can be known before training starts; raises with what to change. Returns
    notes worth showing (e.g. examples that will be left out)."""
    from playground.models import ModelManager
    from playground.training.sft import sft_config
    from playground.training.sft_data import build_splits

    check_run_settings(recipe)
    models = ModelManager(settings)
    source = models.training_source(recipe.base_model, encoder_decoder_ok=True)  # an unknown model starts nothing
    if models.is_encoder_decoder(recipe.base_model):
        from playground.training.seq2seq import check_recipe

        check_recipe(recipe, source)  # before the data is read: what such a run can't do
        plan_for(recipe, encoder_decoder=True)
    splits = build_splits(recipe)  # nor do missing columns, empty data, a bad template or too few rows
    tokenizer, _ = models.tokenizer(recipe.base_model)
    encoder_decoder = models.is_encoder_decoder(recipe.base_model)
    if encoder_decoder:
        from playground.training.seq2seq import seq2seq_config

        check_trainer_config(recipe, seq2seq_config, "transformers' Seq2SeqTrainingArguments")
    else:
        check_trainer_config(recipe, sft_config)
    notes, n_train = data_notes(recipe, splits, tokenizer, encoder_decoder)
    if recipe.max_steps > 0 and (encoder_decoder or not recipe.packing):
        notes.append(max_steps_note(recipe, n_train))
    return notes + method_notes(recipe, source)


# said by the preview (a launch would repeat it for every chat model)
CHAT_NOTE = ("Each prompt is written into the model's chat template as a user turn (the model has one), and the reply "
             "follows as the assistant's: prompt it the same way afterwards (the labs' and Evaluate's 'chat' setting).")


def data_notes(recipe: SFTRecipe, splits, tokenizer, encoder_decoder: bool) -> tuple[list[str], int]:
    """What training will do with the data that its rows don't show (a known format read, rows left
    out), and how many training examples it trains on. Raises when nothing of the completions would
    be trained. The preview shows the same notes as the launch."""
    from playground.training.sft_data import drop_rows_without_room, trains_in_chat_template

    notes = list(splits.notes)
    if encoder_decoder:
        from playground.training.seq2seq import cut_prompts

        if cut := cut_prompts(splits.train, tokenizer, recipe.max_length):
            notes.append(f"{cut} of {len(splits.train)} training prompts are longer than max_length ({recipe.max_length}): "
                         "the encoder reads their first max_length tokens. Raise max_length to keep them whole.")
        return notes, len(splits.train)
    chat = trains_in_chat_template(tokenizer, encoder_decoder)
    train, dropped = drop_rows_without_room(splits.train, tokenizer, recipe.max_length, chat)
    if not train:
        raise PlaygroundError(
            f"Every training prompt is at least max_length ({recipe.max_length}) tokens long once formatted, so "
            "nothing of the completions would be trained. Raise max_length, or shorten the inputs or the template.")
    if recipe.val_fraction > 0 and not drop_rows_without_room(splits.validation, tokenizer, recipe.max_length, chat)[0]:
        raise PlaygroundError(f"Every validation prompt is at least max_length ({recipe.max_length}) tokens long: "
                              "raise max_length, or set the validation share to 0.")
    if dropped:
        notes.append(f"{dropped} of {len(splits.train)} training examples are longer than max_length "
                     f"({recipe.max_length}) before their completion starts: they are left out. Raise max_length to keep them.")
    return notes, len(train)


def method_notes(recipe: SFTRecipe, source: str) -> list[str]:
    """What the chosen method will do here that the form doesn't show."""
    from playground.models import source_config
    from playground.training.blocks import block_counts
    from playground.zero_gpu import compute_on_cuda

    notes = []
    if recipe.quantized_base and not compute_on_cuda():
        notes.append("QLoRA without a GPU: bitsandbytes' 4-bit kernels for CPUs are slow and less tested (its log may "
                     "warn about it). Here the run shows how the method works; the memory it saves is a GPU's.")
    if getattr(recipe, "trainable", "") == "last_n_blocks":
        sizes = block_counts(source_config(source))
        if sizes and recipe.last_n_blocks >= max(sizes):
            stacks = " and ".join(map(str, sizes))
            notes.append(f"Last N blocks is {recipe.last_n_blocks} and the model has {stacks} blocks"
                         f"{' (encoder and decoder)' if len(sizes) > 1 else ''}: every block trains (all but the "
                         "embeddings), close to full fine-tuning.")
    return notes


def max_steps_note(recipe: SFTRecipe, n_train: int) -> str:
    """What max_steps means in passes over the data (it replaces the epochs setting)."""
    per_epoch = steps_per_epoch(recipe, n_train)
    epochs = recipe.max_steps / per_epoch
    note = (f"Max steps ({recipe.max_steps:,}) replaces the epochs setting: one epoch of the {n_train:,} training examples "
            f"is {per_epoch:,} step{'s' * (per_epoch != 1)} (batch {recipe.per_device_train_batch_size} × "
            f"{recipe.gradient_accumulation_steps} accumulation"
            f"{f' × {recipe.num_processes} processes' if recipe.num_processes > 1 else ''}), so this run is about "
            f"{epochs:,.1f} epochs.")
    if epochs > MANY_EPOCHS:
        note += " That many passes over the same examples learns them by heart (overfitting): watch the validation loss."
    return note


def run(recipe: SFTRecipe, ctx: RunContext) -> Outcome:
    from playground.models import ModelManager
    from playground.training.sft import train

    source = ModelManager(ctx.settings).resolve(recipe.base_model)
    result = train(recipe, source, ctx.run_dir, ctx.output_dir, stop_event=ctx.stop, resume=ctx.resume,
                   carried=ctx.carried)
    record = {"trainable_params": result.trainable_params, "total_params": result.total_params,
              "trainable_share": result.trainable_params / result.total_params if result.total_params else 0.0}
    return Outcome(result.status, result.metrics, record, result.model)


def default_name(recipe: SFTRecipe) -> str:
    base = Path(recipe.base_model.rstrip("/")).name.replace(" ", "-")[:30]
    base = "".join(c for c in base if c.isalnum() or c in "._-").lstrip("._-") or "model"
    return f"{recipe.method}-{base}-{time.strftime('%Y%m%d-%H%M%S')}"


def write_card(folder: Path, record: dict) -> None:
    from playground.training.run_card import write_run_files

    write_run_files(folder, record)


def training_kind(name: str, title: str, recipe_class: type, check, run, output: Output = Output.ADAPTER,
                  resumable: bool = False) -> RunKind:
    """A kind that trains from a recipe into a named result, with the names, cards and summary of fine-tuning runs."""
    return RunKind(name=name, title=title, output=output, recipe_class=recipe_class, check=check, run=run,
                   default_name=default_name, write_card=write_card, resumable=resumable,
                   summary=lambda recipe: {"method": recipe.method, "base_model": recipe.base_model})


KIND = RunKind(
    name="sft",
    title="Supervised fine-tuning",
    output=Output.ADAPTER,
    recipe_class=SFTRecipe,
    check=check,
    run=run,
    default_name=default_name,
    summary=lambda recipe: {"method": recipe.method, "base_model": recipe.base_model},
    write_card=write_card,
    resumable=True,
)
