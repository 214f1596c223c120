"""Seconds from launching a background run to its first training step, and to its end, with
workers forked by the preloaded launcher (playground.launcher, the app's default on a machine
without a GPU) against fresh worker processes. A 10-step LoRA run of the built-in tiny model, so
the figure is the cost of starting a run, not of training. Runs alternate between the two ways,
after one warm-up run each (first-use caches).

Usage: python bench/run_start.py [--reps 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["PLAYGROUND_HOME"] = tempfile.mkdtemp(prefix="bench-run-start-")
os.environ["PLAYGROUND_ADAPTERS"] = str(Path(os.environ["PLAYGROUND_HOME"]) / "adapters")

from playground import launcher  # noqa: E402
from playground.jobs import JobManager  # noqa: E402
from playground.settings import Settings  # noqa: E402
from playground.training.recipes import recipe_from_dict  # noqa: E402


def one_run(jobs: JobManager, name: str) -> tuple[float, float]:
    recipe = recipe_from_dict({"method": "lora", "base_model": "tiny", "max_steps": 10, "output_name": name})
    start = time.time()
    run = jobs.submit("sft", recipe)
    first_step = None
    while True:
        jobs.refresh()
        events = jobs.events(run["id"])[0]
        if first_step is None:
            first_step = next((e["time"] - start for e in events if e["type"] == "progress"), None)
        current = jobs.store.run(run["id"])
        if current["status"] not in ("queued", "running"):
            break
        time.sleep(0.1)
    if current["status"] != "finished":
        sys.exit(f"run {name} {current['status']}: {current['error']}")
    return first_step, current["finished"] - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=5)
    args = parser.parse_args()
    if not launcher.wanted():
        sys.exit("the launcher is not used on this machine (a GPU is visible, or PLAYGROUND_PRELOAD_WORKERS=0)")
    settings = Settings.from_env()
    settings.ensure_dirs()
    ways = {"fresh process": JobManager(settings, preload=False), "launcher": JobManager(settings, preload=True)}
    ways["launcher"].warm_up()
    time.sleep(20)  # as in the app, which starts the launcher when it starts
    results = {way: [] for way in ways}
    for rep in range(args.reps + 1):
        for way, jobs in ways.items():
            measured = one_run(jobs, f"{way.split()[0]}-{rep}")
            if rep:  # the first of each is a warm-up
                results[way].append(measured)
    print(f"tiny LoRA run, 10 steps, {args.reps} runs each (median seconds):")
    medians = {}
    for way, values in results.items():
        medians[way] = (statistics.median(v[0] for v in values), statistics.median(v[1] for v in values))
        print(f"  {way:14s} to first step {medians[way][0]:6.2f} s   to the end {medians[way][1]:6.2f} s")
    fresh, forked = medians["fresh process"], medians["launcher"]
    print(f"launcher vs fresh process: first step {fresh[0] / forked[0]:.1f}x sooner, whole run {fresh[1] / forked[1]:.1f}x sooner")


if __name__ == "__main__":
    main()
