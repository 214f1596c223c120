"""Evaluate tab: compare a base model with its adapters and fine-tuned models on held-out data,
in the background; read the scores with intervals, the change against the base (real or noise),
each example, forgetting on a second task, soft prompts and benchmarks; export the results."""

from __future__ import annotations

import dataclasses
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import gradio as gr
import pandas as pd

from pages.common import (
    AppContext,
    decoding_mode,
    field_labels,
    guarded,
    in_form_words,
    made_from_model,
    max_new_tokens_slider,
    progress_html,
    rate_limited,
    settled_status,
    stop_run,
    temperature_slider,
    uploaded_path,
    visitor_of,
    warper_sliders,
)
from pages.polling import ChangesOnly
from playground import adapters as adapter_store
from playground import plots
from playground.errors import PlaygroundError
from playground.evaluation import results
from playground.evaluation.benchmarks import builtin_tasks
from playground.evaluation.recipe import BASE, EvalRecipe
from playground.evaluation.scores import DEFAULT_METRICS, METRICS
from playground.evaluation.soft_prompts import report_rows
from playground.jobs import JobManager
from playground.training.sft_data import TEMPLATES

EXPLAINER = """
**Evaluation** compares the base model with what you made from it (adapters and fully fine-tuned
models) on examples none of them trained on: by default the **held-out test split** the fine-tuning
run set aside. Each model writes an answer for every example (batched, greedy unless you choose
sampling), and each answer is scored against the reference.
Every number comes with a **95% bootstrap interval**: the examples are resampled 1,000 times and the
score recomputed, so a wide interval says "too few examples to be sure". The **change vs the base**
is tested on the same examples: its interval comes from a **paired bootstrap**, and its **p-value** from
a **paired permutation test** (each example's scores swapped between the two models at random: how often
is the difference as large?). When the interval excludes 0 and p < 0.05, the difference is real; otherwise
it could be noise. Few examples can't show much: with 5, even all improving gives p = 0.06. **Catastrophic forgetting**: a model tuned on one
task can get worse at others; add a second task to see what each method forgot.
"""
METRIC_HELP = "\n".join(f"- **{m.label}**: {m.about}" for m in METRICS.values())
EVAL_COLUMNS = ["name", "status", "models", "data", "examples", "headline", "when"]
TASK_TITLES = {"main": "Own task", "other": "Other task (forgetting)"}
SORTS = {"Where models disagree most": "disagreement", "Data order": "order"}
CHAT_CHOICES = {"auto": None, "on": True, "off": False}
BENCHMARK_ABOUT = {"playground_mc": "20 everyday questions with four answers each (made for this project; works offline)."}
FORGETTING_HINT = ("For a classification task with one-word answers (like sentiment), ROUGE and BLEU are near 0 for every "
                   "model: pick Exact match or Perplexity in the metric menu to see what changed.")


@dataclass
class EvalForm:
    """The tab's form values by recipe key."""

    model: str
    adapters: list[str]
    data: str
    data_file: object  # an upload (gr.File), used instead of `data` when given
    split: str
    input_column: str
    output_column: str
    template: str
    chat: str
    other_data: str
    max_examples: float
    metrics: list[str]
    mode: str
    max_new_tokens: float
    temperature: float
    top_k: float
    top_p: float
    repetition_penalty: float
    seed: float
    batch_size: float
    benchmarks: list[str]
    more_benchmarks: str
    benchmark_limit: float
    output_name: str

    def recipe(self) -> EvalRecipe:
        sampling = self.mode == "Sampling"
        decoding = {"max_new_tokens": _whole(self.max_new_tokens, "Max new tokens"), "do_sample": sampling,
                    "repetition_penalty": float(self.repetition_penalty), "seed": _whole(self.seed, "Seed")}
        if sampling:
            decoding |= {"temperature": float(self.temperature), "top_k": _whole(self.top_k, "Top-k"),
                         "top_p": float(self.top_p)}
        template = self.template or "plain"
        more = [b.strip() for b in (self.more_benchmarks or "").replace("\n", ",").split(",") if b.strip()]
        return EvalRecipe(
            base_model=(self.model or "").strip(), adapters=list(self.adapters or []), chat=CHAT_CHOICES.get(self.chat),
            task={"data": uploaded_path(self.data_file) or (self.data or "").strip(), "split": (self.split or "test").strip(),
                  "input_column": (self.input_column or "").strip(), "output_column": (self.output_column or "").strip(),
                  "template": template},
            other_task={"data": self.other_data.strip(), "template": template} if (self.other_data or "").strip() else None,
            metrics=list(self.metrics or []), max_examples=_whole(self.max_examples, "Examples per task"),
            decoding=decoding, batch_size=_whole(self.batch_size, "Batch size"),
            benchmarks=[*(self.benchmarks or []), *more], benchmark_limit=_whole(self.benchmark_limit, "Benchmark examples"),
            output_name=(self.output_name or "").strip())


