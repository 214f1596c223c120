"""From per-example statistics to what people read: each model's metrics with bootstrap
intervals, its change against the base with a paired bootstrap, per-example scores and where
models disagree, forgetting points, and CSV/JSON export. Pure functions over plain data."""

from __future__ import annotations

import csv
import io
import json

import numpy as np

from playground.evaluation.bootstrap import interval, paired_difference, resample_counts
from playground.evaluation.recipe import BASE
from playground.evaluation.scores import METRICS


def summarize_task(name: str, prompts: list[str], references: list[str], outputs: dict[str, list[str]],
                   stats: dict[str, dict[str, np.ndarray]], seed: int = 0) -> dict:
    """One task's results. `stats[model][metric]` holds per-example statistics (n × k); every
    model saw the same n examples, so one set of resamples serves every model (paired)."""
    counts = resample_counts(len(references), seed=seed) if len(references) > 1 else None
    scores, changes, per_example = {}, {}, {}
    for model, by_metric in stats.items():
        scores[model] = {m: interval(s, METRICS[m].aggregate, counts).to_dict() for m, s in by_metric.items()}
        per_example[model] = {m: [_clean(v) for v in METRICS[m].per_example(np.asarray(s, dtype=float).reshape(len(s), -1))]
                              for m, s in by_metric.items()}
        if model != BASE and BASE in stats:
            changes[model] = {m: paired_difference(s, stats[BASE][m], METRICS[m].aggregate, counts).to_dict()
                              for m, s in by_metric.items() if m in stats[BASE]}
    return {"name": name, "n": len(references), "prompts": prompts, "references": references, "outputs": outputs,
            "scores": scores, "changes": changes, "per_example": per_example}


