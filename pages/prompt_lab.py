"""Prompt Lab: in-context learning. Zero-, one- and few-shot prompts side by side, scored."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import gradio as gr
import pandas as pd

from pages import gpu_calls
from pages.common import (
    AppContext,
    adapter_picker,
    decoding_mode,
    error_text,
    guarded,
    max_new_tokens_slider,
    on_page_load,
    progress_fn,
    rate_limited,
    temperature_slider,
    with_adapter,
)
from playground import data, icl, limits, plots
from playground.errors import PlaygroundError
from playground.generation import DecodingParams, defaults_of
from playground.prompts import OVERFLOW_POLICIES, PromptTemplate, parse_indices

EXPLAINER = """
**In-context learning**: a model can pick up a task from the prompt alone, with no training.
A *zero-shot* prompt gives only the instruction and the question; a *one-shot* prompt adds one
solved example; a *few-shot* prompt adds k of them (the *shots*). The three prompts below are
built from the same example and run with the same decoding settings, so you can see what the
shots buy. Each answer is scored against a person's reference with **ROUGE** (word overlap,
0 to 1: ROUGE-1 single words, ROUGE-2 word pairs, ROUGE-L the longest common word sequence).
Every prompt must fit the model's **context window** (the most tokens it can read at once)
together with the answer it writes. An **encoder-decoder** model (FLAN-T5) reads the prompt with
its encoder and writes the answer with a separate decoder, so there the prompt has the whole window.
"""

SOURCES = ["Built-in", "Local file", "Hub dataset"]
TASK_BY_TITLE = {task.title: task for task in data.BUILTIN_TASKS.values()}
POLICY_BY_LABEL = {label: key for key, label in OVERFLOW_POLICIES.items()}
N_VARIANTS = 3
SHOTS_SET = " Shots set to"  # the note of load_builtin when the first screen's shots were lowered to fit the model


def _badge(fitted, window: int, encoder_decoder: bool = False) -> str:
    share = fitted.n_tokens / window
    if not fitted.fits:
        room = "the encoder reads" if encoder_decoder else "fit with the answer"
        return (f"⛔ **{fitted.n_tokens:,} / {window:,} tokens**: too long (only {fitted.budget:,} {room}). "
                "Choose what to do under *If a prompt is too long*.")
    note = f" · {fitted.note}" if fitted.note else ""
    return f"✅ {fitted.n_tokens:,} / {window:,} tokens ({share:.0%} of the context window){note}"


@dataclass
class PromptForm:
    """The Prompt Lab's inputs by name, in the order of `form_inputs` in build()."""

    model: str
    examples: object  # data.ExampleSet, or None before step 1
    instruction: str
    example_format: str
    query: float
    k: float
    shot_mode: str
    seed: float
    shot_indices: str
    policy: str
    chat: bool
    max_new: float
    mode: str
    temperature: float
    adapter: str | None
    n: float

    def need_examples(self):
        if self.examples is None:
            raise PlaygroundError("Load a set of examples first (step 1).")
        return self.examples

    @property
    def query_index(self) -> int:
        return int(self.query or 0)

    def setup(self) -> icl.Setup:
        return icl.Setup(
            template=PromptTemplate(instruction=self.instruction or "", example_format=self.example_format or ""),
            k=int(self.k), seed=int(self.seed or 0),
            shot_indices=parse_indices(self.shot_indices or "") if self.shot_mode == "By index" else (),
            policy=POLICY_BY_LABEL.get(self.policy, "ask"), chat=bool(self.chat),
        )

    def params(self, lm) -> DecodingParams:
        """The model's own decoding settings, with the ones this tab sets."""
        return defaults_of(lm).with_settings(max_new_tokens=int(self.max_new), do_sample=self.mode == "Sampling",
                                             temperature=float(self.temperature), seed=int(self.seed or 0))

    def prompts(self, models) -> tuple[list, int, bool]:
        """The three prompts of the chosen example fitted to the model's window, the window, and
        whether the model is an encoder-decoder (its prompt has the whole window)."""
        tokenizer, window = models.tokenizer(self.model)
        encoder_decoder = models.is_encoder_decoder(self.model)
        prompts = icl.build_variant_prompts(self.need_examples(), self.setup(), self.query_index, tokenizer, window,
                                            int(self.max_new), encoder_decoder)
        return prompts, window, encoder_decoder


