"""What the labels say: agreement between annotators on pairs labeled more than once, position
bias (does the left side win more than half of the decisive votes?), and the votes the
leaderboard is fitted on."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from playground.metrics import bootstrap_ci
from playground.preferences.labels import Label
from playground.preferences.leaderboard import Vote, leaderboard

OUTCOMES = ("first", "second", "tie", "both_bad")  # a vote as which completion won, whatever side it was on


def outcome(label: Label) -> str:
    """A pair vote in side-free terms: which of the two texts (in a fixed order) won, or tie / both_bad."""
    if label.choice in ("tie", "both_bad"):
        return label.choice
    first = min(label.left_text, label.right_text)
    won = label.left_text if label.choice == "left" else label.right_text
    return "first" if won == first else "second"


def votes(labels: Sequence[Label]) -> list[Vote]:
    """Source-vs-source votes from labeled pairs (ties and "both bad" count half, as in the arena).
    Imported pairs have no sources and pairs of one source against itself say nothing: left out."""
    out = []
    for label in labels:
        if label.kind != "pair" or label.origin != "labeled" or label.left_source == label.right_source:
            continue
        score = {"left": 1.0, "right": 0.0}.get(label.choice, 0.5)
        out.append(Vote(label.left_source, label.right_source, score))
    return out


def position_bias(labels: Sequence[Label]) -> dict | None:
    """Share of decisive votes won by the left side, with a 95% interval (0.5 = no bias)."""
    decisive = [1.0 if x.choice == "left" else 0.0 for x in labels
                if x.kind == "pair" and x.origin == "labeled" and x.choice in ("left", "right")]
    if not decisive:
        return None
    share, low, high = bootstrap_ci(decisive)
    return {"left_wins": share, "low": low, "high": high, "decisive_votes": len(decisive),
            "biased": low > 0.5 or high < 0.5}


def agreement(labels: Sequence[Label]) -> dict:
    """On pairs labeled by more than one annotator: percent agreement (over every two labels of a
    pair), Cohen's kappa (the first two annotators of each pair as the two raters) and
    Krippendorff's alpha (nominal, all annotators)."""
    by_pair: dict[str, list[Label]] = defaultdict(list)
    for label in labels:
        if label.kind == "pair" and label.origin == "labeled":
            by_pair[label.key].append(label)
    shared = {key: items for key, items in by_pair.items() if len({x.annotator for x in items}) > 1}
    result = {"pairs_labeled_more_than_once": len(shared), "percent_agreement": None, "cohen_kappa": None,
              "krippendorff_alpha": None}
    if not shared:
        return result
    agree = total = 0
    firsts, seconds = [], []
    for items in shared.values():
        first_by_annotator = {}
        for label in items:
            first_by_annotator.setdefault(label.annotator, outcome(label))
        values = list(first_by_annotator.values())
        for i in range(len(values)):
            for j in range(i + 1, len(values)):
                agree += values[i] == values[j]
                total += 1
        firsts.append(values[0])
        seconds.append(values[1])
    result["percent_agreement"] = agree / total
    result["cohen_kappa"] = cohen_kappa(firsts, seconds)
    result["krippendorff_alpha"] = _krippendorff(shared)
    return result


def cohen_kappa(a: Sequence[str], b: Sequence[str]) -> float | None:
    """(observed − chance agreement) / (1 − chance agreement); None when chance agreement is 1."""
    n = len(a)
    observed = sum(x == y for x, y in zip(a, b)) / n
    chance = sum((list(a).count(c) / n) * (list(b).count(c) / n) for c in set(a) | set(b))
    return None if chance == 1 else (observed - chance) / (1 - chance)


def _krippendorff(shared: dict[str, list[Label]]) -> float | None:
    import numpy as np

    try:
        import krippendorff
    except ImportError:
        return None
    annotators = sorted({x.annotator for items in shared.values() for x in items})
    matrix = np.full((len(annotators), len(shared)), np.nan)
    for column, items in enumerate(shared.values()):
        for label in items:
            row = annotators.index(label.annotator)
            if np.isnan(matrix[row, column]):
                matrix[row, column] = OUTCOMES.index(outcome(label))
    try:
        return float(krippendorff.alpha(reliability_data=matrix, level_of_measurement="nominal"))
    except (ValueError, ZeroDivisionError):
        return None  # e.g. every label the same value: alpha is undefined


def stats(labels: Sequence[Label]) -> dict:
    """Counts, agreement, position bias and the leaderboard, as `prefs stats --json` prints them."""
    by_kind = defaultdict(int)
    by_choice = defaultdict(int)
    by_annotator = defaultdict(int)
    for label in labels:
        by_kind[label.kind] += 1
        by_annotator[label.annotator] += 1
        if label.choice:
            by_choice[label.choice] += 1
    board = leaderboard(votes(labels))
    return {"labels": len(labels), "by_kind": dict(by_kind), "by_choice": dict(by_choice),
            "by_annotator": dict(by_annotator), "agreement": agreement(labels), "position_bias": position_bias(labels),
            "leaderboard": [s.__dict__ for s in board]}
