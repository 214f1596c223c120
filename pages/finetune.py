"""Fine-tune tab: set up a run, check what it costs, launch it in the background, watch, stop,
and manage the adapters it leaves."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import gradio as gr
import pandas as pd

from pages.common import (
    AppContext,
    admin_only,
    field_labels,
    guarded,
    in_form_words,
    on_page_load,
    progress_html,
    progress_of,
    rate_limited,
    resume_run,
    settled_status,
    stop_run,
    uploaded_path,
    visitor_of,
)
from pages.polling import ChangesOnly
from playground import adapters as adapter_store
from playground import plots
from playground.errors import PlaygroundError
from playground.jobs import JobManager
from playground.runs import first_start, seconds_run
from playground.training.memory_plan import EXPLAIN, LOSSES, OPTIMIZERS, SWITCH
from playground.training.recipes import RECIPES, SFTRecipe, own_options, recipe_from_dict
from playground.training.sft_data import TEMPLATES, build_splits

EXPLAINER = """
**Fine-tuning** keeps training a pretrained model on your examples, so the behaviour you want no
longer has to be spelled out in the prompt. **Full fine-tuning** updates every weight (best quality,
most memory). **Parameter-efficient** methods (PEFT) freeze the model and train a little:
*reparameterization* (**LoRA**: small low-rank matrices beside the layers; **QLoRA**: the same on a
4-bit base), *additive* (**prompt tuning**: learned "soft prompt" vectors; **(IA)³**: learned scaling
vectors) and *selective* (only some existing weights, e.g. the last blocks). Training on one task can
make a model worse at others (*catastrophic forgetting*); mixing several data sets (multitask
fine-tuning) is the usual remedy. Runs go on in the background: close the page and come back.
An **encoder-decoder** model (FLAN-T5) trains with every method: its encoder reads the prompt and its
decoder learns the completion (a soft prompt goes before the encoder's input; selective trains the last
blocks of both).
"""
METHOD_TITLES = {method: recipe.title for method, recipe in RECIPES.items()}
METHOD_BY_TITLE = {title: method for method, title in METHOD_TITLES.items()}
LOG_LINES = 8  # the log box's height: it shows this many last lines whole, the newest at the bottom (no scrolling)
RUN_COLUMNS = ["name", "status", "method", "base model", "progress", "started", "duration", "by"]
ADAPTER_COLUMNS = ["name", "method", "base model", "status", "trainable", "train loss", "val loss", "by"]


def _when(stamp) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(stamp)) if stamp else "-"


def _duration(run) -> str:
    seconds = seconds_run(run)
    if seconds is None:
        return "-"
    seconds = int(seconds)
    return f"{seconds // 60}m {seconds % 60:02d}s"


@dataclass
class FineTuneForm:
    """The Fine-tune form's values by recipe key (not 32 positional arguments)."""

    model: str
    method: str  # a method key of RECIPES
    data: str
    data_mix: list[dict]
    shared: dict  # SFTRecipe keys every method has
    own: dict  # the chosen method's own settings

    def recipe(self) -> SFTRecipe:
        return recipe_from_dict({"method": self.method, "base_model": self.model, "data": self.data,
                                 "data_mix": self.data_mix, **self.shared, **self.own})


@dataclass
class FormLayout:
    """The order of the form's inputs: model, method, data, upload, mix, shared keys, then each method's own."""

    shared: list[str]
    own: dict[str, list[str]]

    def read(self, values) -> FineTuneForm:
        model, method_title, data_text, data_file, mix, *rest = values
        shared = dict(zip(self.shared, rest[:len(self.shared)]))
        position, own = len(self.shared), {}
        method = METHOD_BY_TITLE.get(method_title, method_title)
        for key, names in self.own.items():
            chunk = rest[position:position + len(names)]
            position += len(names)
            if key == method:
                own = dict(zip(names, chunk))
        # an emptied number box leaves the recipe's default
        shared = {k: v.strip() if isinstance(v, str) else v for k, v in shared.items() if v is not None}
        return FineTuneForm(model=model, method=method, data=(uploaded_path(data_file) or data_text or "").strip(),
                            data_mix=_mix_rows(mix), shared=shared, own=own)


