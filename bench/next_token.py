"""Next-token chart: a slider change must not re-run the model.

Measures, on a random-weight SmolLM2-135M-architecture model and a 100-token prompt: one full
forward pass (what a new prompt costs), and the library time of a slider change (cached
last-position logits + warpers + top-20), over many settings. Goals: < 5 ms per slider change,
one forward pass per new prompt. Usage: python bench/next_token.py [--changes 200]
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import tempfile
import time
from pathlib import Path

from common import smollm2_135m_random


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--changes", type=int, default=200)
    parser.add_argument("--model-dir", default=str(Path(tempfile.gettempdir()) / "bench-smollm2-135m-random"))
    args = parser.parse_args()

    import torch

    from playground import generation
    from playground.generation import DecodingParams
    from playground.models import ModelManager
    from playground.settings import Settings

    lm = ModelManager(Settings.from_env()).get(str(smollm2_135m_random(Path(args.model_dir))))
    words = ("the customer asks the clerk about a refund for a broken kettle and the clerk explains the policy "
             "politely while checking the receipt and the warranty card ").split()
    prompt = " ".join(itertools.islice(itertools.cycle(words), 400))
    ids = generation.encode(lm, prompt)
    ids = ids[:100]
    prompt = lm.tokenizer.decode(ids)
    ids = generation.encode(lm, prompt)

    forward = []
    for _ in range(5):
        with torch.inference_mode():
            start = time.perf_counter()
            lm.model(input_ids=torch.tensor([ids]))
            forward.append(time.perf_counter() - start)

    before = lm.forward_passes
    start = time.perf_counter()
    generation.next_token_distribution(lm, prompt, DecodingParams(do_sample=True))
    first = time.perf_counter() - start

    settings = itertools.cycle(
        [dict(temperature=t, top_k=k, top_p=p) for t in (0.3, 0.7, 1.0, 1.5) for k in (0, 20, 50) for p in (0.5, 0.9, 1.0)]
    )
    changes = []
    for _ in range(args.changes):
        params = DecodingParams(do_sample=True, **next(settings))
        start = time.perf_counter()
        generation.next_token_distribution(lm, prompt, params)
        changes.append(time.perf_counter() - start)
    passes = lm.forward_passes - before

    fwd, change = statistics.median(forward), statistics.median(changes)
    print(f"model: random SmolLM2-135M architecture, vocab {lm.model.config.vocab_size:,}, {lm.dtype} on {lm.device}; "
          f"prompt {len(ids)} tokens")
    print(f"full forward pass (a new prompt), median of 5:        {fwd * 1000:8.2f} ms")
    print(f"first chart for a new prompt (forward + warpers):      {first * 1000:8.2f} ms")
    print(f"slider change (cached logits + warpers), median of {args.changes}: {change * 1000:8.3f} ms "
          f"(p90 {statistics.quantiles(changes, n=10)[-1] * 1000:.3f} ms)")
    print(f"ratio forward / slider change: {fwd / change:,.0f}x")
    print(f"forward passes for 1 new prompt + {args.changes} slider changes: {passes}")
    print(f"goal: < 5 ms per slider change and 1 forward pass -> "
          f"{'MET' if change < 0.005 and passes == 1 else 'NOT MET'}")


if __name__ == "__main__":
    main()
