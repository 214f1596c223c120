"""The metrics an evaluation can compute. Each gives per-example statistics (an n × k array) and
an aggregate of their sums, so one bootstrap (`bootstrap.py`) serves them all, corpus-level
metrics included:

- ROUGE-1/2/L/Lsum through `evaluate`, with the metric module shipped in `rouge/` (offline);
- BLEU through sacrebleu: per-example n-gram counts, scored by sacrebleu from their sums;
- exact match, output length, and the perplexity of the references (their likelihood under
  the model, computed in `likelihood.py`)."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from playground.errors import PlaygroundError
from playground.evaluation.bootstrap import Aggregate, mean_aggregate
from playground.metrics import normalize_answer

ROUGE_MODULE = Path(__file__).resolve().parent / "rouge"
ROUGE_TYPES = ("rouge1", "rouge2", "rougeL", "rougeLsum")


@dataclass(frozen=True)
class Metric:
    name: str
    label: str
    about: str  # one plain sentence for the page
    direction: int  # +1: higher is better; -1: lower is better; 0: neither (a property, not a quality)
    aggregate: Aggregate
    per_example: Callable[[np.ndarray], np.ndarray] = lambda stats: stats[:, 0]  # n × k -> one score per example
    package: str | None = None  # what must be installed
    from_likelihood: bool = False  # needs the references' log-probabilities, not the outputs


def _bleu_score(stats_rows: np.ndarray, effective_order: bool = False) -> np.ndarray:
    bleu = _bleu(effective_order)
    return np.array([bleu._compute_score_from_stats([float(x) for x in row]).score for row in stats_rows])


def _perplexity(sums: np.ndarray, n: int) -> np.ndarray:
    return np.exp(sums[:, 0] / np.maximum(sums[:, 1], 1))


METRICS: dict[str, Metric] = {
    **{name: Metric(name, label, about, +1, mean_aggregate, package="rouge_score") for name, label, about in [
        ("rouge1", "ROUGE-1", "Overlap of single words with the reference (F-measure, 0–1)."),
        ("rouge2", "ROUGE-2", "Overlap of word pairs with the reference (F-measure, 0–1)."),
        ("rougeL", "ROUGE-L", "Longest common word subsequence with the reference (F-measure, 0–1)."),
        ("rougeLsum", "ROUGE-Lsum", "ROUGE-L over each line of a multi-line summary, then combined (0–1)."),
    ]},
    "bleu": Metric("bleu", "BLEU (0–100)", "n-gram precision (1–4) against the reference with a brevity penalty, "
                   "over the whole set (sacrebleu, 0–100).", +1, lambda sums, n: _bleu_score(sums),
                   per_example=lambda stats: _bleu_score(stats, effective_order=True), package="sacrebleu"),
    "exact_match": Metric("exact_match", "Exact match", "Share of outputs equal to the reference, ignoring case, "
                          "surrounding spaces and a final period (0–1).", +1, mean_aggregate),
    "perplexity": Metric("perplexity", "Perplexity", "How surprised the model is by the reference answer: exp of its "
                         "mean negative log-likelihood per token. Lower is better; no generation involved.", -1,
                         _perplexity, per_example=lambda stats: np.exp(stats[:, 0] / np.maximum(stats[:, 1], 1)),
                         from_likelihood=True),
    "length": Metric("length", "Output length", "Mean number of tokens generated (before end of text).", 0,
                     mean_aggregate),
}
DEFAULT_METRICS = tuple(METRICS)


def check_metrics(names: Sequence[str]) -> list[str]:
    """The names, checked: unknown ones and those whose package is missing are refused."""
    names = list(dict.fromkeys(names))
    if not names:
        raise PlaygroundError(f"Choose at least one metric: {', '.join(METRICS)}.")
    unknown = [n for n in names if n not in METRICS]
    if unknown:
        raise PlaygroundError(f"Unknown metric(s) {', '.join(unknown)}: choose from {', '.join(METRICS)}.")
    for name in names:
        package = METRICS[name].package
        if package and importlib.util.find_spec(package) is None:
            raise PlaygroundError(f"{METRICS[name].label} needs the '{package}' package, which is not installed: "
                                  f"pip install {package}, or leave {name} out.")
    return names


@lru_cache(maxsize=1)
def rouge_module():
    import evaluate

    return evaluate.load(str(ROUGE_MODULE))


@lru_cache(maxsize=2)
def _bleu(effective_order: bool):
    from sacrebleu.metrics import BLEU

    return BLEU(effective_order=effective_order)


def rouge_per_example(predictions: Sequence[str], references: Sequence[str]) -> dict[str, list[float]]:
    """F-measures per example, as evaluate's rouge gives them with use_stemmer=True."""
    return rouge_module().compute(predictions=list(predictions), references=list(references),
                                  rouge_types=list(ROUGE_TYPES), use_aggregator=False, use_stemmer=True)


def bleu_stats(predictions: Sequence[str], references: Sequence[str]) -> np.ndarray:
    """sacrebleu's sufficient statistics per example: lengths, then matches and totals per n-gram order."""
    return np.array(_bleu(False)._extract_corpus_statistics(list(predictions), [list(references)]), dtype=float)


def output_stats(names: Sequence[str], predictions: Sequence[str], references: Sequence[str],
                 lengths: Sequence[int]) -> dict[str, np.ndarray]:
    """Per-example statistics of the metrics computed from outputs (not perplexity)."""
    out: dict[str, np.ndarray] = {}
    wanted_rouge = [n for n in names if n in ROUGE_TYPES]
    if wanted_rouge:
        scores = rouge_per_example(predictions, references)
        out.update({n: np.array(scores[n], dtype=float)[:, None] for n in wanted_rouge})
    if "bleu" in names:
        out["bleu"] = bleu_stats(predictions, references)
    if "exact_match" in names:
        out["exact_match"] = np.array([[float(normalize_answer(p) == normalize_answer(r))]
                                       for p, r in zip(predictions, references)])
    if "length" in names:
        out["length"] = np.array(lengths, dtype=float)[:, None]
    return out