# ---- what the tab does, testable without a browser (handlers in build() only map results to components) ----
def training_preview(models, recipe: SFTRecipe) -> tuple[pd.DataFrame, str]:
    """The first training rows as the trainer gets them, the split's sizes, and what the launch will
    say of the data (a known format read, rows left out as empty or too long, the chat template)."""
    from playground.training.sft_data import trains_in_chat_template
    from playground.training.sft_kind import CHAT_NOTE, data_notes

    splits = build_splits(recipe)
    rows = pd.DataFrame(splits.train[:20])[["prompt", "completion", "source"]]
    rows["source"] = [source_label(source) for source in rows["source"]]
    try:
        tokenizer, _ = models.tokenizer(recipe.base_model)
        encoder_decoder = models.is_encoder_decoder(recipe.base_model)
    except PlaygroundError as err:  # the data is still shown; the model's checks wait for one that loads
        notes = splits.notes + [f"The prompts' lengths and the chat template are checked against the model, which "
                                f"can't be read now: {err}"]
    else:
        notes, _ = data_notes(recipe, splits, tokenizer, encoder_decoder)
        if trains_in_chat_template(tokenizer, encoder_decoder):
            notes.append(CHAT_NOTE)
    return rows, (f"✅ {len(splits.train):,} training, {len(splits.validation):,} validation and "
                  f"{len(splits.test):,} test examples." + "".join(f"\n\nℹ️ {note}" for note in notes))


def recipe_file_text(recipe: SFTRecipe) -> str:
    """The recipe as YAML to copy; an uploaded file's path is the server's temporary copy, which
    the YAML says (on another machine, the data key names the person's own file)."""
    from playground.access import upload_root

    text = recipe.to_yaml()
    uploads = [str(upload_root()), str(upload_root(resolved=False))]
    if any(str(recipe.data).startswith(root) for root in uploads):
        text = (f"# data: this app's temporary copy of the uploaded {Path(recipe.data).name}; elsewhere, write the path "
                "of your own copy\n" + text)
    return text


def source_label(source: str) -> str:
    """A data source as a person named it: a file by its name (an upload's is a temporary path)."""
    return Path(source).name if source.startswith(("/", ".", "~")) else source


def init_text_for(data: str, current: str) -> str | None:
    """Prompt tuning's starting text when the data becomes a built-in set: that task's instruction,
    unless the person wrote their own text (None: leave it)."""
    from playground.data import BUILTIN_TASKS
    from playground.training.recipes import PromptTuningRecipe

    ours = {PromptTuningRecipe.prompt_tuning_init_text} | {t.template.instruction for t in BUILTIN_TASKS.values()}
    task = BUILTIN_TASKS.get((data or "").strip())
    return task.template.instruction if task and (current or "").strip() in ours else None


def selective_blocks_update(models, ref: str, current: int):
    """The Selective 'Last N blocks' slider fitted to the model picked: up to its block count (the
    larger stack of an encoder-decoder), the value kept within it. Left as it is when the model's
    config can't be read (offline, a typo: the cost check and the launch say why)."""
    from playground.models import source_config
    from playground.training.blocks import block_counts

    try:
        counts = block_counts(source_config(models.resolve(ref)))
    except (PlaygroundError, OSError, ValueError):  # not resolvable, no config, unknown architecture
        return gr.update()
    if not counts:
        return gr.update()
    stacks = " and ".join(map(str, counts))
    where = f"{stacks} blocks (encoder and decoder)" if len(counts) > 1 else f"{stacks} blocks"
    top = max(counts)
    return gr.update(maximum=top, value=min(int(current or 1), top),
                     info=f"Used with last_n_blocks, counted from the end of each stack; this model has {where}.")


def gib(size_bytes: float) -> str:
    return plots.gib_text(size_bytes / 2**30)


