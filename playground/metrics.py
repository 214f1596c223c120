"""Scores: ROUGE against references, bootstrap confidence intervals, distinct-n diversity."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

ROUGE_KEYS = ("rouge1", "rouge2", "rougeL")


@lru_cache(maxsize=1)
def _rouge_scorer():
    from rouge_score import rouge_scorer

    # Same settings as evaluate's "rouge" with use_stemmer=True.
    return rouge_scorer.RougeScorer(list(ROUGE_KEYS), use_stemmer=True)


def rouge(prediction: str, reference: str) -> dict[str, float]:
    """ROUGE-1/2/L F-measures of one prediction against one reference (0 for an empty prediction)."""
    if not prediction.strip():
        return {key: 0.0 for key in ROUGE_KEYS}
    scores = _rouge_scorer().score(reference, prediction)
    return {key: scores[key].fmeasure for key in ROUGE_KEYS}


def normalize_answer(text: str) -> str:
    return " ".join(text.lower().strip().strip(".!").split())


def exact_match(predictions: Sequence[str], references: Sequence[str]) -> float:
    """Share of predictions equal to their reference, ignoring case, surrounding spaces and a final period."""
    if not predictions:
        return 0.0
    return sum(normalize_answer(p) == normalize_answer(r) for p, r in zip(predictions, references)) / len(predictions)


def bootstrap_ci(values: Sequence[float], confidence: float = 0.95) -> tuple[float, float, float]:
    """(mean, low, high): a percentile bootstrap interval of the mean."""
    from playground.evaluation.bootstrap import interval, mean_aggregate

    if len(values) == 0:
        raise ValueError("bootstrap_ci needs at least one value")
    result = interval(values, mean_aggregate, confidence=confidence)
    return result.value, result.low, result.high


def distinct_n(texts: Sequence[str], n: int) -> float:
    """Unique n-grams / all n-grams over the texts (words split on whitespace): 1.0 = no repeats."""
    grams = []
    for text in texts:
        words = text.split()
        grams += [tuple(words[i : i + n]) for i in range(len(words) - n + 1)]
    return len(set(grams)) / len(grams) if grams else 0.0
