"""Evaluation as a run kind: base vs adapters and fully fine-tuned models on held-out data, in a
background process with progress, ETA and Stop; its numbers are stored with the run.

PEFT adapters share one loaded base and are switched on and off around it, never injected into
it: after the adapters, the base's first outputs are generated again and compared, and the run
says whether they are unchanged."""

from __future__ import annotations

import dataclasses
import re
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from playground import adapters as adapter_folders
from playground.errors import PlaygroundError
from playground.evaluation.recipe import BASE, EvalRecipe
from playground.kinds import Outcome, Output, RunContext, RunKind
from playground.settings import Settings


@dataclass(frozen=True)
class ModelEntry:
    name: str  # "base" or the adapter's name
    folder: str | None  # None for the base
    is_adapter: bool  # a PEFT adapter on the base; else a full model of its own


def model_entries(recipe: EvalRecipe, settings: Settings) -> list[ModelEntry]:
    """The models to compare, each checked: it exists, it generates text, it was made from this base."""
    from playground.models import ModelManager

    models = ModelManager(settings)
    base_source = _comparable(models, recipe.base_model)
    entries = [ModelEntry(BASE, None, False)]
    known = {a["name"]: a for a in adapter_folders.list_adapters(settings.adapters_dir)}
    for name in recipe.adapters:
        item = known.get(name)
        if item is None:
            raise PlaygroundError(f"No adapter or model named '{name}' in {settings.adapters_dir}.")
        if item["output"] != "adapter":
            raise PlaygroundError(f"'{name}' is a {item['output'].replace('_', ' ')}: it scores text but does not "
                                  "write any, so it can't be evaluated here.")
        trained_on = item["base_model"]
        if trained_on and _comparable(models, trained_on) != base_source:
            raise PlaygroundError(f"'{name}' was made from '{trained_on}', not from '{recipe.base_model}': choose "
                                  f"'{trained_on}' as the base model, or leave '{name}' out.")
        entries.append(ModelEntry(name, item["path"], item["is_adapter"]))
    return entries


def _comparable(models, ref: str) -> str:
    """A model reference made comparable: the folder or Hub id it resolves to."""
    try:
        source = models.resolve(ref)
    except PlaygroundError:
        source = ref
    path = Path(source)
    return str(path.resolve()) if path.is_dir() else source


def check(recipe: EvalRecipe, settings: Settings) -> list[str]:
    """Everything knowable before the models load: the metrics' packages, the models, the data."""
    from playground.evaluation.benchmarks import check_tasks
    from playground.evaluation.scores import check_metrics
    from playground.evaluation.tasks import load_task

    check_metrics(recipe.metrics)
    entries = model_entries(recipe, settings)
    notes = []
    for task in filter(None, (recipe.task, recipe.other_task)):
        rows = load_task(task, settings.adapters_dir, recipe.adapters, recipe.max_examples)
        notes.append(f"{len(rows):,} examples from the {rows.name}.")
    if recipe.benchmarks:
        check_tasks(recipe.benchmarks)
    full = [e.name for e in entries if e.folder and not e.is_adapter]
    if full:
        notes.append(f"{', '.join(full)}: full model(s), loaded one after the other in place of the base.")
    return notes


class _Progress:
    """Items done, as progress events with an ETA: an item is one example through one model in one
    pass (its answer, or the reference's likelihood), or one model's benchmarks."""

    def __init__(self, ctx: RunContext, total: int):
        self.ctx, self.total, self.done, self.started = ctx, max(total, 1), 0, time.time()

    def stage(self, text: str) -> None:
        self.ctx.writer.write("status", message=text)
        self.text = text

    def advance(self, n: int) -> None:
        self.done += n
        elapsed = time.time() - self.started
        eta = elapsed / self.done * (self.total - self.done) if self.done else None
        self.ctx.writer.write("progress", step=self.done, max_steps=self.total, elapsed_s=elapsed, eta_s=eta,
                              stage=getattr(self, "text", ""))

    def counter(self):
        last = [0]

        def on_progress(done: int, total: int) -> None:
            self.advance(done - last[0])
            last[0] = done

        return on_progress


def _evaluate_model(lm, adapter, rows, recipe: EvalRecipe, params, chat: bool, progress: _Progress, stop) -> dict | None:
    """Outputs, lengths and reference NLLs of one model on one task; None if stopped before the end."""
    from playground.evaluation.likelihood import reference_nll
    from playground.generation import generate_many

    out = {"outputs": [], "lengths": [], "nll": None}
    if recipe.needs_generation:
        results = generate_many(lm, rows.prompts, params, chat=chat, adapter=adapter, batch_size=recipe.batch_size,
                                on_progress=progress.counter(), stop_event=stop)
        if any(r is None for r in results):
            return None
        out["outputs"] = [r.text.strip() for r in results]
        out["lengths"] = [len(r.token_ids) for r in results]
    if "perplexity" in recipe.metrics:
        nll = reference_nll(lm, rows.prompts, rows.references, chat=chat, adapter=adapter,
                            batch_size=recipe.batch_size, on_progress=progress.counter(), stop_event=stop)
        if any(r is None for r in nll):
            return None
        out["nll"] = nll
    return out


def _stats(recipe: EvalRecipe, rows, result: dict) -> dict[str, np.ndarray]:
    from playground.evaluation.scores import output_stats

    stats = {}
    if recipe.needs_generation:
        stats = output_stats(recipe.metrics, result["outputs"], rows.references, result["lengths"])
    if result["nll"] is not None:
        stats["perplexity"] = np.array(result["nll"], dtype=float)
    return {m: stats[m] for m in recipe.metrics if m in stats}