def cost_report(models, recipe: SFTRecipe):
    """(markdown, memory chart): trainable parameters on the real architecture and peak memory per method."""
    from playground.training.estimate import count_trainable, estimate_memory, fit_batch
    from playground.training.memory_plan import plan_for

    source = models.training_source(recipe.base_model, encoder_decoder_ok=True)
    encoder_decoder = models.is_encoder_decoder(recipe.base_model)
    if encoder_decoder:
        from playground.training.seq2seq import check_recipe

        check_recipe(recipe, source)
    trainable, total, config = count_trainable(recipe, source)
    estimates, not_here = {}, []
    for key in RECIPES:
        other = recipe.with_method(key)
        try:
            t, n, _ = (trainable, total, None) if key == recipe.method else count_trainable(other, source)
        except PlaygroundError as err:  # a method this model's architecture can't take (e.g. no known (IA)³ layers)
            not_here.append(f"{METHOD_TITLES[key]}: {err}")
            continue
        estimates[METHOD_TITLES[key]] = estimate_memory(other, config, t, n)
    mine = estimates[METHOD_TITLES[recipe.method]]
    report = (f"**{trainable:,}** trainable parameters of **{total:,}** ({trainable / total:.3%}).\n\n"
              f"Estimated peak memory for {METHOD_TITLES[recipe.method]}: **{gib(mine.total)}** "
              f"(weights {gib(mine.weights)}, gradients {gib(mine.gradients)}, optimizer {gib(mine.optimizer)}, "
              f"activations {gib(mine.activations)}); {mine.device} has {mine.available / 2**30:.1f} GiB free: "
              f"{mine.verdict()}.")
    if not_here:
        report += "\n\nNot for this model: " + "; ".join(not_here)
    full = estimates[METHOD_TITLES["full"]]
    if recipe.method != "full" and full.total < mine.total:
        report += (f"\n\nOn a model this small ({total:,} parameters), what {METHOD_TITLES[recipe.method]} adds (its own "
                   "layers' activations, buffers) outweighs what freezing the weights saves, so full fine-tuning needs "
                   "less here; the saving grows with the model's size.")
    if plan_for(recipe).fit_batch:
        fitted = fit_batch(recipe, config, trainable, total)
        report += (f"\n\nBatch from free memory: **{fitted.per_device_train_batch_size}** per step x "
                   f"**{fitted.gradient_accumulation_steps}** accumulation steps (your effective batch, "
                   f"{fitted.per_device_train_batch_size * fitted.gradient_accumulation_steps}).")
    return report, plots.memory_figure(estimates, chosen=METHOD_TITLES[recipe.method])


def launch_run(jobs: JobManager, recipe: SFTRecipe, overwrite: bool, created_by: str = "") -> tuple[dict, str]:
    run = jobs.submit("sft", recipe, overwrite=overwrite, created_by=created_by)
    where = "started" if run["status"] == "running" else "queued (one run at a time)"
    notes = "".join(f"\n\nℹ️ {note}" for note in run["notes"])
    return run, f"✅ Run **{run['name']}** {where}. Follow it below.{notes}"


def remove_ended_runs(jobs: JobManager, run_id: str | None, confirmed: bool, everything: bool) -> str:
    if not confirmed:
        raise PlaygroundError("Tick 'Yes, remove' first: removing a run deletes its logs and charts.")
    if everything:
        removed = jobs.clear_ended()
    elif not run_id:
        raise PlaygroundError("Choose a run to remove.")
    else:
        removed = jobs.delete([run_id])
    return f"✅ Removed {len(removed)} ended run(s); their adapters are kept."


def adapters_frame(items: list[dict]) -> pd.DataFrame:
    return pd.DataFrame([[a["name"], a["method"] + (" · reward model" if a["output"] == "reward_model" else ""),
                          a["base_model"], a["status"], a["trainable_params"], _fmt(a["metrics"].get("train_loss")),
                          _fmt(a["metrics"].get("eval_loss")), a["created_by"]] for a in items], columns=ADAPTER_COLUMNS)


# Each adapter action returns (message, the adapter to keep selected afterwards).
def rename_adapter(ctx: AppContext, name: str, new: str) -> tuple[str, str]:
    adapter_store.rename(ctx.models.settings.adapters_dir, name, new, store=ctx.jobs.store)
    return f"Renamed '{name}' to '{new}'.", new


def merge_adapter(ctx: AppContext, name: str, merged: str) -> tuple[str, str]:
    from playground.merge_kind import MergeRecipe

    run = ctx.jobs.submit("merge", MergeRecipe(adapter=name, output_name=merged))
    where = "started" if run["status"] == "running" else "queued"
    return (f"Merging '{name}' into its base in the background (run **{run['name']}**, {where}): follow it under Runs. "
            "The full model appears in this list when it is done; pick it as a model (local folder).", name)


def push_adapter(ctx: AppContext, name: str, repo: str) -> tuple[str, str]:
    import os

    url = adapter_store.push_to_hub(ctx.models.settings.adapters_dir, name, repo, os.environ.get("HF_TOKEN"))
    return f"Pushed to {url}.", name


def delete_adapter(ctx: AppContext, name: str, _text: str, confirmed: bool) -> tuple[str, None]:
    if not confirmed:
        raise PlaygroundError("Tick 'Yes, delete it' first: deleting cannot be undone.")
    adapter_store.delete(ctx.models.settings.adapters_dir, name)
    return f"Deleted '{name}'.", None


def option_control(method: str, option) -> gr.components.Component:
    """The form control of a method's own setting, from its recipe field (see recipes.option)."""
    meta, elem_id = option.metadata, f"ft-{method}-{option.name.replace('_', '-')}"
    common = dict(label=meta["label"], info=meta["help"] or None, elem_id=elem_id)
    if meta.get("choices"):
        return gr.Radio(list(meta["choices"]), value=option.default, **common)
    if meta.get("range"):
        low, high, step = meta["range"]
        return gr.Slider(low, high, value=option.default, step=step, **common)
    if isinstance(option.default, bool):
        return gr.Checkbox(option.default, **common)
    return gr.Textbox(str(option.default), **common)