def _whole(value, label: str) -> int:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise PlaygroundError(f"{label} must be a whole number (got {value!r}).") from None
    if number != number or int(number) != number:
        raise PlaygroundError(f"{label} must be a whole number (got {value!r}).")
    return int(number)


# ---- what the tab does, testable without a browser ----
def model_choices(models, base: str) -> list[str]:
    """Adapters and fully fine-tuned models made from `base` that write text (never reward models)."""
    texts = [a for a in adapter_store.list_adapters(models.settings.adapters_dir) if a["output"] == "adapter"]
    return [a["name"] for a in made_from_model(models, base, texts)]


def launch_evaluation(jobs: JobManager, recipe: EvalRecipe, created_by: str = "") -> tuple[dict, str]:
    run = jobs.submit("eval", recipe, created_by=created_by)
    where = "started" if run["status"] == "running" else "queued behind the run in progress (one run at a time)"
    notes = "".join(f"\n\nℹ️ {note}" for note in run["notes"])
    return run, f"✅ Evaluation **{run['name']}** {where}. Follow it below.{notes}"


def _headline(run: dict) -> str:
    result = run.get("result") or {}
    metric = result.get("primary_metric")
    main = (result.get("tasks") or {}).get("main")
    if not main or not metric:
        return ""
    return " · ".join(f"{model} {scores[metric]['value']:.3g}" for model, scores in main["scores"].items()
                      if metric in scores) + f" ({METRICS[metric].label})"


def evaluations_frame(runs: list[dict]) -> pd.DataFrame:
    rows = []
    for run in runs:
        recipe, result = run["recipe"] or {}, run.get("result") or {}
        main = (result.get("tasks") or {}).get("main") or {}
        task = recipe.get("task") or {}
        rows.append([run["name"], run["status"], ", ".join([BASE, *recipe.get("adapters", [])]),
                     main.get("name") or task.get("data") or "held-out split", main.get("n", ""), _headline(run),
                     time.strftime("%Y-%m-%d %H:%M", time.localtime(run["created"])) if run.get("created") else ""])
    return pd.DataFrame(rows, columns=EVAL_COLUMNS)


