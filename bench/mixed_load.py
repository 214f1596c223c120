"""Mixed load: 20 visitors at once for a bounded time, half generating (greedy, 16 new tokens, two
tiny models taking turns in the one model slot) and half labeling, through the running app's API;
prints p50/p95 of a generation and of a vote, against one generation with the app to itself
(measured in the same run), and the errors and mismatches (a generation whose text differs from the
same request's answer on the idle app). Goal: no errors, no mismatches.

Usage: python bench/mixed_load.py [--generators 10] [--labelers 10] [--seconds 30]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

from common import ROOT  # noqa: F401 - puts the project on sys.path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--generators", type=int, default=10)
    parser.add_argument("--labelers", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=30)
    args = parser.parse_args()

    from playground.tiny_model import build_tiny_model
    from tests.integration import mixed_clients
    from tests.ui.conftest import start_app, stop_app

    home = Path(tempfile.mkdtemp(prefix="bench-mixed-"))
    os.environ.update(PLAYGROUND_HOME=str(home), PLAYGROUND_ADAPTERS=str(home / "adapters"), PLAYGROUND_MODEL="tiny",
                      HF_HUB_OFFLINE="1")
    models = ["tiny", str(build_tiny_model(home / "other-tiny", seed=1))]
    server = start_app(home)
    try:
        solo_client = mixed_clients.client(server.url)
        for model in models:  # loaded once, so the baseline is a generation, not a load
            mixed_clients.generate(solo_client, model, mixed_clients.PROMPTS[0])
        solo = []
        for _ in range(10):
            start = time.perf_counter()
            mixed_clients.generate(solo_client, models[0], mixed_clients.PROMPTS[0])
            solo.append(time.perf_counter() - start)
        tally = mixed_clients.run(server.url, models, args.generators, args.labelers, args.seconds)
    finally:
        stop_app(server)
    base = statistics.median(solo)
    p = mixed_clients.percentile
    print(f"{args.generators} generating + {args.labelers} labeling visitors for {args.seconds:g} s "
          f"(two models sharing the one slot)")
    print(f"one generation alone: p50 {base * 1000:.0f} ms")
    print(f"generation under load: {len(tally.generation_s)} requests, p50 {p(tally.generation_s, 0.5) * 1000:.0f} ms, "
          f"p95 {p(tally.generation_s, 0.95) * 1000:.0f} ms ({p(tally.generation_s, 0.5) / base:.1f}x alone)")
    print(f"vote under load: {len(tally.vote_s)} labels, p50 {p(tally.vote_s, 0.5) * 1000:.0f} ms, "
          f"p95 {p(tally.vote_s, 0.95) * 1000:.0f} ms")
    print(f"errors {len(tally.errors)}, mismatches {len(tally.mismatches)} (goal: 0 and 0)")
    for problem in (tally.errors + tally.mismatches)[:5]:
        print("  ", problem[:200])


if __name__ == "__main__":
    main()