def build(ctx: AppContext) -> None:
    jobs: JobManager = ctx.jobs
    settings = ctx.models.settings
    with gr.Tab("Fine-tune", id="finetune", elem_id="tab-finetune"):
        gr.Markdown(EXPLAINER)
        with gr.Accordion("1 · Data", open=True):
            with gr.Row():
                data_source = gr.Textbox("sentiment", label="Data", elem_id="ft-data", scale=3,
                                         info="A built-in set (summarization, sentiment), a local .jsonl/.csv/.parquet path, a Hub dataset id, "
                                              "or a local folder of such files (read as a Hub dataset is, offline too). "
                                              "A file with prompt and completion columns needs no mapping.")
                data_file = gr.File(label="…or upload a file", file_types=[".jsonl", ".json", ".csv", ".parquet"],
                                    elem_id="ft-file", scale=2)
            with gr.Row():
                input_column = gr.Textbox("", label="Input column", placeholder="(guessed)", elem_id="ft-input-col")
                output_column = gr.Textbox("", label="Output column", placeholder="(guessed)", elem_id="ft-output-col")
                template = gr.Dropdown(list(TEMPLATES) + ["custom"], value="plain", label="Instruction template",
                                       elem_id="ft-template", info="How each input is written into the training prompt.")
                custom_template = gr.Textbox("", label="Custom template", placeholder="Classify: {input}\nLabel:",
                                             elem_id="ft-custom-template")
            data_mix = gr.Dataframe(headers=["data", "weight"], datatype=["str", "number"], value=[], row_count=(0, "dynamic"),
                                    column_count=(2, "fixed"), interactive=True, label="Mix in more data sets (multitask): each training example comes from a set with probability proportional to its weight (the main data weighs 1), until every example of every set has been used",
                                    elem_id="ft-mix")
            with gr.Row():
                val_fraction = gr.Slider(0, 0.4, value=0.1, step=0.05, label="Validation share", elem_id="ft-val")
                test_fraction = gr.Slider(0, 0.4, value=0.1, step=0.05, label="Test share", elem_id="ft-test",
                                          info="Held out for the Evaluate tab.")
                split_seed = gr.Number(0, label="Split seed", precision=0, elem_id="ft-split-seed")
                preview_btn = gr.Button("Preview training examples", elem_id="ft-preview-btn")
            preview_note = gr.Markdown("", elem_id="ft-preview-note")
            preview = gr.Dataframe(headers=["prompt", "completion", "source"], label="Training examples", interactive=False,
                                   wrap=True, max_height=240, elem_id="ft-preview", column_widths=["55%", "30%", "15%"])

        with gr.Accordion("2 · Method", open=True):
            method = gr.Radio(list(METHOD_BY_TITLE), value=METHOD_TITLES["lora"], label="Method", elem_id="ft-method")
            method_about = gr.Markdown(RECIPES["lora"].about, elem_id="ft-method-about")
            method_groups, method_controls = {}, {}
            for key, cls in RECIPES.items():
                with gr.Row(visible=key == "lora", elem_id=f"ft-options-{key}") as group:
                    method_controls[key] = {f.name: option_control(key, f) for f in own_options(cls)}
                method_groups[key] = group

        with gr.Accordion("3 · Training", open=True):
            with gr.Row():
                learning_rate = gr.Number(2e-4, label="Learning rate", elem_id="ft-lr",
                                          info="Step size; PEFT methods take larger ones than full fine-tuning.")
                num_train_epochs = gr.Number(1, label="Epochs", elem_id="ft-epochs")
                max_steps = gr.Number(-1, label="Max steps", precision=0, elem_id="ft-max-steps", info="-1: use epochs.")
                batch_size = gr.Slider(1, 64, value=4, step=1, label="Batch size", elem_id="ft-batch")
                grad_accum = gr.Slider(1, 64, value=1, step=1, label="Gradient accumulation", elem_id="ft-accum",
                                       info="Batches summed per update (bigger effective batch, same memory).")
            with gr.Row():
                max_length = gr.Slider(16, 4096, value=512, step=16, label="Max sequence length", elem_id="ft-max-len")
                packing = gr.Checkbox(False, label="Packing", elem_id="ft-packing",
                                      info="Concatenate examples into full-length rows (no padding).")
                seed = gr.Number(42, label="Seed", precision=0, elem_id="ft-seed")
                num_processes = gr.Slider(1, 8, value=1, step=1, label="Processes / GPUs", elem_id="ft-procs",
                                          info=">1 launches through accelerate (DDP).")
                report_to = gr.Dropdown(["none", "tensorboard", "trackio", "wandb"], value="none", label="Also report to",
                                        elem_id="ft-report")
            gr.Markdown("**Memory plan**: how the run fits in memory. *auto* turns a part on where it helps and the "
                        "device can do it (a GPU); the estimate below follows these choices.")
            with gr.Row():
                activation_checkpointing = gr.Radio(list(SWITCH), value="auto", label="Activation checkpointing",
                                                    elem_id="ft-act-ckpt", info=EXPLAIN["activation_checkpointing"])
                optimizer = gr.Radio(list(OPTIMIZERS), value="adamw", label="Optimizer", elem_id="ft-optimizer",
                                     info=EXPLAIN["optimizer"])
                fused_loss = gr.Radio(list(LOSSES), value="auto", label="Loss over the vocabulary", elem_id="ft-fused-loss",
                                      info=EXPLAIN["fused_loss"])
                fit_batch = gr.Radio(list(SWITCH), value="auto", label="Batch from free memory", elem_id="ft-fit-batch",
                                     info=EXPLAIN["fit_batch"])
            with gr.Row():
                output_name = gr.Textbox("", label="Output name", placeholder="(automatic)", elem_id="ft-output-name",
                                         info="Folder under adapters/: letters, digits, . _ -")
                overwrite = gr.Checkbox(False, label="Overwrite an existing adapter of that name", elem_id="ft-overwrite")

        with gr.Row():
            check_btn = gr.Button("Check cost", elem_id="ft-check")
            launch_btn = gr.Button("Launch run", variant="primary", elem_id="ft-launch")
        status = gr.Markdown("", elem_id="ft-status")
        with gr.Row():
            params_md = gr.Markdown("", elem_id="ft-params")
            memory_plot = gr.Plot(label="Memory estimate", elem_id="ft-memory")
        with gr.Accordion("Copy as command", open=False, elem_id="ft-command-acc"):
            recipe_yaml = gr.Code(language="yaml", label="recipe.yaml", elem_id="ft-yaml")
            command = gr.Code(language="shell", label="Command", elem_id="ft-command")

        gr.Markdown("### Runs\nOne at a time, in the order launched; queued and finished runs survive a restart. "
                    "**by**: who started it: a login name, *page* (this page, on an app without logins), a visitor "
                    "of a public demo, or a user of the command line.")
        # wrapped, with widths: a long base model (a folder's path) pushed the later columns off the right edge
        runs_table = gr.Dataframe(headers=RUN_COLUMNS, interactive=False, elem_id="ft-runs", wrap=True,
                                  column_widths=["16%", "9%", "10%", "22%", "12%", "12%", "9%", "10%"])
        with gr.Row():
            run_picker = gr.Dropdown([], label="Run", elem_id="ft-run-picker", scale=3)
            stop_btn = gr.Button("Stop run", variant="stop", elem_id="ft-stop", scale=1)
            resume_btn = gr.Button("Resume run", elem_id="ft-resume", scale=1)
        gr.Markdown("A run saves a checkpoint (its weights and optimizer state) every few minutes and when stopped; "
                    "**Resume** continues a stopped or failed run from its last checkpoint, as the same run.")
        with gr.Row():
            confirm_remove = gr.Checkbox(False, label="Yes, remove (logs and charts of ended runs; adapters are kept)",
                                         elem_id="ft-confirm-remove")
            remove_btn = gr.Button("Remove run", elem_id="ft-remove-run")
            clear_btn = gr.Button("Clear ended runs", elem_id="ft-clear-runs")
        run_progress = gr.HTML("", elem_id="ft-progress")
        run_error = gr.Markdown("", elem_id="ft-run-error")
        run_chart = gr.Plot(label="Training curves", elem_id="ft-chart")
        run_log = gr.Textbox(label="Log (last lines)", lines=LOG_LINES, max_lines=LOG_LINES, interactive=False, elem_id="ft-log",
                             autoscroll=True)
        events_state = gr.State({"run": None, "offset": 0, "events": []})
        timer = gr.Timer(2.0)

        gr.Markdown("### Adapters")
        adapters_table = gr.Dataframe(headers=ADAPTER_COLUMNS, interactive=False, elem_id="ft-adapters", wrap=True,
                                      column_widths=["18%", "10%", "24%", "10%", "12%", "9%", "9%", "8%"])
        with gr.Row():
            adapter_picker = gr.Dropdown([], label="Adapter", elem_id="ft-adapter-picker")
            new_name = gr.Textbox("", label="New name / merged name / Hub repo id", elem_id="ft-adapter-name")
        with gr.Row():
            rename_btn = gr.Button("Rename", elem_id="ft-rename")
            merge_btn = gr.Button("Merge LoRA into base", elem_id="ft-merge")
            push_btn = gr.Button("Push to Hub", elem_id="ft-push")
            confirm_delete = gr.Checkbox(False, label="Yes, delete it", elem_id="ft-confirm-delete")
            delete_btn = gr.Button("Delete", variant="stop", elem_id="ft-delete")
        adapter_status = gr.Markdown("", elem_id="ft-adapter-status")

        # ---- handlers ----
        shared = {"input_column": input_column, "output_column": output_column, "template": template,
                  "custom_template": custom_template, "val_fraction": val_fraction, "test_fraction": test_fraction,
                  "split_seed": split_seed, "learning_rate": learning_rate, "num_train_epochs": num_train_epochs,
                  "max_steps": max_steps, "per_device_train_batch_size": batch_size,
                  "gradient_accumulation_steps": grad_accum, "max_length": max_length, "packing": packing, "seed": seed,
                  "num_processes": num_processes, "report_to": report_to, "output_name": output_name,
                  "activation_checkpointing": activation_checkpointing, "optimizer": optimizer, "fused_loss": fused_loss,
                  "fit_batch": fit_batch}
        layout = FormLayout(shared=list(shared), own={key: list(controls) for key, controls in method_controls.items()})
        init_text = method_controls["prompt_tuning"]["prompt_tuning_init_text"]

        def follow_data(data, current):
            text = init_text_for(data, current)
            return gr.update() if text is None else text

        def upload_note(file):
            """Which data the run reads: an upload wins over the Data box, and that is said."""
            if not file:
                return ""
            return (f"ℹ️ Using the uploaded **{Path(uploaded_path(file)).name}**: the Data box is not read while a file is "
                    "uploaded (remove the upload with × to use it).")

        data_file.change(upload_note, [data_file], [preview_note], api_name=False, show_progress="hidden")
        data_source.change(follow_data, [data_source, init_text], [init_text], api_name=False, show_progress="hidden")
        on_page_load(follow_data, [data_source, init_text], [init_text], show_progress="hidden")
        blocks_slider = method_controls["selective"]["last_n_blocks"]

        def fit_blocks(ref, current):
            return selective_blocks_update(ctx.models, ref, current)

        ctx.model_picker.change(fit_blocks, [ctx.model_picker, blocks_slider], [blocks_slider], api_name=False,
                                show_progress="hidden")
        on_page_load(fit_blocks, [ctx.model_picker, blocks_slider], [blocks_slider], show_progress="hidden")
        form = [ctx.model_picker, method, data_source, data_file, data_mix, *shared.values(),
                *[c for controls in method_controls.values() for c in controls.values()]]

        def recipe_of(*values):
            return layout.read(values).recipe()

        form_words = in_form_words(field_labels({**shared, **{k: c for controls in method_controls.values()
                                                              for k, c in controls.items()}}))

        def show_method(title):
            """The method's explanation and settings; the cost report of the previous method goes."""
            key = METHOD_BY_TITLE[title]
            return {method_about: RECIPES[key].about, learning_rate: RECIPES[key]().learning_rate,
                    params_md: "", memory_plot: None,
                    **{group: gr.update(visible=other == key) for other, group in method_groups.items()}}

        @guarded(preview_note, clear={preview: None})  # refused: no rows of the previous data stay
        @rate_limited(ctx)
        @form_words
        def preview_data(*form_values):
            rows, message = training_preview(ctx.models, recipe_of(*form_values))
            return {preview: rows, preview_note: message}

        @guarded(status, clear={params_md: "", memory_plot: None})  # a refused check leaves no older estimate
        @rate_limited(ctx)
        @form_words
        def check_cost(*form_values):
            recipe = recipe_of(*form_values)
            report, figure = cost_report(ctx.models, recipe)
            return {params_md: report, memory_plot: figure, recipe_yaml: recipe_file_text(recipe),
                    command: recipe.cli_command("recipe.yaml"), status: ""}

        @guarded(status)
        @admin_only(ctx, "train")
        @form_words
        def launch(request: gr.Request, *form_values_and_overwrite):
            *form_values, overwrite_ = form_values_and_overwrite
            recipe = recipe_of(*form_values)
            run, message = launch_run(jobs, recipe, bool(overwrite_), visitor_of(ctx, request).label)
            return {status: message, run_picker: gr.update(choices=_run_choices(jobs), value=run["id"]),
                    recipe_yaml: recipe_file_text(recipe), command: recipe.cli_command("recipe.yaml")}

        def _poll(run_id, state, status_text):
            """Every 2 s: the runs table, and new events of the chosen run (read from its byte offset)."""
            runs = jobs.store.runs()
            out = {runs_table: _runs_frame(runs, jobs)}
            if run_id is None and runs:
                run_id = runs[0]["id"]
                out[run_picker] = gr.update(choices=_run_choices(jobs, runs), value=run_id)
            elif runs:
                out[run_picker] = gr.update(choices=_run_choices(jobs, runs))
            if run_id is None:
                return out
            if state.get("run") != run_id:
                state = {"run": run_id, "offset": 0, "events": []}
            new, offset = jobs.events(run_id, state["offset"])
            state = state | {"offset": offset, "events": state["events"] + new}
            run = jobs.store.run(run_id)
            if run is None:  # removed meanwhile
                return out | {run_picker: gr.update(choices=_run_choices(jobs, runs), value=None), run_progress: "",
                              run_log: "", run_error: "", run_chart: None}
            ended = run["status"] not in ("running", "queued")
            if ended and state.get("final") != run_id:
                # once a run has ended, its whole record is read again and drawn: the final chart never
                # depends on what the incremental reads of this page saw (measured: a finished run's chart
                # kept only its first evaluation under load)
                events, offset = jobs.events(run_id, 0)
                state, new = {"run": run_id, "offset": offset, "events": events, "final": run_id}, events
            # a resumed run says its warnings again: each is shown once
            warnings = list(dict.fromkeys(e["message"] for e in state["events"] if e["type"] == "warning"))
            problems = ([run["error"]] if run["error"] else []) + warnings
            out.update({events_state: state, run_progress: progress_html(run, state["events"]),
                        run_log: jobs.log_tail(run_id, LOG_LINES),
                        run_error: "\n\n".join(f"⚠️ {p}" for p in problems)})
            if new or state["offset"] == 0:
                out[run_chart] = plots.training_figure(state["events"], f"{run['name']} ({run['method']})",
                                                       plots.panels_for(run["kind"]))
            if settled := settled_status(status_text, run):
                out[status] = settled
            return out

        @guarded(status)
        @admin_only(ctx, "stop")
        def stop(run_id):
            return {status: stop_run(jobs, run_id)}

        @guarded(status)
        @admin_only(ctx, "resume")
        def resume(run_id):
            return {status: resume_run(jobs, run_id)}

        def remove_runs(run_id, confirmed, everything):
            message = remove_ended_runs(jobs, run_id, confirmed, everything)
            runs = jobs.store.runs()
            return {status: message, runs_table: _runs_frame(runs, jobs), confirm_remove: False,
                    run_picker: gr.update(choices=_run_choices(jobs, runs), value=runs[0]["id"] if runs else None)}

        def adapters_view(current=None):
            items = adapter_store.list_adapters(settings.adapters_dir)
            names = [a["name"] for a in items]
            return {adapters_table: adapters_frame(items),
                    adapter_picker: gr.update(choices=names, value=current if current in names else None)}

        def _adapter_action(action, permission: str):
            @guarded(adapter_status)
            @admin_only(ctx, permission)
            def act(name, text, *rest):
                if not name:
                    raise PlaygroundError("Choose an adapter first.")
                message, current = action(ctx, name, (text or "").strip(), *rest)
                return {adapter_status: f"✅ {message}", **adapters_view(current)}

            return act

        method.change(show_method, [method], [method_about, learning_rate, params_md, memory_plot,
                                              *method_groups.values()], api_name=False)
        preview_btn.click(preview_data, form, [preview, preview_note], api_name="preview_training_data")
        check_btn.click(check_cost, form, [params_md, memory_plot, recipe_yaml, command, status],
                        api_name="check_training_cost")
        # In the polls' group: a poll computed before the launch recorded its run would otherwise answer
        # after it and select the previous newest run in place of the one just launched.
        launch_btn.click(launch, [*form, overwrite], [status, run_picker, recipe_yaml, command], api_name="launch_run",
                         concurrency_id="ft-poll")
        poll_outputs = [runs_table, run_picker, events_state, run_progress, run_log, run_error, run_chart, status]
        # One poll at a time: a slow poll answering after a newer one would put back an older chart,
        # and a later poll with no new events would not redraw it.
        serial = dict(concurrency_id="ft-poll", concurrency_limit=1, show_progress="hidden", api_name=False)
        changes_only = ChangesOnly()

        def poll(run_id, state, status_text, request: gr.Request):
            return changes_only(request, _poll(run_id, state, status_text), always=(status,))  # Stop writes it too

        timer.tick(poll, [run_picker, events_state, status], poll_outputs, **serial)
        run_picker.change(poll, [run_picker, events_state, status], poll_outputs, **serial)
        stop_btn.click(stop, [run_picker], [status], api_name="stop_run")
        resume_btn.click(resume, [run_picker], [status], api_name="resume_run")
        remove_outputs = [status, runs_table, confirm_remove, run_picker]
        @guarded(status)
        @admin_only(ctx, "remove")
        def remove_one(run_id, confirmed):
            return remove_runs(run_id, confirmed, False)

        @guarded(status)
        @admin_only(ctx, "remove")
        def remove_ended(run_id, confirmed):
            return remove_runs(run_id, confirmed, True)

        remove_btn.click(remove_one, [run_picker, confirm_remove], remove_outputs, api_name="remove_run")
        clear_btn.click(remove_ended, [run_picker, confirm_remove], remove_outputs, api_name="clear_ended_runs")
        adapter_outputs = [adapter_status, adapters_table, adapter_picker]
        rename_btn.click(_adapter_action(rename_adapter, "rename"), [adapter_picker, new_name], adapter_outputs,
                         api_name="rename_adapter")
        merge_btn.click(_adapter_action(merge_adapter, "merge"), [adapter_picker, new_name], adapter_outputs,
                        api_name="merge_adapter")
        push_btn.click(_adapter_action(push_adapter, "push"), [adapter_picker, new_name], adapter_outputs,
                       api_name="push_adapter")
        delete_btn.click(_adapter_action(delete_adapter, "delete"), [adapter_picker, new_name, confirm_delete],
                         adapter_outputs, api_name="delete_adapter")
        listed = gr.State(None)  # the adapters this page shows: name, status and when each was saved

        def adapters_tick(current, shown):
            """Every 2 s, only when the adapters changed (one added, removed, or saved again, as a resumed
            run's is when it finishes): a tick answering after the user picked an adapter (with the value
            it was sent) must not put the picker back."""
            seen = sorted([a["name"], a["status"], a["finished"]]
                          for a in adapter_store.list_adapters(settings.adapters_dir))
            if seen == shown:
                return {listed: gr.skip()}  # nothing changed (an empty dict is refused by Gradio)
            return {**adapters_view(current), listed: seen}

        timer.tick(adapters_tick, [adapter_picker, listed], [adapters_table, adapter_picker, listed],
                   show_progress="hidden", api_name=False)


