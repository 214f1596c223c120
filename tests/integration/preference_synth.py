"""A learnable synthetic preference for the RLHF tests: of two replies that differ in one word,
people prefer the one that says the marker word. Prompts and replies use words the tiny model's
tokenizer knows."""

import json
import random
from pathlib import Path

MARKER = "thanks"
WORDS = "the cat dog sun moon tree river stone bird fish house road green small happy model data".split()


def marker_pairs(n: int, seed: int = 0) -> list[dict]:
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        reply = [rng.choice(WORDS) for _ in range(6)]
        at = rng.randrange(len(reply) + 1)
        chosen = reply[:at] + [MARKER] + reply[at:]
        rejected = reply[:at] + [rng.choice(WORDS)] + reply[at:]
        rows.append({"prompt": f"Tell me about the {rng.choice(WORDS)} and the {rng.choice(WORDS)}.", "chosen": " ".join(chosen),
                     "rejected": " ".join(rejected)})
    return rows


def write_pairs(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path
