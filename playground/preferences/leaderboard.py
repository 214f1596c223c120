"""A leaderboard of sources (models, adapters, decoding settings) from pairwise votes, fitted
with the Bradley-Terry model as Chatbot Arena ranks models: P(i beats j) = p_i / (p_i + p_j).
Ties (and "both bad", as the arena counts them) are half a win for each side. Fitted by
minorization-maximization (Hunter, 2004) with a weak prior (a fraction of a tie between every two
sources that met) so a source that never won still gets a finite rating; intervals from refitting
on bootstrap resamples of the votes. Ratings are on the arena's Elo-like scale: 400·log10(p) + 1000."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

PRIOR = 0.1  # virtual ties between every two sources that met
SCALE, BASE_RATING = 400.0, 1000.0


@dataclass(frozen=True)
class Vote:
    first: str
    second: str
    score: float  # 1: first won, 0: second won, 0.5: tie


@dataclass(frozen=True)
class Standing:
    source: str
    rating: float
    low: float
    high: float
    votes: int
    win_rate: float  # ties count half


def fit(votes: Sequence[Vote], sources: list[str] | None = None, iterations: int = 500) -> dict[str, float]:
    """Bradley-Terry log-strengths (natural log, mean 0) of each source."""
    sources = sources or sorted({v.first for v in votes} | {v.second for v in votes})
    index = {s: i for i, s in enumerate(sources)}
    n = len(sources)
    wins = np.zeros((n, n))  # wins[i, j]: (fractional) wins of i over j
    for v in votes:
        i, j = index[v.first], index[v.second]
        wins[i, j] += v.score
        wins[j, i] += 1 - v.score
    met = (wins + wins.T) > 0
    wins = wins + PRIOR / 2 * met
    games = wins + wins.T
    total_wins = wins.sum(axis=1)
    strength = np.ones(n)
    for _ in range(iterations):
        denominator = (games / (strength[:, None] + strength[None, :])).sum(axis=1)
        updated = np.where(denominator > 0, total_wins / np.where(denominator > 0, denominator, 1), strength)
        updated /= np.exp(np.log(updated).mean())
        if np.allclose(updated, strength, rtol=1e-10, atol=1e-12):
            strength = updated
            break
        strength = updated
    logs = np.log(strength)
    return {s: float(logs[index[s]] - logs.mean()) for s in sources}


def rating(log_strength: float) -> float:
    return SCALE * log_strength / np.log(10) + BASE_RATING


def leaderboard(votes: Sequence[Vote], resamples: int = 200, confidence: float = 0.95, seed: int = 0) -> list[Standing]:
    """Sources ranked by rating, each with a bootstrap interval, its number of votes and win rate."""
    if not votes:
        return []
    sources = sorted({v.first for v in votes} | {v.second for v in votes})
    point = fit(votes, sources)
    rng = np.random.default_rng(seed)
    draws = np.array([[fit_value for fit_value in fit([votes[k] for k in rng.integers(0, len(votes), len(votes))],
                                                      sources).values()] for _ in range(resamples)])
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(draws, [tail, 100 - tail], axis=0)
    standings = []
    for i, source in enumerate(sources):
        mine = [v for v in votes if source in (v.first, v.second)]
        won = sum(v.score if v.first == source else 1 - v.score for v in mine)
        standings.append(Standing(source, rating(point[source]), rating(low[i]), rating(high[i]), len(mine),
                                  won / len(mine) if mine else 0.0))
    return sorted(standings, key=lambda s: -s.rating)