def result_views(record: dict, task_key: str, metric: str, sort: str) -> dict:
    """Everything the results area shows for one task of an evaluation, by part."""
    task = record["tasks"].get(task_key) or record["tasks"]["main"]
    metrics = record["metrics"]
    metric = metric if metric in metrics else record["primary_metric"]
    labels = {m: METRICS[m].label for m in metrics}
    directions = {m: METRICS[m].direction for m in metrics}
    notes = [f"**{task['name']}**, {task['n']} examples · decoding: "
             f"{'sampling' if record['decoding'].get('do_sample') else 'greedy'}, "
             f"max {record['decoding'].get('max_new_tokens')} new tokens"
             f"{' · prompts wrapped in the model chat template, as fine-tuning did' if record['decoding'].get('chat') else ''}."]
    if len(task["scores"]) < 2:
        notes.append("Only the base model was evaluated: add an adapter or fine-tuned model to see what changed.")
    if record.get("base_unchanged") is True:
        notes.append("✅ The base model's outputs were the same after the adapters were used: the adapters were "
                     "switched off for the base, never merged into it.")
    elif record.get("base_unchanged") is False:
        notes.append("⚠️ The base model's outputs changed after the adapters were used: its numbers may not be the base's.")
    points = results.forgetting_points(record, metric)
    other = record["tasks"].get("other")
    return {
        "note": "\n\n".join(notes),
        "scores": pd.DataFrame(results.score_rows(task, metrics)),
        "forgetting_hint": FORGETTING_HINT if points and all(abs(p["other_task_change"]) < 1e-12 for p in points) else "",
        "changes": pd.DataFrame(results.change_rows(task, metrics)),
        "scores_figure": plots.eval_scores_figure(task, metrics, labels),
        "changes_figure": plots.eval_changes_figure(task, metrics, labels, directions) if task["changes"] else None,
        "forgetting_figure": plots.forgetting_figure(points, labels[metric], record["tasks"]["main"]["name"],
                                                     other["name"]) if points else None,
        "examples": pd.DataFrame(results.example_rows(task, metric, sort)),
        "benchmarks": pd.DataFrame(benchmark_rows(record)),
        "soft_prompts": {name: pd.DataFrame(report_rows(report)) for name, report in record.get("soft_prompts", {}).items()},
    }


def benchmark_rows(record: dict) -> list[dict]:
    return [{"model": model, "task": task, "metric": metric, "value": round(v["value"], 4),
             "±1.96 SE": f"[{v['low']:.3g}, {v['high']:.3g}]"}
            for model, tasks in (record.get("benchmarks") or {}).items()
            for task, values in tasks.items() for metric, v in values.items()]


def export_files(run: dict, folder: Path) -> list[str]:
    """An evaluation's results: the headline numbers (CSV), every example (CSV) and everything (JSON)."""
    record = run.get("result")
    if not record:
        raise PlaygroundError("This evaluation has no results yet.")
    folder.mkdir(parents=True, exist_ok=True)
    files = {f"{run['name']}-summary.csv": results.summary_csv(record), f"{run['name']}-examples.csv": results.to_csv(record),
             f"{run['name']}.json": results.to_json(record)}
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    return [str(folder / name) for name in files]


