"""Bootstrap intervals for any corpus-level statistic; the paired bootstrap interval of one model's
difference from another, and the paired permutation test that says whether it is real or noise.

A metric gives per-example statistics (an n × k array) and an aggregate of their sums (ROUGE: the
mean of per-example scores; BLEU: sacrebleu's score of summed n-gram counts; perplexity: exp of
summed NLL over summed tokens). A resample is a row of counts (how often each example is drawn),
so all resamples' sums are one matrix product. The same counts are used for every model: that is
what makes the comparison paired (Koehn, 2004).

The p-value comes from a paired permutation test (approximate randomization, Riezler & Maxwell,
2005): each example's statistics are swapped between the two models at random, and the difference
recomputed. Unlike the bootstrap's, its p-value is valid on few examples: 5 examples that all
improve give p = 0.0625 (2 of the 32 ways to swap them), where the bootstrap says p < 0.001."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

Aggregate = Callable[[np.ndarray, int], np.ndarray]  # (m × k sums, n) -> m values
CONFIDENCE = 0.95
RESAMPLES = 1000
EXACT_UP_TO = 12  # examples: every way of swapping them (2^12 = 4,096) is tried; above, RESAMPLES random ones


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
    p_value: float  # two-sided, of the paired permutation test

    @property
    def real(self) -> bool:
        """The interval excludes zero and the permutation test agrees: unlikely to be noise."""
        return (self.low > 0 or self.high < 0) and self.p_value < 1 - CONFIDENCE

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
    return Difference(diff, low, high, relative, permutation_p(stats, reference_stats, aggregate))


def permutation_p(stats, reference_stats, aggregate: Aggregate, trials: int = RESAMPLES, seed: int = 0) -> float:
    """Two-sided p-value of the paired permutation test: the share of swaps of examples between the
    two models whose difference is at least as large as the one observed (every swap up to
    EXACT_UP_TO examples; else `trials` random ones, counting the observed one)."""
    a = np.asarray(stats, dtype=float).reshape(len(stats), -1)
    b = np.asarray(reference_stats, dtype=float).reshape(len(reference_stats), -1)
    n = len(a)
    observed = abs(_statistic(a, aggregate) - _statistic(b, aggregate))
    if not np.isfinite(observed):
        return 1.0  # no difference to test
    exact = n <= EXACT_UP_TO
    if exact:
        swaps = (np.arange(2 ** n)[:, None] >> np.arange(n)) & 1
    else:
        swaps = np.random.default_rng(seed).integers(0, 2, size=(trials, n))
    swaps = swaps.astype(float)
    kept = 1.0 - swaps
    differences = np.abs(aggregate(kept @ a + swaps @ b, n) - aggregate(kept @ b + swaps @ a, n))
    differences = np.where(np.isfinite(differences), differences, np.inf)  # a swap with no value counts against
    as_large = int(np.sum(differences >= observed * (1 - 1e-9)))  # (rounding: the observed one counts itself)
    return as_large / len(swaps) if exact else (as_large + 1) / (trials + 1)


def mean_aggregate(sums: np.ndarray, n: int) -> np.ndarray:
    """The mean of a per-example score (column 0)."""
    return sums[:, 0] / n
