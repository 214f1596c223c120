"""Pairs shown to more than one annotator, so that the team's agreement can be measured.

Each annotator's pairs are written for them (new seeds), so two people almost never see the same
pair by chance. With an overlap share, that share of the pairs an annotator gets comes instead
from those a colleague has labeled and they have not: same prompt set, same sources (by name:
which base model wrote a pair is not recorded), labeled by one person so far, and the sides drawn
again (a second look at the same sides would hide position bias)."""

from __future__ import annotations

import json
import random

from playground.preferences.tasks import Completion, Source, Task
from playground.store import Store


def shared_task(store: Store, annotator: str, setup: dict, rng: random.Random | None = None) -> dict | None:
    """A pair (as a Task dict) that one colleague labeled under this setup's prompts and sources and
    `annotator` has not; None when there is none, or in the rating mode (agreement is measured on
    votes between two completions)."""
    if setup.get("single"):
        return None
    rng = rng or random.Random()
    names = sorted({Source(adapter, preset).name for adapter, preset in setup["sources"]})
    marks = ",".join("?" * len(names))
    # pairs labeled by exactly one person (a second label is what agreement needs), not by this annotator
    query = f"""
        SELECT labels.* FROM labels JOIN (
            SELECT MIN(id) AS first_id FROM labels
            WHERE origin = 'labeled' AND kind = 'pair' AND left_source IN ({marks}) AND right_source IN ({marks})
              AND pair_key NOT IN (SELECT pair_key FROM labels WHERE annotator = ?)
            GROUP BY pair_key HAVING COUNT(DISTINCT annotator) = 1
        ) AS once ON labels.id = once.first_id"""
    prompts = set(setup["prompts"])
    with store.reading() as db:
        found = [row for row in db.execute(query, [*names, *names, annotator]) if row["prompt"] in prompts]
    if not found:
        return None
    row = rng.choice(found)
    first = Completion(row["left_text"], row["left_source"], json.loads(row["left_settings"] or "{}"))
    second = Completion(row["right_text"], row["right_source"], json.loads(row["right_settings"] or "{}"))
    left, right = (first, second) if rng.random() < 0.5 else (second, first)
    return Task(row["prompt"], left, right).to_dict()