def build(ctx: AppContext) -> None:
    jobs: JobManager = ctx.jobs
    export_dir = Path(tempfile.mkdtemp(prefix="playground-eval-export-"))
    with gr.Tab("Evaluate", id="evaluate", elem_id="tab-evaluate"):
        gr.Markdown(EXPLAINER)
        with gr.Accordion("1 · Models and data", open=True):
            gr.Markdown("The base is the model picked at the top of the page.")
            adapters = gr.Dropdown(model_choices(ctx.models, ctx.start_model), value=[], multiselect=True, elem_id="ev-adapters",
                                   label="Adapters and fine-tuned models to compare with the base",
                                   info="From the Fine-tune tab. They must have been made from the base model.")
            with gr.Row():
                data = gr.Textbox("", label="Data", placeholder="(the adapters' held-out test split)", elem_id="ev-data",
                                  scale=3, info="Empty: the test split the first adapter's run held out. Or a built-in "
                                                "set (summarization, sentiment), a .jsonl/.csv/.parquet path, or a Hub id. "
                                                "prompt/completion columns need no mapping.")
                data_file = gr.File(label="…or upload a file", file_types=[".jsonl", ".json", ".csv", ".parquet"],
                                    elem_id="ev-file", scale=2)
                split = gr.Textbox("test", label="Hub split", elem_id="ev-split", scale=1)
            with gr.Row():
                input_column = gr.Textbox("", label="Input column", placeholder="(guessed)", elem_id="ev-input-col")
                output_column = gr.Textbox("", label="Reference column", placeholder="(guessed)", elem_id="ev-ref-col")
                template = gr.Dropdown(list(TEMPLATES), value="plain", label="Instruction template", elem_id="ev-template",
                                       info="For data other than a held-out split (that one is already templated).")
                max_examples = gr.Number(100, label="Examples per task", precision=0, elem_id="ev-max-examples",
                                         info="The first N. More examples: narrower intervals, longer runs.")
                chat = gr.Dropdown(list(CHAT_CHOICES), value=list(CHAT_CHOICES)[0], label="Chat template",
                                   elem_id="ev-chat", info="Wrap each prompt as a user turn of the model's chat "
                                                           "template. auto: when the model has one, as fine-tuning did.")
            other_data = gr.Textbox("", label="Second task, for forgetting (optional)", placeholder="e.g. sentiment",
                                    elem_id="ev-other-data",
                                    info="A task the models were not tuned on: a built-in set, a file or a Hub id.")
        with gr.Accordion("2 · Metrics and decoding", open=True):
            metrics = gr.CheckboxGroup([(METRICS[m].label, m) for m in DEFAULT_METRICS], value=list(DEFAULT_METRICS),
                                       label="Metrics", elem_id="ev-metrics")
            with gr.Accordion("What the metrics mean", open=False):
                gr.Markdown(METRIC_HELP)
            with gr.Row():
                mode = decoding_mode("ev-mode", info="Greedy is the usual choice for evaluation: one reproducible answer.")
                max_new_tokens = max_new_tokens_slider("ev-max-new-tokens", 512, 64)
                batch_size = gr.Slider(1, 64, value=8, step=1, label="Batch size", elem_id="ev-batch",
                                       info="Prompts generated together (padded to one length; the answers are the same).")
            with gr.Row():
                temperature = temperature_slider("ev-temperature")
                top_k, top_p, repetition = warper_sliders("ev")
                for sampling_only in (temperature, top_k, top_p):
                    sampling_only.interactive = False  # greedy: these do nothing until Sampling is chosen
                seed = gr.Number(0, label="Seed", precision=0, elem_id="ev-seed")
        with gr.Accordion("3 · Benchmarks (optional)", open=False):
            gr.Markdown("Multiple-choice tasks scored by log-likelihood through EleutherAI's **lm-evaluation-harness**: "
                        "each answer choice's likelihood after the question; the most likely choice is the model's answer.")
            with gr.Row():
                benchmarks = gr.CheckboxGroup(list(builtin_tasks()), value=[], label="Shipped tasks (offline)",
                                              elem_id="ev-benchmarks", info=" ".join(f"{name}: {BENCHMARK_ABOUT.get(name, '')}"
                                                                                     for name in builtin_tasks()))
                more_benchmarks = gr.Textbox("", label="More tasks", placeholder="hellaswag, arc_easy, or /path/task.yaml",
                                             elem_id="ev-more-benchmarks",
                                             info="lm-eval task names (need the Hub) or task YAML files, comma-separated.")
                benchmark_limit = gr.Number(100, label="Examples per benchmark", precision=0, elem_id="ev-bench-limit")
        with gr.Row():
            output_name = gr.Textbox("", label="Evaluation name", placeholder="(automatic)", elem_id="ev-name")
            launch_btn = gr.Button("Run evaluation", variant="primary", elem_id="ev-launch")
        status = gr.Markdown("", elem_id="ev-status")

        gr.Markdown("### Evaluations")
        evals_table = gr.Dataframe(headers=EVAL_COLUMNS, interactive=False, elem_id="ev-runs", wrap=True,
                                   column_widths=["14%", "8%", "16%", "14%", "7%", "29%", "12%"])  # the headline in view
        with gr.Row():
            run_picker = gr.Dropdown([], label="Evaluation", elem_id="ev-run-picker", scale=3)
            stop_btn = gr.Button("Stop", variant="stop", elem_id="ev-stop", scale=1)
        run_progress = gr.HTML("", elem_id="ev-progress")
        gr.Markdown("<small>An item is one example through one model: writing its answer, or (perplexity) reading "
                    "the reference; and each model's benchmarks.</small>")
        run_error = gr.Markdown("", elem_id="ev-run-error")

        with gr.Group(visible=False, elem_id="ev-results") as results_group:
            with gr.Row():
                task_choice = gr.Radio([TASK_TITLES["main"]], value=TASK_TITLES["main"], label="Task", elem_id="ev-task")
                metric_choice = gr.Dropdown([], label="Metric for the examples and forgetting views", elem_id="ev-metric")
            note = gr.Markdown("", elem_id="ev-note")
            scores_table = gr.Dataframe(label="Scores (95% bootstrap intervals)", interactive=False, elem_id="ev-scores")
            scores_plot = gr.Plot(label="Scores", elem_id="ev-scores-chart")
            changes_table = gr.Dataframe(label="Change vs the base (paired bootstrap interval, permutation-test p)", interactive=False,
                                         elem_id="ev-changes")
            changes_plot = gr.Plot(label="Change vs the base", elem_id="ev-changes-chart")
            forgetting_plot = gr.Plot(label="Learning vs forgetting", elem_id="ev-forgetting-chart", visible=False)
            forgetting_hint = gr.Markdown("", elem_id="ev-forgetting-hint")
            sort_choice = gr.Radio(list(SORTS), value=list(SORTS)[0], label="Examples", elem_id="ev-sort")
            examples_table = gr.Dataframe(label="Per example: input, reference, each model's output and score",
                                          interactive=False, wrap=True, max_height=480, elem_id="ev-examples")
            with gr.Accordion("Soft prompts made visible", open=False, visible=False, elem_id="ev-soft-acc") as soft_acc:
                gr.Markdown("Each learned virtual token of a prompt-tuning adapter, with the vocabulary tokens nearest "
                            "to it (cosine similarity of embeddings) and how far it moved from the token it started as. "
                            "Soft prompts rarely read as words: they live between the vocabulary's embeddings.")
                soft_choice = gr.Dropdown([], label="Adapter", elem_id="ev-soft-choice")
                soft_table = gr.Dataframe(interactive=False, wrap=True, elem_id="ev-soft-table")
            benchmarks_table = gr.Dataframe(label="Benchmarks: accuracy with ±1.96 standard errors (lm-eval)", interactive=False,
                                            visible=False, elem_id="ev-bench-table")
            with gr.Row():
                export_btn = gr.Button("Export CSV and JSON", elem_id="ev-export")
                export_files_out = gr.File(label="Results", file_count="multiple", elem_id="ev-export-files", visible=False)

        state = gr.State({"run": None, "offset": 0, "events": [], "shown": None})
        timer = gr.Timer(2.0)

        # ---- handlers ----
        form = [ctx.model_picker, adapters, data, data_file, split, input_column, output_column, template, chat, other_data, max_examples,
                metrics, mode, max_new_tokens, temperature, top_k, top_p, repetition, seed, batch_size, benchmarks,
                more_benchmarks, benchmark_limit, output_name]

        form_words = in_form_words(field_labels(dict(zip((f.name for f in dataclasses.fields(EvalForm)), form))))

        @guarded(status)
        @rate_limited(ctx)
        @form_words
        def launch(request: gr.Request, *values):
            visitor = visitor_of(ctx, request)
            if ctx.access.restricted and not visitor.is_admin and any(
                    r["created_by"] == visitor.label for r in jobs.store.runs(statuses=("queued", "running"))):
                raise PlaygroundError("Your evaluation is still queued or running: wait for it (or stop it) before "
                                      "starting another, so everyone gets a turn.")
            run, message = launch_evaluation(jobs, EvalForm(*values).recipe(), visitor.label)
            return {status: message, run_picker: gr.update(choices=_choices(jobs), value=run["id"])}

        def show_results(run: dict, task_title: str, metric: str, sort_title: str) -> dict:
            record = run["result"]
            task_key = "other" if task_title == TASK_TITLES["other"] and "other" in record["tasks"] else "main"
            views = result_views(record, task_key, metric, SORTS.get(sort_title, "disagreement"))
            soft = views["soft_prompts"]
            first_soft = next(iter(soft), None)
            return {
                results_group: gr.update(visible=True),
                task_choice: gr.update(choices=[TASK_TITLES[k] for k in record["tasks"]], value=TASK_TITLES[task_key]),
                metric_choice: gr.update(choices=[(METRICS[m].label, m) for m in record["metrics"]],
                                         value=metric if metric in record["metrics"] else record["primary_metric"]),
                note: views["note"], scores_table: views["scores"], scores_plot: views["scores_figure"],
                changes_table: gr.update(value=views["changes"], visible=not views["changes"].empty),
                changes_plot: gr.update(value=views["changes_figure"], visible=views["changes_figure"] is not None),
                forgetting_hint: views["forgetting_hint"],
                forgetting_plot: gr.update(value=views["forgetting_figure"], visible=views["forgetting_figure"] is not None),
                examples_table: gr.update(value=views["examples"], column_widths=_example_widths(views["examples"].columns)),
                soft_acc: gr.update(visible=bool(soft)), soft_choice: gr.update(choices=list(soft), value=first_soft),
                soft_table: soft[first_soft] if first_soft else None,
                benchmarks_table: gr.update(value=views["benchmarks"], visible=not views["benchmarks"].empty),
                sort_choice: gr.update(visible=len(record["tasks"][task_key]["per_example"]) > 1),  # one model: none
            }

        def _poll(run_id, state_, task_title, metric, sort_title, status_text):
            runs = jobs.store.runs(kind="eval")
            out = {evals_table: evaluations_frame(runs)}
            if run_id is None and runs:
                run_id = runs[0]["id"]
                out[run_picker] = gr.update(choices=_choices(jobs, runs), value=run_id)
            elif runs:
                out[run_picker] = gr.update(choices=_choices(jobs, runs))
            run = jobs.store.run(run_id) if run_id else None
            if run is None:
                return out | {run_progress: "", run_error: "", results_group: gr.update(visible=False)}
            if state_.get("run") != run_id:
                state_ = {"run": run_id, "offset": 0, "events": [], "shown": None}
            new, offset = jobs.events(run_id, state_["offset"])
            state_ = state_ | {"offset": offset, "events": state_["events"] + new}
            warnings = [e["message"] for e in state_["events"] if e["type"] == "warning"]
            problems = ([run["error"]] if run["error"] else []) + warnings
            stage = next((e["message"] for e in reversed(state_["events"]) if e["type"] == "status"), "")
            out |= {run_progress: progress_html(run, state_["events"], "item") + (f"<div style='font-size:13px'>{stage}</div>"
                                                                             if run["status"] == "running" else ""),
                    run_error: "\n\n".join(f"⚠️ {p}" for p in problems)}
            if run.get("result") and state_["shown"] != run_id:
                out |= show_results(run, task_title, metric, sort_title)
                state_["shown"] = run_id
            elif not run.get("result"):
                out[results_group] = gr.update(visible=False)
            if settled := settled_status(status_text, run):
                out[status] = settled
            return out | {state: state_}

        @guarded(status)
        def redraw(run_id, task_title, metric, sort_title):
            run = jobs.store.run(run_id) if run_id else None
            if not run or not run.get("result"):
                return {status: gr.skip()}  # an empty dict is refused by Gradio (a server error each time)
            return show_results(run, task_title, metric, sort_title)

        @guarded(status)
        def stop(run_id, request: gr.Request):
            run = jobs.store.run(run_id) if run_id else None
            ctx.access.require_admin_or_owner(visitor_of(ctx, request), (run or {}).get("created_by", ""), "stop")
            return {status: stop_run(jobs, run_id, "evaluation")}

        @guarded(status)
        def export(run_id):
            run = jobs.store.run(run_id) if run_id else None
            if run is None:
                raise PlaygroundError("Choose an evaluation first.")
            return {export_files_out: gr.update(value=export_files(run, export_dir), visible=True),
                    status: "✅ Exported: the headline numbers, every example, and everything as JSON."}

        def show_soft(run_id, name):
            run = jobs.store.run(run_id) if run_id else None
            report = ((run or {}).get("result") or {}).get("soft_prompts", {}).get(name)
            return pd.DataFrame(report_rows(report)) if report else None

        launch_btn.click(launch, form, [status, run_picker], api_name="run_evaluation", concurrency_id="ev-poll")  # see finetune
        result_outputs = [results_group, task_choice, metric_choice, note, scores_table, scores_plot, changes_table,
                          changes_plot, forgetting_plot, forgetting_hint, examples_table, soft_acc, soft_choice, soft_table,
                          benchmarks_table, sort_choice]
        poll_outputs = [evals_table, run_picker, run_progress, run_error, state, *result_outputs, status]
        poll_inputs = [run_picker, state, task_choice, metric_choice, sort_choice, status]
        serial = dict(concurrency_id="ev-poll", concurrency_limit=1, show_progress="hidden", api_name=False)  # in order
        changes_only = ChangesOnly()

        def poll(run_id, state_, task_title, metric, sort_title, status_text, request: gr.Request):
            return changes_only(request, _poll(run_id, state_, task_title, metric, sort_title, status_text),
                                always=(status,))  # launches and Stop write it too

        timer.tick(poll, poll_inputs, poll_outputs, **serial)
        run_picker.change(poll, poll_inputs, poll_outputs, **serial)
        view_inputs = [run_picker, task_choice, metric_choice, sort_choice]
        for control in (task_choice, metric_choice, sort_choice):
            control.input(redraw, view_inputs, [*result_outputs, status], api_name=False, show_progress="hidden")
        soft_choice.input(show_soft, [run_picker, soft_choice], [soft_table], api_name=False)
        stop_btn.click(stop, [run_picker], [status], api_name="stop_evaluation")
        export_btn.click(export, [run_picker], [export_files_out, status], api_name="export_evaluation")
        adapters.focus(lambda model: gr.update(choices=model_choices(ctx.models, model)), [ctx.model_picker], adapters, api_name=False,
                       show_progress="hidden")
        mode.change(lambda m: [gr.update(interactive=m == "Sampling")] * 3, [mode], [temperature, top_k, top_p],
                    api_name=False, show_progress="hidden")


def _example_widths(columns) -> list[str]:
    """Shares of the table's width: narrow number columns, the texts (input, reference, each output)
    sharing the rest, so every model's output is in view beside the others (fixed 320 px columns
    pushed the second model's off the right edge)."""
    texts = [str(c).endswith(("output", "reference", "input")) for c in columns]
    number_share = 5
    text_share = (100 - number_share * texts.count(False)) / max(texts.count(True), 1)
    return [f"{text_share:.1f}%" if text else f"{number_share}%" for text in texts]


def _choices(jobs: JobManager | None, runs: list[dict] | None = None) -> list[tuple[str, str]]:
    """The run picker's (label, id) pairs; evaluations may share a name (a result holds none), so
    those say when they were made."""
    import collections

    runs = runs if runs is not None else jobs.store.runs(kind="eval")
    repeated = {name for name, count in collections.Counter(r["name"] for r in runs).items() if count > 1}
    when = lambda r: f" · {time.strftime('%m-%d %H:%M:%S', time.localtime(r['created']))}" if r["name"] in repeated else ""  # noqa: E731
    return [(f"{r['name']}{when(r)} ({r['status']})", r["id"]) for r in runs]
