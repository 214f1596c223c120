"""Benchmarks in an evaluation: seconds to score one model on the shipped multiple-choice task
(`assets/benchmarks/playground_mc`, lm-evaluation-harness through `evaluation.benchmarks.evaluate_model`,
the call an evaluation run makes for each model), against lm-eval's default in the same run: a
`TaskManager()` that indexes its whole registry (~15,000 task names) at every call. An evaluation
of a base and three adapters makes four such calls.

Model: the built-in tiny model. Usage: python bench/benchmark_tasks.py [--models 4] [--limit 8]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

from common import ROOT  # noqa: F401 - puts the project on sys.path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--models", type=int, default=4, help="calls, as for a base and its adapters")
    parser.add_argument("--limit", type=int, default=8, help="examples per task (the Evaluate tab's benchmark limit)")
    args = parser.parse_args()

    import os

    os.environ.setdefault("PLAYGROUND_HOME", tempfile.mkdtemp(prefix="bench-benchmarks-"))
    from lm_eval.tasks import TaskManager

    from playground.evaluation import benchmarks
    from playground.models import ModelManager
    from playground.settings import Settings

    settings = Settings.from_env()
    settings.ensure_dirs()
    lm = ModelManager(settings).get("tiny")
    task = ["playground_mc"]

    def timed(label: str) -> tuple[list[float], dict]:
        seconds, scores = [], {}
        for _ in range(args.models):
            start = time.perf_counter()
            scores = benchmarks.evaluate_model(lm, None, task, args.limit)
            seconds.append(time.perf_counter() - start)
        print(f"{label}: " + ", ".join(f"{s:.1f}" for s in seconds) + f" s per model (total {sum(seconds):.1f} s)")
        return seconds, scores

    library = benchmarks._task_manager
    benchmarks._task_manager = lambda configs: TaskManager()  # lm-eval's default when none is given
    before, before_scores = timed("lm-eval's default TaskManager per call")
    benchmarks._task_manager = library
    after, after_scores = timed("the playground's (no registry index for shipped tasks)")
    print(f"ratio {sum(before) / sum(after):.1f}x faster over {args.models} models "
          f"(median per model {statistics.median(before):.1f} s -> {statistics.median(after):.1f} s); "
          f"same scores: {before_scores == after_scores}")


if __name__ == "__main__":
    main()
