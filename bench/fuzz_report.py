"""Fuzzing report: every named endpoint of the running app (through its queue API, fn_index and
all) and every CLI verb get N inputs each from hypothesis (plausible and hostile: wrong types, empty,
huge, unicode, control characters, negative, NaN and infinite numbers, server paths); prints how
many were tried and how many failed (a server error, an unexplained error or a traceback) for each.

Usage: python bench/fuzz_report.py [--examples 50] [--only api|cli]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import tempfile
from pathlib import Path

from common import ROOT  # noqa: F401 - puts the project on sys.path

SMALL = {"PLAYGROUND_LIMIT_TRAIN_STEPS": "2", "PLAYGROUND_LIMIT_EVAL_EXAMPLES": "3", "PLAYGROUND_LIMIT_NEW_TOKENS": "16",
         "PLAYGROUND_MODEL": "tiny", "HF_HUB_OFFLINE": "1"}


def show(kind: str, outcomes: dict) -> int:
    failed = sum(len(o.failures) for o in outcomes.values())
    print(f"\n{kind}: {len(outcomes)} targets, {sum(o.tried for o in outcomes.values())} inputs, {failed} failed")
    for name, outcome in outcomes.items():
        print(f"  {name:<28} tried {outcome.tried:>4}  failed {len(outcome.failures):>3}")
        for values, problem in outcome.failures[:2]:
            print(f"      {problem[:160]} <- {str(values)[:160]}")
    return failed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--examples", type=int, default=50)
    parser.add_argument("--only", choices=["api", "cli"])
    args = parser.parse_args()

    from tests.integration import fuzzing, raw_api
    from tests.ui.conftest import start_app, stop_app

    scratch = Path(tempfile.mkdtemp(prefix="bench-fuzz-"))
    os.environ.update(SMALL, PLAYGROUND_HOME=str(scratch / "home"), PLAYGROUND_ADAPTERS=str(scratch / "adapters"))
    failed = 0
    if args.only != "cli":
        server = start_app(scratch)
        try:
            cfg = raw_api.config(server.url)
            names = sorted(d["api_name"] for d in cfg["dependencies"] if d.get("api_visibility") == "public")
            failed += show("API endpoints", {n: fuzzing.fuzz_endpoint(server.url, cfg, n, args.examples) for n in names})
            print(f"  the app was still serving afterwards: {server.process.poll() is None}")
        finally:
            stop_app(server)
    if args.only != "api":
        with contextlib.chdir(scratch):
            verbs = fuzzing.cli_verbs()
            failed += show("CLI verbs", {v: fuzzing.fuzz_cli_verb(v, p, args.examples) for v, p in verbs.items()})
    raise SystemExit(1 if failed else 0)


if __name__ == "__main__":
    main()