def _fmt(value) -> str:
    return f"{value:.4f}" if isinstance(value, (int, float)) else ""


def _mix_rows(mix) -> list[dict]:
    if mix is None:
        return []
    rows = mix.values.tolist() if hasattr(mix, "values") else list(mix)
    out = []
    for row in rows:
        if not row or not str(row[0] or "").strip():
            continue
        try:
            weight = float(row[1]) if len(row) > 1 and row[1] not in (None, "") else 1.0
        except (TypeError, ValueError):
            raise PlaygroundError(f"The weight of '{row[0]}' must be a number.") from None
        out.append({"data": str(row[0]).strip(), "weight": weight})
    return out


def _run_choices(jobs: JobManager, runs: list[dict] | None = None) -> list[tuple[str, str]]:
    return [(f"{r['name']} ({r['status']})", r["id"]) for r in (runs if runs is not None else jobs.store.runs())]


def run_progress_cell(run: dict, jobs: JobManager) -> str:
    """'79/300' while running (from its events), 'stopped at 79/300' once stopped (from its metrics:
    the 2-second refresh reads the events of running runs only), 'done' when finished."""
    if run["status"] == "running":
        step, total, _ = progress_of(jobs.events(run["id"])[0])
        return f"{step}/{total}" if total else ""
    metrics = run.get("metrics") or {}
    if run["status"] == "stopped" and metrics.get("max_steps"):
        return f"stopped at {metrics['stopped_at_step']}/{metrics['max_steps']}"
    return "done" if run["status"] == "finished" else ""


def _runs_frame(runs: list[dict], jobs: JobManager) -> pd.DataFrame:
    rows = []
    for r in runs:
        progress = run_progress_cell(r, jobs)
        rows.append([r["name"], r["status"], r["method"] or r["kind"], r["base_model"] or "", progress, _when(first_start(r)),
                     _duration(r), r.get("created_by") or ""])
    return pd.DataFrame(rows, columns=RUN_COLUMNS)
