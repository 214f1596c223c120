"""Pairs shown to more than one annotator, so that the team's agreement can be measured.

Each annotator's pairs are written for them (new seeds), so two people almost never see the same
pair by chance. With an overlap share, that share of the pairs an annotator gets comes instead
from those a colleague has labeled and they have not: same prompt set, same sources, the pairs
labeled by the fewest people first, and the sides drawn again (a second look at the same sides
would hide position bias)."""

from __future__ import annotations

import json
import random

from playground.preferences.tasks import Completion, Source, Task
from playground.store import Store

LABELS_PER_PAIR = 2  # a pair labeled by this many people is not offered again for agreement


def shared_task(store: Store, annotator: str, setup: dict, rng: random.Random | None = None) -> dict | None:
    """A Task (as a dict) that others labeled under this setup's prompts and sources and
    `annotator` has not; None when there is none."""
    rng = rng or random.Random()
    names = sorted({Source(adapter, preset).name for adapter, preset in setup["sources"]})
    marks = ",".join("?" * len(names))
    kind = "rating" if setup.get("single") else "pair"
    query = f"""
        SELECT pair_key, MIN(id) AS first_id, COUNT(DISTINCT annotator) AS annotators FROM labels
        WHERE origin = 'labeled' AND kind = ? AND left_source IN ({marks})
          AND (right_source IS NULL OR right_source IN ({marks}))
          AND pair_key NOT IN (SELECT pair_key FROM labels WHERE annotator = ?)
        GROUP BY pair_key HAVING annotators < ? ORDER BY annotators, pair_key"""
    prompts = set(setup["prompts"])
    with store.reading() as db:
        counted = db.execute(query, [kind, *names, *names, annotator, LABELS_PER_PAIR]).fetchall()
        found = [(r["annotators"], db.execute("SELECT * FROM labels WHERE id = ?", (r["first_id"],)).fetchone())
                 for r in counted]
    found = [(n, row) for n, row in found if row["prompt"] in prompts]
    if not found:
        return None
    fewest = min(n for n, _ in found)
    row = rng.choice([row for n, row in found if n == fewest])
    first = Completion(row["left_text"], row["left_source"], json.loads(row["left_settings"] or "{}"))
    if row["right_text"] is None:
        return Task(row["prompt"], first, None).to_dict()
    second = Completion(row["right_text"], row["right_source"], json.loads(row["right_settings"] or "{}"))
    left, right = (first, second) if rng.random() < 0.5 else (second, first)
    return Task(row["prompt"], left, right).to_dict()
