"""Bootstrap intervals for any corpus-level statistic, and the paired bootstrap that says whether
one model's difference from another is real or noise.

A metric gives per-example statistics (an n × k array) and an aggregate of their sums (ROUGE: the
mean of per-example scores; BLEU: sacrebleu's score of summed n-gram counts; perplexity: exp of
summed NLL over summed tokens). A resample is a row of counts (how often each example is drawn),
so all resamples' sums are one matrix product. The same counts are used for every model: that is
what makes the comparison paired (Koehn, 2004)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

Aggregate = Callable[[np.ndarray, int], np.ndarray]  # (m × k sums, n) -> m values
CONFIDENCE = 0.95
RESAMPLES = 1000


@dataclass(frozen=True)
class Interval:
    value: float  # the statistic on all examples
    low: float
    high: float

    def to_dict(self) -> dict:
        return {"value": self.value, "low": self.low, "high": self.high}


@dataclass(frozen=True)
class Difference:
    """model − reference on the same examples, with its paired interval."""

    diff: float
    low: float
    high: float
    relative: float | None  # diff / |reference value|; None when the reference is 0
    p_value: float  # two-sided: how often the resampled difference falls on the other side of 0

    @property
    def real(self) -> bool:
        """The interval excludes zero: unlikely to be resampling noise at this confidence."""
        return self.low > 0 or self.high < 0

    def to_dict(self) -> dict:
        return {"diff": self.diff, "low": self.low, "high": self.high, "relative": self.relative,
                "p_value": self.p_value, "real": self.real}


def resample_counts(n: int, resamples: int = RESAMPLES, seed: int = 0) -> np.ndarray:
    """resamples × n: how often each of n examples is drawn in each resample (with replacement)."""
    if n < 1:
        raise ValueError("a bootstrap needs at least one example")
    return np.random.default_rng(seed).multinomial(n, np.full(n, 1.0 / n), size=resamples)


def _statistic(stats: np.ndarray, aggregate: Aggregate) -> float:
    stats = np.asarray(stats, dtype=float).reshape(len(stats), -1)
    return float(aggregate(stats.sum(axis=0, keepdims=True), len(stats))[0])


def _resampled(stats: np.ndarray, aggregate: Aggregate, counts: np.ndarray) -> np.ndarray:
    stats = np.asarray(stats, dtype=float).reshape(len(stats), -1)
    return aggregate(counts @ stats, len(stats))


def _tails(values: np.ndarray, confidence: float) -> tuple[float, float]:
    tail = (1 - confidence) / 2 * 100
    low, high = np.nanpercentile(values, [tail, 100 - tail])
    return float(low), float(high)


def interval(stats, aggregate: Aggregate, counts: np.ndarray | None = None,
             confidence: float = CONFIDENCE) -> Interval:
    """The statistic with a percentile bootstrap interval."""
    stats = np.asarray(stats, dtype=float)
    value = _statistic(stats, aggregate)
    if len(stats) == 1:
        return Interval(value, value, value)
    counts = resample_counts(len(stats)) if counts is None else counts
    return Interval(value, *_tails(_resampled(stats, aggregate, counts), confidence))


def paired_difference(stats, reference_stats, aggregate: Aggregate, counts: np.ndarray | None = None,
                      confidence: float = CONFIDENCE) -> Difference:
    """stats − reference_stats (the same examples, row for row), resampled together."""
    stats, reference_stats = np.asarray(stats, dtype=float), np.asarray(reference_stats, dtype=float)
    if len(stats) != len(reference_stats):
        raise ValueError("a paired comparison needs the same examples for both")
    value, reference = _statistic(stats, aggregate), _statistic(reference_stats, aggregate)
    diff = value - reference
    relative = diff / abs(reference) if reference else None
    if len(stats) == 1:
        return Difference(diff, diff, diff, relative, 1.0)
    counts = resample_counts(len(stats)) if counts is None else counts
    diffs = _resampled(stats, aggregate, counts) - _resampled(reference_stats, aggregate, counts)
    low, high = _tails(diffs, confidence)
    p_value = min(1.0, 2 * min(float(np.mean(diffs <= 0)), float(np.mean(diffs >= 0))))
    return Difference(diff, low, high, relative, p_value)


def mean_aggregate(sums: np.ndarray, n: int) -> np.ndarray:
    """The mean of a per-example score (column 0)."""
    return sums[:, 0] / n