def build(ctx: AppContext) -> None:
    with gr.Tab("Prompt Lab", id="prompt", elem_id="tab-prompt"):
        gr.Markdown(EXPLAINER)
        examples_state = gr.State(None)
        frame_state = gr.State(None)
        source_name = gr.State("")  # e.g. "'reviews.csv'", for messages after a column change

        with gr.Accordion("1 · Task and examples", open=True):
            source = gr.Radio(SOURCES, value="Built-in", label="Where the examples come from", elem_id="pl-source")
            builtin = gr.Dropdown(list(TASK_BY_TITLE), value=next(iter(TASK_BY_TITLE)), label="Built-in task",
                                  elem_id="pl-builtin", info="Example sets written for this playground.")
            # No file_types filter: the browser would refuse other files with only a passing pop-up;
            # the library's check gives a lasting message that says which types work.
            upload = gr.File(label=f"Local file (.jsonl, .json, .csv, .parquet; up to {limits.current().upload_mb} MB)", visible=False,
                             elem_id="pl-file")
            with gr.Row(visible=False) as hub_row:
                hub_id = gr.Textbox(label="Hub dataset id", placeholder="knkarthick/dialogsum", elem_id="pl-hub-id")
                hub_split = gr.Textbox("train", label="Split", elem_id="pl-hub-split")
                hub_load = gr.Button("Load dataset", elem_id="pl-hub-load")
            with gr.Row():
                input_col = gr.Dropdown([], label="Input column", info="What the model is given (e.g. the dialogue).",
                                        elem_id="pl-input-col")
                ref_col = gr.Dropdown([], label="Reference column", elem_id="pl-ref-col",
                                      info="The answer a person wrote; completions are scored against it.")
            preview = gr.Dataframe(label="First rows", interactive=False, wrap=True, max_height=220, elem_id="pl-preview")
            data_status = gr.Markdown("", elem_id="pl-data-status")

        with gr.Accordion("2 · Prompt", open=True):
            instruction = gr.Textbox(label="Instruction", lines=2, elem_id="pl-instruction",
                                     info="Written once at the top of every prompt.")
            example_format = gr.Textbox(label="Example format", lines=3, elem_id="pl-format",
                                        info="How each example is written: {input} and {output} are filled in. "
                                             "The question uses the same format, cut off at {output}.")
            with gr.Row():
                query_index = gr.Number(0, label="Example to test (#)", precision=0, minimum=0, elem_id="pl-query",
                                        info="Which example the model must answer.")
                k = gr.Slider(1, 8, value=3, step=1, label="Shots (k) for few-shot", elem_id="pl-k",
                              info="Solved examples put before the question.")
                shot_mode = gr.Radio(["Random (seeded)", "By index"], value="Random (seeded)", label="Choose shots",
                                     elem_id="pl-shot-mode")
                seed = gr.Number(0, label="Seed", precision=0, minimum=0, elem_id="pl-seed",
                                 info="Picks the random shots (and samples).")
                shot_indices = gr.Textbox("", label="Shot indices", placeholder="e.g. 3, 7, 12", elem_id="pl-indices",
                                          info="Used with 'By index'.")
            with gr.Row():
                chat = gr.Checkbox(True, label="Use the model's chat template", elem_id="pl-chat",
                                   info="Sends the prompt as a user message (best for instruct models).")
                policy = gr.Radio(list(POLICY_BY_LABEL), value=OVERFLOW_POLICIES["ask"], label="If a prompt is too long",
                                  elem_id="pl-policy", info="Nothing is ever cut without you choosing it here.")
            with gr.Row():
                mode = decoding_mode("pl-mode", "Greedy", info="The same for all three prompts (see the Decoding Lab).")
                temperature = temperature_slider("pl-temperature", 0.7, label="Temperature (sampling)")
                max_new = max_new_tokens_slider("pl-max-new", 256, 48, info="The longest answer. A decoder-only model keeps room for it in its context window.")
                adapter = adapter_picker(ctx, "pl-adapter")

        reference = gr.Textbox(label="Reference answer (written by a person)", interactive=False, lines=2,
                               elem_id="pl-reference")
        columns = []
        with gr.Row(equal_height=False):
            for i in range(N_VARIANTS):
                with gr.Column(elem_id=f"pl-variant-{i}"):
                    title = gr.Markdown(f"### {['Zero-shot', 'One-shot', 'Few-shot'][i]}", elem_id=f"pl-title-{i}")
                    badge = gr.Markdown("", elem_id=f"pl-badge-{i}")
                    text = gr.Textbox(label="Prompt", lines=10, max_lines=14, interactive=False, elem_id=f"pl-prompt-{i}")
                    completion = gr.Textbox(label="Completion", lines=3, interactive=False, elem_id=f"pl-completion-{i}")
                    scores = gr.Markdown("", elem_id=f"pl-scores-{i}")
                    columns.append((title, badge, text, completion, scores))
        status = gr.Markdown("", elem_id="pl-status")
        run = gr.Button("Run all three", variant="primary", elem_id="pl-run")

        with gr.Accordion("Batch: each prompt over many examples", open=False, elem_id="pl-batch-acc"):
            gr.Markdown("Runs the three prompts over the first N examples (shots drawn per example with the seed) "
                        "and compares mean ROUGE. The error bars are 95% **bootstrap** intervals: the range the "
                        "mean would likely fall in on other examples like these.")
            with gr.Row():
                n_batch = gr.Slider(2, 40, value=5, step=1, label="Examples (N)", elem_id="pl-n")
                batch_run = gr.Button("Run batch", elem_id="pl-batch-run")
            batch_chart = gr.Plot(label="Mean ROUGE", elem_id="pl-batch-chart")
            batch_table = gr.Dataframe(headers=icl.BATCH_COLUMNS, label="Per example", interactive=False, wrap=True,
                                       max_height=300, elem_id="pl-batch-table",
                                       # the texts share what is left after the short columns (long ones pushed the scores off)
                                       column_widths=["8%", "10%", "7%", "8%", "24%", "24%", "6%", "6%", "7%"])
            batch_csv = gr.File(label="Download CSV", interactive=False, elem_id="pl-batch-csv")

        # ---- handlers ----
        def loaded(frame, name, in_guess=None, ref_guess=None, template=None):
            frame = data.with_standard_columns(frame)  # Alpaca's and chat formats map like prompt/completion
            cols = list(frame.columns)
            guess_in, guess_ref = data.guess_columns(cols)
            in_value, ref_value = in_guess or guess_in or cols[0], ref_guess or guess_ref or cols[-1]
            out = {
                frame_state: frame, source_name: name, preview: frame.head(5),
                input_col: gr.update(choices=cols, value=in_value), ref_col: gr.update(choices=cols, value=ref_value),
            }
            # A file or Hub set gets a plain template named after its own columns: the built-in task's
            # instruction (e.g. "Summarize…") would be wrong for it.
            derived = set(frame.attrs.get("derived", ()))  # a made-up column name is no label for a prompt
            in_label, ref_label = ("Input" if in_value in derived else in_value), ("Output" if ref_value in derived else ref_value)
            template = template or PromptTemplate(instruction="Complete the last example the way the examples are completed.",
                                                  example_format=f"{in_label}: {{input}}\n{ref_label}: {{output}}")
            out[instruction], out[example_format] = template.instruction, template.example_format
            try:
                examples = data.to_examples(frame, in_value, ref_value, name)
                out[examples_state], out[data_status] = examples, f"✅ {examples.notice()}"
            except PlaygroundError as err:
                out[examples_state], out[data_status] = None, f"⚠️ {err} Choose the columns above."
            return out

        data_outputs = [frame_state, source_name, preview, input_col, ref_col, instruction, example_format,
                        examples_state, data_status, k]

        @guarded(data_status)
        def load_builtin(title, model=None, chat_=True, max_new_=48, k_=3):
            """The built-in set; with the model, the shots (k) are lowered until the few-shot prompt of
            the first example fits its context window, so the first screen runs as it opens."""
            if not isinstance(title, str) or title not in TASK_BY_TITLE:
                raise PlaygroundError(f"Choose a built-in task: {', '.join(TASK_BY_TITLE)}.")
            task = TASK_BY_TITLE[title]
            out = loaded(data.builtin_frame(task.name), f"the built-in {task.name} set",
                         task.input_column, task.output_column, task.template)
            if model and out.get(examples_state) is not None:
                tokenizer, window = ctx.models.tokenizer(model)
                setup = icl.Setup(template=task.template, k=int(k_), chat=bool(chat_))
                fitting = icl.largest_fitting_k(out[examples_state], setup, 0, tokenizer, window, int(max_new_),
                                                ctx.models.is_encoder_decoder(model))
                if fitting < int(k_):
                    out[k] = max(fitting, 1)
                    out[data_status] += (f"{SHOTS_SET} {max(fitting, 1)} so the few-shot prompt fits "
                                         f"{model}'s context window of {window:,} tokens.")
            return out

        def without_fit_note(text):
            """Another model: the note about the previous one's window goes (the badges say what fits now)."""
            return (text or "").split(SHOTS_SET)[0]

        def load_chosen_source(kind, title, model, chat_, max_new_, k_):
            """Back to Built-in after a file or a Hub set: the built-in examples are in use again."""
            return load_builtin(title, model, chat_, max_new_, k_) if kind == "Built-in" else {data_status: gr.skip()}

        def load_file(file):
            """A new file replaces the examples in use; one that can't be used leaves none (so
            nothing runs on the previous file by mistake) and says why."""
            nothing = {frame_state: None, examples_state: None, preview: None,
                       input_col: gr.update(choices=[], value=None), ref_col: gr.update(choices=[], value=None)}
            if not file:
                return {**nothing, data_status: "Choose a file to upload."}
            path = Path(file if isinstance(file, str) else file.name)
            try:
                return loaded(data.read_table(path), f"'{path.name}'")
            except Exception as err:  # noqa: BLE001
                return {**nothing, data_status: error_text(err)}

        @guarded(data_status)
        @rate_limited(ctx)
        def load_hub(dataset_id, split, progress=gr.Progress(track_tqdm=True)):
            progress(0.1, desc=f"Loading {dataset_id}…")
            return loaded(data.read_hub(dataset_id, split or "train"), f"'{dataset_id}'")

        @guarded(data_status)
        def apply_mapping(frame, in_col, r_col, name):
            if frame is None:
                return {data_status: "Load a set of examples first."}
            examples = data.to_examples(frame, in_col, r_col, name or "the loaded data")
            return {examples_state: examples, data_status: f"✅ {examples.notice()}"}

        def show_source(kind):
            return {builtin: gr.update(visible=kind == "Built-in"), upload: gr.update(visible=kind == "Local file"),
                    hub_row: gr.update(visible=kind == "Hub dataset")}

        variant_outputs = [c[j] for c in columns for j in (0, 1, 2)] + [reference, status]
        form_inputs = [ctx.model_picker, examples_state, instruction, example_format, query_index, k, shot_mode,
                       seed, shot_indices, policy, chat, max_new, mode, temperature, adapter, n_batch]

        @guarded(status)
        @rate_limited(ctx, light=True)
        def update_prompts(*values):
            form = PromptForm(*values)
            try:
                prompts, window, encoder_decoder = form.prompts(ctx.models)
            except PlaygroundError as err:  # no prompt of the previous settings stays on screen as if it were of these
                out = {reference: "", status: f"⚠️ {err}"}
                for _, badge, text, _, _ in columns:
                    out[badge], out[text] = f"⚠️ {err}", ""
                return out
            out = {reference: form.examples.references[form.query_index],
                   status: icl.overflow_message(prompts, encoder_decoder=encoder_decoder) or ""}
            for (title, badge, text, _, _), prompt in zip(columns, prompts):
                out[title], out[badge] = f"### {prompt.name}", _badge(prompt.fitted, window, encoder_decoder)
                out[text] = prompt.fitted.text
            return out

        @guarded(status)
        @rate_limited(ctx)
        def run_all(progress=gr.Progress(), *values):  # (progress first: Gradio injects it only before *values)
            form = PromptForm(*values)
            # Clear the previous answers first, so a refused run never leaves them on screen as if they were its own.
            yield {status: "", **{c[j]: "" for c in columns for j in (3, 4)}}
            prompts, _, encoder_decoder = form.prompts(ctx.models)
            lm, adapter_ = with_adapter(ctx, form.model, form.adapter, progress)
            progress(0.5, desc="Generating the three completions…")
            results = gpu_calls.run(lm, icl.run_variants, prompts, form.examples.references[form.query_index],
                                    form.params(lm), form.chat, adapter=adapter_)
            note = (" · *The built-in tiny model has random weights: it babbles, so scores near 0 are expected. "
                    "Pick a real model to see the shots help.*" if lm.random_weights else "")
            out = {status: icl.overflow_message(prompts, encoder_decoder=encoder_decoder) or ""}
            for (title, _, _, completion, scores), result in zip(columns, results):
                s = result.scores
                out[title] = f"### {result.name}"
                if not result.ran:
                    out[completion], out[scores] = "", "⛔ Not run: too long for the context window (see the message below)."
                    continue
                out[completion] = result.completion
                out[scores] = f"**ROUGE-1** {s['rouge1']:.3f} · **ROUGE-2** {s['rouge2']:.3f} · **ROUGE-L** {s['rougeL']:.3f}{note}"
            yield out

        @guarded(status)
        @rate_limited(ctx)
        def run_batch(progress=gr.Progress(), *values):
            form = PromptForm(*values)
            examples = form.need_examples()
            lm, adapter_ = with_adapter(ctx, form.model, form.adapter, progress)
            n = min(int(form.n), len(examples))
            result = gpu_calls.run(lm, icl.run_batch, examples, form.setup(), form.params(lm), n, progress_fn(progress),
                                   adapter=adapter_, gpu_seconds=gpu_calls.GPU_SECONDS + 5 * n)
            csv_path = Path(tempfile.mkdtemp(prefix="prompt-lab-")) / "prompt_lab_batch.csv"
            csv_path.write_text(result.to_csv(), encoding="utf-8")
            return {batch_chart: plots.rouge_bar_figure(result.summary), batch_table: pd.DataFrame(result.rows),
                    batch_csv: str(csv_path), status: f"✅ Batch finished: {len(result.rows)} completions."}

        source.change(show_source, [source], [builtin, upload, hub_row], api_name=False)
        refresh = dict(fn=update_prompts, inputs=form_inputs, outputs=variant_outputs, show_progress="hidden",
                       trigger_mode="always_last")
        builtin_inputs = [builtin, ctx.model_picker, chat, max_new, k]
        source.change(load_chosen_source, [source, *builtin_inputs], data_outputs, api_name=False).then(**refresh, api_name=False)
        on_page_load(load_builtin, builtin_inputs, data_outputs).then(**refresh, api_name=False)
        builtin.change(load_builtin, builtin_inputs, data_outputs, api_name="load_builtin_task").then(**refresh, api_name=False)
        upload.change(load_file, [upload], data_outputs, api_name="load_file").then(**refresh, api_name=False)
        hub_load.click(load_hub, [hub_id, hub_split], data_outputs, api_name="load_hub_dataset").then(**refresh, api_name=False)
        for dropdown in (input_col, ref_col):
            dropdown.input(apply_mapping, [frame_state, input_col, ref_col, source_name], [examples_state, data_status],
                           api_name=False).then(**refresh, api_name=False)
        for control in (instruction, example_format, query_index, k, shot_mode, seed, shot_indices, policy, chat,
                        max_new, ctx.model_picker):
            control.change(**refresh, api_name=False)
        ctx.model_picker.change(without_fit_note, [data_status], [data_status], api_name=False, show_progress="hidden")
        run.click(run_all, form_inputs, [c[j] for c in columns for j in (0, 3, 4)] + [status],
                  api_name="run_prompts", concurrency_limit=2)
        batch_run.click(run_batch, form_inputs,
                        [batch_chart, batch_table, batch_csv, status], api_name="run_batch", concurrency_limit=2)

