"""Annotators as API clients of the running app (gradio_client): each starts a labeling session
and votes on pairs, timing each vote from request to acknowledgement (the label committed), then
asks for the next pair as the page does. Used by the load test and
by bench/label_latency.py."""

from __future__ import annotations

import threading
import time

from tests.integration.helpers import api_client

PROMPTS = "\n".join(f"Write one short sentence about the number {n}." for n in range(200))


def annotate(url: str, name: str, votes: int, think_s: float = 0.0, seconds: float | None = None,
             overlap: float = 0.0) -> list[tuple[float, float]]:
    """Label `votes` pairs as `name` (fewer if `seconds` pass after the labeling started), `overlap`
    of them colleagues' pairs; returns, for each vote, the seconds until its acknowledgement and then
    until the next pair was there."""
    client = api_client(url)
    client.predict(name, 50, "tiny (built-in, random weights)", ["base"], ["greedy", "sampling T=1.2"], None, PROMPTS,
                   8, "Compare two (A/B)", False, overlap, "Prefer the better one.", api_name="/start_labeling")
    latencies, until = [], time.perf_counter() + seconds if seconds else None
    for _ in range(votes):
        if until is not None and time.perf_counter() > until:
            break
        if think_s:
            time.sleep(think_s)
        start = time.perf_counter()
        out = client.predict("", 50, "Prefer the better one.", api_name="/vote_left")
        if "Saved" not in str(out):
            raise AssertionError(f"{name}: a vote was not acknowledged: {out}")
        acknowledged = time.perf_counter()
        client.predict("Prefer the better one.", api_name="/next_pair")  # what the page asks for right after
        latencies.append((acknowledged - start, time.perf_counter() - acknowledged))
    return latencies


def crowd(url: str, clients: int, votes: int, think_s: float = 0.0, overlap: float = 0.0) -> dict[str, list[tuple[float, float]]]:
    """`clients` annotators labeling at once; their latencies by name (raises if any failed)."""
    results: dict[str, list[float]] = {}
    errors: list[BaseException] = []

    def one(i: int) -> None:
        try:
            results[f"load-{i}"] = annotate(url, f"load-{i}", votes, think_s, overlap=overlap)
        except BaseException as err:  # noqa: BLE001 - reported below
            errors.append(err)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return results
