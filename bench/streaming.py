"""Streaming through the library vs a bare `model.generate`, tokens/s (goal >= 0.97x).

Also shows transformers' plain TextIteratorStreamer in a thread for reference. Greedy, same
prompt, runs interleaved; medians. `--seq2seq`: an encoder-decoder (FLAN-T5-small's architecture),
whose stream runs the encoder once and then the decoder step by step.
Usage: python bench/streaming.py [--new-tokens 64] [--reps 5] [--seq2seq]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
from pathlib import Path

from common import flan_t5_small_random, smollm2_135m_random


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--new-tokens", type=int, default=64)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--seq2seq", action="store_true", help="FLAN-T5-small's architecture instead of SmolLM2-135M's")
    parser.add_argument("--model-dir", default="")
    args = parser.parse_args()

    import torch
    from transformers import TextIteratorStreamer

    from playground import generation
    from playground.generation import DecodingParams
    from playground.models import ModelManager
    from playground.settings import Settings

    build, arch = ((flan_t5_small_random, "flan-t5-small") if args.seq2seq else (smollm2_135m_random, "smollm2-135m"))
    folder = build(Path(args.model_dir or Path(tempfile.gettempdir()) / f"bench-{arch}-random"))
    lm = ModelManager(Settings.from_env()).get(str(folder))
    prompt_width = 1 if lm.encoder_decoder else None  # generate() returns the decoder's start token, or the prompt
    prompt = "#Person1#: Hi, I'd like to book a table for two tonight.\n#Person2#: Of course, what time?"
    ids = torch.tensor([generation.encode(lm, prompt)])
    params = DecodingParams(max_new_tokens=args.new_tokens)

    def bare() -> float:
        start = time.perf_counter()
        with torch.inference_mode():
            out = lm.model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), do_sample=False,
                                    max_new_tokens=args.new_tokens, pad_token_id=lm.tokenizer.pad_token_id)
        return (out.shape[1] - (prompt_width or ids.shape[1])) / (time.perf_counter() - start)

    def text_iterator() -> float:
        streamer = TextIteratorStreamer(lm.tokenizer, skip_prompt=True)
        result = {}

        def work():
            with torch.inference_mode():
                result["out"] = lm.model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), do_sample=False,
                                                  max_new_tokens=args.new_tokens, streamer=streamer,
                                                  pad_token_id=lm.tokenizer.pad_token_id)

        start = time.perf_counter()
        thread = threading.Thread(target=work)
        thread.start()
        text = "".join(streamer)
        thread.join()
        assert text is not None
        return (result["out"].shape[1] - (prompt_width or ids.shape[1])) / (time.perf_counter() - start)

    def library() -> float:
        start = time.perf_counter()
        for update in generation.stream(lm, prompt, params):  # noqa: B007 - the last one is used
            pass
        return len(update.result.token_ids) / (time.perf_counter() - start)

    runs = {"bare model.generate": [], "TextIteratorStreamer": [], "library stream()": []}
    library(), bare()  # warm-up
    order = list(zip(runs, (bare, text_iterator, library)))
    for rep in range(args.reps):
        # the order turns each repetition: whatever runs right after the streamer's thread pays for its
        # tail (on a small model, a few percent), so no side always comes after it
        for name, fn in order[rep % 3:] + order[:rep % 3]:
            runs[name].append(fn())
    base = statistics.median(runs["bare model.generate"])
    print(f"model: random {arch} architecture ({lm.n_params / 1e6:.0f}M params), {lm.dtype} on {lm.device}, "
          f"greedy, {args.new_tokens} new tokens, {args.reps} interleaved runs: median [min-max]")
    for name, values in runs.items():
        med = statistics.median(values)
        print(f"{name:>22}: {med:6.1f} tokens/s [{min(values):.1f}-{max(values):.1f}]  ratio {med / base:.3f}x")
    # each repetition's own ratio (library vs the bare run of the same repetition): how much the machine's noise moves it
    paired = [lib / bare for lib, bare in zip(runs["library stream()"], runs["bare model.generate"])]
    print(f"per-repetition ratio library/bare: median {statistics.median(paired):.3f}x "
          f"[{min(paired):.3f}-{max(paired):.3f}]")
    ratio = statistics.median(runs["library stream()"]) / base
    print(f"goal: library stream() >= 0.97x bare generate -> {'MET' if ratio >= 0.97 else 'NOT MET'}")


if __name__ == "__main__":
    main()
