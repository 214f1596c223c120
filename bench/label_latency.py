"""Label latency under load: 20 annotators labeling 50 pairs each at once through the running
app's API (gradio_client), as in tests/integration/test_rate_load.py; prints p50/p95 of vote ->
acknowledgement (the label committed), then the wait until the next pair is there. Goal: vote p95
< 200 ms.

The next pair is written (tiny model, 8 new tokens) while the annotator judges the current one;
with no time to read, the writer falls behind and annotators wait for their next pair.
Usage: python bench/label_latency.py [--clients 20] [--votes 50] [--think 0 1.0]
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import tempfile
from pathlib import Path

from common import ROOT  # noqa: F401 - puts the project on sys.path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--votes", type=int, default=50)
    parser.add_argument("--think", type=float, nargs="+", default=[0.0, 1.0], help="seconds each annotator reads a pair")
    args = parser.parse_args()

    from tests.integration.rate_clients import crowd
    from tests.ui.conftest import start_app

    for think in args.think:
        home = Path(tempfile.mkdtemp(prefix="bench-labels-"))
        os.environ["PLAYGROUND_HOME"], os.environ["PLAYGROUND_ADAPTERS"] = str(home), str(home / "adapters")
        server = start_app(home)
        try:
            timed = [x for v in crowd(server.url, args.clients, args.votes, think).values() for x in v]
        finally:
            os.kill(server.process.pid, signal.SIGKILL)
            server.process.wait()
        (p50, p95), (wait50, wait95) = (percentiles([x[i] * 1000 for x in timed]) for i in (0, 1))
        print(f"{args.clients} clients x {args.votes} votes, {think:g} s to read each pair: {len(timed)} labels; "
              f"vote p50 {p50:.0f} ms, p95 {p95:.0f} ms (goal p95 < 200 ms: {'MET' if p95 < 200 else 'NOT met'}); "
              f"then the next pair: p50 {wait50:.0f} ms, p95 {wait95:.0f} ms")


def percentiles(values: list[float]) -> tuple[float, float]:
    values = sorted(values)
    return statistics.median(values), values[int(0.95 * (len(values) - 1))]


if __name__ == "__main__":
    main()
