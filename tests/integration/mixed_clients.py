"""Visitors of the running app at once, some generating and some labeling, through its API
(gradio_client), for a bounded time. A generation is checked against the same request's answer when
the app was idle (greedy decoding: the text must be identical), so a request that got another
visitor's model, or a model swapped out from under it, is a mismatch. Used by
tests/integration/test_mixed_load.py and bench/mixed_load.py."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from tests.integration.helpers import api_client
from tests.integration.rate_clients import annotate
from tests.integration.raw_api import predict

PROMPTS = ["Once upon a time", "The capital of France is", "def fibonacci(n):", "Dear team,"]


@dataclass
class Tally:
    generation_s: list[float] = field(default_factory=list)
    vote_s: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    mismatches: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def client(url: str):
    return api_client(url)


def generate(gradio_client, model: str, prompt: str) -> str:
    text = predict(gradio_client, "/generate", Model=model, Prompt=prompt, Decoding="Greedy", Max_new_tokens=16,
                   Use_the_model_s_chat_template=False)
    return text[0]


def expected_texts(url: str, models: list[str]) -> dict[tuple[str, str], str]:
    """Each (model, prompt)'s greedy answer with the app to itself."""
    solo = client(url)
    return {(m, p): generate(solo, m, p) for m in models for p in PROMPTS}


def run(url: str, models: list[str], generators: int, labelers: int, seconds: float) -> Tally:
    expected = expected_texts(url, models)
    tally, until = Tally(), time.perf_counter() + seconds

    def generating(i: int) -> None:
        visitor, n = client(url), 0
        while time.perf_counter() < until:
            model, prompt = models[(i + n) % len(models)], PROMPTS[(i * 3 + n) % len(PROMPTS)]
            start = time.perf_counter()
            try:
                text = generate(visitor, model, prompt)
            except Exception as err:  # noqa: BLE001 - counted
                with tally.lock:
                    tally.errors.append(f"generate: {type(err).__name__}: {err}")
                continue
            with tally.lock:
                tally.generation_s.append(time.perf_counter() - start)
                if text != expected[(model, prompt)]:
                    tally.mismatches.append(f"{model} / {prompt!r}: {text!r} != {expected[(model, prompt)]!r}")
            n += 1

    def labeling(i: int) -> None:
        try:
            votes = annotate(url, f"mixed-{i}", votes=10_000, seconds=seconds)  # the clock starts once labeling has
        except Exception as err:  # noqa: BLE001 - counted
            with tally.lock:
                tally.errors.append(f"label: {type(err).__name__}: {err}")
            return
        with tally.lock:
            tally.vote_s.extend(v for v, _ in votes)

    threads = [threading.Thread(target=generating, args=(i,)) for i in range(generators)]
    threads += [threading.Thread(target=labeling, args=(i,)) for i in range(labelers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return tally


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else float("nan")