def _clean(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None


def score_rows(task: dict, metrics: list[str]) -> list[dict]:
    """For reading: one row per metric, one column per model, each "value [low, high]" (95% interval)."""
    rows = []
    for metric in metrics:
        row = {"metric": METRICS[metric].label}
        for model, by_metric in task["scores"].items():
            if metric in by_metric:
                s = by_metric[metric]
                row[model] = f"{s['value']:.4g} [{s['low']:.4g}, {s['high']:.4g}]"
        rows.append(row)
    return rows


def verdict(metric: str, change: dict) -> str:
    if change["diff"] == 0 and change["low"] == 0 and change["high"] == 0:
        return "no difference"
    if not change["real"]:
        if change["low"] <= 0 <= change["high"]:
            return "could be noise (interval includes 0)"
        return "could be noise (p ≥ 0.05: too few examples to tell)"
    direction = METRICS[metric].direction
    if direction == 0:
        return "real change"
    return "real improvement" if change["diff"] * direction > 0 else "real decline"


def _p(value: float) -> str:
    return "<0.001" if value < 0.001 else f"{value:.3f}"


def change_rows(task: dict, metrics: list[str]) -> list[dict]:
    """For reading: each tuned model's change against the base, per metric, with the paired
    interval, its p-value and a verdict."""
    rows = []
    for model, by_metric in task["changes"].items():
        for metric in metrics:
            if metric not in by_metric:
                continue
            d = by_metric[metric]
            rows.append({"model": model, "metric": METRICS[metric].label, "change": f"{d['diff']:+.4g}",
                         "relative": f"{d['relative']:+.1%}" if d["relative"] is not None else "(base is 0)",
                         "95% CI": f"[{d['low']:+.4g}, {d['high']:+.4g}]", "p": _p(d["p_value"]),
                         "verdict": verdict(metric, d)})
    return rows


def disagreement(task: dict, metric: str) -> list[float]:
    """Per example: the spread (best − worst) of the models' scores on `metric`."""
    columns = [task["per_example"][m][metric] for m in task["per_example"] if metric in task["per_example"][m]]
    spreads = []
    for values in zip(*columns):
        present = [v for v in values if v is not None]
        spreads.append(max(present) - min(present) if len(present) > 1 else 0.0)
    return spreads


INPUT_SHOWN = 240  # characters of an input in the per-example table: more pushed the outputs out of view


def example_rows(task: dict, metric: str, sort: str = "disagreement") -> list[dict]:
    """The per-example view: the input (its start: the exported CSV has it whole), the reference,
    each model's output and score; sorted by where the models disagree most (or in data order)."""
    spreads = disagreement(task, metric) if len(task["per_example"]) > 1 else []
    rows = []
    for i, (prompt, reference) in enumerate(zip(task["prompts"], task["references"])):
        row = {"#": i}
        if spreads:
            row["spread"] = round(spreads[i], 4)
        row["input"] = prompt if len(prompt) <= INPUT_SHOWN else prompt[:INPUT_SHOWN] + "…"
        row["reference"] = reference
        for model, scores in task["per_example"].items():
            if model in task["outputs"]:
                row[f"{model} output"] = task["outputs"][model][i]
            score = scores.get(metric, [None] * (i + 1))[i]
            row[f"{model} {metric}"] = None if score is None else round(score, 4)
        rows.append(row)
    if sort == "disagreement" and spreads:
        rows.sort(key=lambda r: -(r["spread"] or 0.0))
    return rows


def forgetting_points(record: dict, metric: str) -> list[dict]:
    """For each tuned model: its change on its own task and on the other one (Biderman et al., 2024:
    learning vs forgetting). Empty without a second task."""
    main, other = record["tasks"].get("main"), record["tasks"].get("other")
    if not main or not other:
        return []
    points = []
    for model, by_metric in main["changes"].items():
        if metric in by_metric and metric in other["changes"].get(model, {}):
            gain, loss = by_metric[metric], other["changes"][model][metric]
            points.append({"model": model, "own_task_change": gain["diff"], "own_low": gain["low"],
                           "own_high": gain["high"], "other_task_change": loss["diff"], "other_low": loss["low"],
                           "other_high": loss["high"]})
    return points


def to_csv(record: dict) -> str:
    """Every example of every task, one row per model: the outputs and per-example scores."""
    metrics = record["metrics"]
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["task", "example", "model", "input", "reference", "output", *metrics])
    for key, task in record["tasks"].items():
        for model, scores in task["per_example"].items():
            texts = task["outputs"].get(model) or [""] * task["n"]
            for i in range(task["n"]):
                writer.writerow([key, i, model, task["prompts"][i], task["references"][i], texts[i],
                                 *[_cell(scores.get(m, [None] * (i + 1))[i]) for m in metrics]])
    return out.getvalue()


def _cell(value) -> str:
    return "" if value is None else f"{value:.6g}"


def summary_csv(record: dict) -> str:
    """The headline numbers: per task, model and metric, the value with its 95% interval, and the
    change against the base with its paired interval, p-value and verdict."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["task", "data", "examples", "model", "metric", "value", "low", "high", "change vs base",
                     "change low", "change high", "p", "verdict"])
    for key, task in record["tasks"].items():
        for model, by_metric in task["scores"].items():
            for metric, s in by_metric.items():
                d = task["changes"].get(model, {}).get(metric)
                change = [_cell(d["diff"]), _cell(d["low"]), _cell(d["high"]), _cell(d["p_value"]), verdict(metric, d)] if d \
                    else ["", "", "", "", ""]
                writer.writerow([key, task["name"], task["n"], model, metric, _cell(s["value"]), _cell(s["low"]),
                                 _cell(s["high"]), *change])
    for model, tasks in (record.get("benchmarks") or {}).items():
        for task_name, values in tasks.items():
            for metric, s in values.items():
                writer.writerow(["benchmark", task_name, "", model, metric, _cell(s["value"]), _cell(s["low"]),
                                 _cell(s["high"]), "", "", "", "", ""])
    return out.getvalue()


def to_json(record: dict) -> str:
    return json.dumps(record, indent=1, ensure_ascii=False)