def run(recipe: EvalRecipe, ctx: RunContext) -> Outcome:
    from playground.evaluation import results
    from playground.evaluation.tasks import load_task
    from playground.generation import defaults_of, generate_many
    from playground.models import ModelManager
    from playground.training.sft_data import trains_in_chat_template

    entries = model_entries(recipe, ctx.settings)
    tasks = {"main": load_task(recipe.task, ctx.settings.adapters_dir, recipe.adapters, recipe.max_examples)}
    if recipe.other_task:
        tasks["other"] = load_task(recipe.other_task, ctx.settings.adapters_dir, recipe.adapters, recipe.max_examples)
    # steps: each example once per pass (generation, reference likelihood) per model, and one per model's benchmarks
    passes = int(recipe.needs_generation) + int("perplexity" in recipe.metrics)
    progress = _Progress(ctx, passes * len(entries) * sum(len(rows) for rows in tasks.values())
                         + (len(entries) if recipe.benchmarks else 0))
    models = ModelManager(ctx.settings)
    progress.stage(f"Loading {recipe.base_model}")
    peft = [e for e in entries if e.is_adapter]
    lm = models.get(recipe.base_model, adapters=tuple(e.folder for e in peft))
    chat = trains_in_chat_template(lm.tokenizer, lm.encoder_decoder) if recipe.chat is None else recipe.chat  # as SFT
    params = recipe.decoding_params(defaults_of(lm))
    raw: dict[str, dict[str, dict]] = {key: {} for key in tasks}
    started = time.time()
    base_check = None

    def evaluate(model_lm, entry: ModelEntry) -> bool:
        for key, rows in tasks.items():
            progress.stage(f"{entry.name} · {rows.name}")
            adapter = entry.name if entry.is_adapter else None
            result = _evaluate_model(model_lm, adapter, rows, recipe, params, chat, progress, ctx.stop)
            if result is None:
                return False
            raw[key][entry.name] = result
        return True

    completed = []
    for entry in [entries[0], *peft]:
        if ctx.stop.is_set() or not evaluate(lm, entry):
            break
        completed.append(entry.name)
    if peft and BASE in completed and recipe.needs_generation and not ctx.stop.is_set():
        progress.stage("Checking that the base model is unchanged after the adapters")
        rows = tasks["main"]
        again = generate_many(lm, rows.prompts[:recipe.batch_size], params, chat=chat, batch_size=recipe.batch_size)
        base_check = [g.text.strip() for g in again] == raw["main"][BASE]["outputs"][:recipe.batch_size]
        if not base_check:
            ctx.writer.write("warning", message="The base model's outputs changed after the adapters were used.")
    for entry in entries:
        if entry.folder and not entry.is_adapter and not ctx.stop.is_set():
            progress.stage(f"Loading {entry.name}")
            if evaluate(models.get(entry.folder), entry):
                completed.append(entry.name)

    soft_prompts = {}
    if not ctx.stop.is_set():
        from playground.evaluation.soft_prompts import soft_prompt_report

        for entry in peft:
            lm = models.get(recipe.base_model, adapters=tuple(e.folder for e in peft))
            if lm.has_soft_prompt(entry.name):
                soft_prompts[entry.name] = soft_prompt_report(lm, entry.name)
    benchmark_scores = {}
    if recipe.benchmarks and not ctx.stop.is_set():
        from playground.evaluation.benchmarks import run_benchmarks

        benchmark_scores = run_benchmarks(models, recipe, entries, ctx.stop,
                                          on_model=lambda name: progress.stage(f"{name} · benchmarks"),
                                          on_done=lambda: progress.advance(1))

    if BASE not in completed:
        raise PlaygroundError("Stopped before the base model was evaluated: there is nothing to compare.")
    record = {
        "base_model": recipe.base_model, "models": completed, "metrics": recipe.metrics,
        "primary_metric": recipe.primary_metric, "decoding": dataclasses.asdict(params) | {"chat": chat},
        "base_unchanged": base_check, "soft_prompts": soft_prompts, "benchmarks": benchmark_scores,
        "tasks": {key: results.summarize_task(rows.name, rows.prompts, rows.references,
                                              {m: raw[key][m]["outputs"] for m in completed if raw[key][m]["outputs"]},
                                              {m: _stats(recipe, rows, raw[key][m]) for m in completed})
                  for key, rows in tasks.items()},
        "seconds": time.time() - started,
    }
    main = record["tasks"]["main"]
    metrics = {f"{model}.{recipe.primary_metric}": main["scores"][model][recipe.primary_metric]["value"]
               for model in completed if recipe.primary_metric in main["scores"][model]}
    status = "stopped" if ctx.stop.is_set() or len(completed) < len(entries) else "finished"
    return Outcome(status, metrics, record)


def default_name(recipe: EvalRecipe) -> str:
    base = Path(re.split(r"[\s(]", recipe.base_model.strip())[0].rstrip("/")).name[:24]
    base = "".join(c for c in base if c.isalnum() or c in "._-").lstrip("._-") or "model"
    return f"eval-{base}-{time.strftime('%Y%m%d-%H%M%S')}"


KIND = RunKind(
    name="eval",
    title="Evaluation",
    output=Output.RESULT,
    recipe_class=EvalRecipe,
    check=check,
    run=run,
    default_name=default_name,
    summary=lambda recipe: {"method": "eval", "base_model": recipe.base_model},
)
