"""Evaluation throughput: examples/s with batched generation (left-padded, prompts of similar
length together) vs one prompt at a time, through the same library call the Evaluate tab's runs
use (`generation.generate_many`). Goal >= 3x at batch 8 on a CPU. Greedy outputs must be
identical token for token: the script counts examples whose tokens differ.

Model: a random-weight model of SmolLM2-135M's architecture; prompts: DialogSum dialogues with the
summarize template (the built-in summarization set where DialogSum is absent). Interleaved reps,
medians. Usage: python bench/eval_batching.py [--examples 32] [--new-tokens 32] [--batch 8] [--reps 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from common import DIALOGSUM, ROOT, smollm2_135m_random


def prompts(n: int) -> list[str]:
    path = DIALOGSUM / "dialogsum.dev.jsonl"
    if not path.exists():
        path = ROOT / "assets" / "examples" / "summarization.jsonl"
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [f"Summarize the following conversation.\n\n{r['dialogue']}\n\nSummary:" for r in rows[:n]]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--examples", type=int, default=32)
    parser.add_argument("--new-tokens", type=int, default=32)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--model-dir", default=str(Path(tempfile.gettempdir()) / "bench-smollm2-135m-random"))
    args = parser.parse_args()

    import torch

    from playground.generation import DecodingParams, generate_many
    from playground.models import ModelManager
    from playground.settings import Settings

    lm = ModelManager(Settings.from_env()).get(str(smollm2_135m_random(Path(args.model_dir))))
    texts = prompts(args.examples)
    params = DecodingParams(max_new_tokens=args.new_tokens, do_sample=False)
    lengths = [len(lm.tokenizer(t)["input_ids"]) for t in texts]
    print(f"{len(texts)} prompts of {min(lengths)}-{max(lengths)} tokens (median {statistics.median(lengths):.0f}), "
          f"{args.new_tokens} new tokens, greedy, {torch.get_num_threads()} threads")
    generate_many(lm, texts[:2], params, batch_size=2)  # warm-up

    times = {1: [], args.batch: []}
    outputs = {}
    for rep in range(args.reps):
        for batch in (1, args.batch):
            start = time.perf_counter()
            outputs[batch] = generate_many(lm, texts, params, batch_size=batch)
            times[batch].append(time.perf_counter() - start)
            print(f"rep {rep}: batch {batch}: {len(texts) / times[batch][-1]:.2f} examples/s")
    one, many = statistics.median(times[1]), statistics.median(times[args.batch])
    differ = sum(a.token_ids != b.token_ids for a, b in zip(outputs[1], outputs[args.batch]))
    print(f"one at a time: {len(texts) / one:.2f} examples/s; batch {args.batch}: {len(texts) / many:.2f} examples/s; "
          f"ratio {one / many:.2f}x (goal >= 3x)")
    print(f"greedy outputs identical: {len(texts) - differ} of {len(texts)} examples")


if __name__ == "__main__":
    main()
