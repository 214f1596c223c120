"""Where a training step's time goes on a GPU: `playground train`'s fine-tuning (the library's own
`sft.train`) on a random Qwen2.5 architecture, once per memory-plan variant, each in its own process
(Liger patches model classes for the whole process). For each: seconds per step (steps after the
warm-up, the GPU synchronized at each step's end), tokens/s, and for the first variant PyTorch's
profiler over two steps (the operators that cost the most CPU and GPU time).

    python bench/gpu_profile.py [--size 0.5b] [--method full] [--steps 12]
On a CPU, `--smoke` checks the script on a small model (its numbers mean nothing).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from gpu_table import LEARNING_RATE, build_model
from train_throughput import dialogsum_rows

VARIANTS = {
    "project defaults": {},
    "TRL's chunked loss": {"fused_loss": "chunked"},  # what the profile of aae4c12 called "fused loss off"
    "whole logits": {"fused_loss": "off"},
    "activation checkpointing off": {"activation_checkpointing": "off"},
    "chunked and checkpointing off": {"fused_loss": "chunked", "activation_checkpointing": "off"},
    "logging every 10 steps": {"logging_steps": 10},
    "cuDNN attention on": {},  # as before playground.attention: to measure what turning it off gives
}
CUDNN_ON = "cuDNN attention on"


def one_run(args, settings: dict, profile: bool) -> None:
    """In this process: train, time each step, print one RESULT line (and a profile)."""
    import torch
    from transformers import TrainerCallback

    from playground.training.recipes import recipe_from_dict
    from playground.training.sft import train

    cuda = torch.cuda.is_available()

    class StepTimes(TrainerCallback):
        def __init__(self):
            self.marks, self.profiler = [], None

        def on_step_begin(self, a, state, control, **kw):
            if profile and state.global_step == args.warmup + 2:
                activities = [torch.profiler.ProfilerActivity.CPU] + ([torch.profiler.ProfilerActivity.CUDA] if cuda else [])
                self.profiler = torch.profiler.profile(activities=activities)
                self.profiler.__enter__()

        def on_step_end(self, a, state, control, **kw):
            if cuda:  # each step's own time: a wait for the GPU at every step (gpu_table's figures have none)
                torch.cuda.synchronize()
            self.marks.append((time.perf_counter(), state.num_input_tokens_seen))
            if self.profiler is not None and state.global_step == args.warmup + 4:
                self.profiler.__exit__(None, None, None)
                averages = self.profiler.key_averages()
                print(averages.table(sort_by="self_cpu_time_total", row_limit=18, max_name_column_width=60))
                if cuda:
                    print(averages.table(sort_by="self_cuda_time_total", row_limit=18, max_name_column_width=60))
                self.profiler = None

    work = Path(args.work)
    recipe = recipe_from_dict({"method": args.method, "base_model": str(work / "model"), "data": str(work / "data.jsonl"),
                               "max_steps": args.steps, "per_device_train_batch_size": args.batch,
                               "max_length": args.max_length, "val_fraction": 0.0, "test_fraction": 0.0,
                               "learning_rate": LEARNING_RATE[args.method], "template": "plain",
                               "checkpoint_minutes": 0, "output_name": "profiled", **settings,
                               # every step's tokens, logged or not (a read-back per step: this script waits for the
                               # GPU at every step anyway, to time each one)
                               "trainer_args": {"include_num_input_tokens_seen": "non_padding"}})
    from playground.attention import avoid_cudnn_attention

    avoid_cudnn_attention()  # as the worker does for every run (this calls the library's train in-process)
    if args.one == CUDNN_ON:
        torch.backends.cuda.enable_cudnn_sdp(True)
    timer = StepTimes()
    run_dir = Path(tempfile.mkdtemp(dir=work))
    train(recipe, str(work / "model"), run_dir, run_dir / "out", callbacks=[timer])
    timed = list(zip(timer.marks[args.warmup - 1:], timer.marks[args.warmup:], range(args.warmup + 1, args.steps + 1)))
    steps = [b[0] - a[0] for a, b, _ in timed]
    unprofiled = [(b[0] - a[0], b[1] - a[1]) for a, b, step in timed
                  if not (profile and args.warmup + 2 < step <= args.warmup + 5)]  # profiled, and the table made after
    rate = sum(n for _, n in unprofiled) / sum(t for t, _ in unprofiled)
    batches = [e["message"] for e in map(json.loads, (run_dir / "events.jsonl").read_text().splitlines())
               if e["type"] == "status" and e["message"].startswith("Batch")]
    print("RESULT", json.dumps({"tokens_per_s": rate, "step_s": steps, "batch": batches}), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", default="0.5b")
    parser.add_argument("--method", default="full")
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--warmup", type=int, default=4)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--max-length", type=int, default=512)
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--work", default=str(Path(tempfile.gettempdir()) / "gpu-profile"))
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    parser.add_argument("--profile", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.smoke:
        args.size, args.steps, args.warmup, args.batch, args.max_length = "smoke", 8, 2, 2, 128
    if args.steps < args.warmup + 6:
        parser.error("--steps must be at least --warmup + 6 (the profiled steps are left out of the timing)")
    if args.one is not None:
        one_run(args, VARIANTS[args.one], args.profile)
        return
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    build_model(args.size, work / "model")
    (work / "data.jsonl").write_text("".join(json.dumps(r) + "\n" for r in dialogsum_rows()))
    print(f"{args.size} {args.method}, batch {args.batch} x {args.max_length}, steps {args.warmup + 1}-{args.steps}",
          flush=True)
    for index, name in enumerate(args.variants.split(",")):
        command = [sys.executable, __file__, "--one", name, *sys.argv[1:]] + (["--profile"] if index == 0 else [])
        out = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "HF_HUB_OFFLINE": "1"})
        result = next((json.loads(line[7:]) for line in out.stdout.splitlines() if line.startswith("RESULT ")), None)
        if index == 0:
            print("\n".join(line for line in out.stdout.splitlines() if not line.startswith(("RESULT ", "{'"))))
        if result is None:
            print(f"{name:<30} | failed: {out.stderr.strip()[-300:]}", flush=True)
            continue
        steps = ", ".join(f"{s:.3f}" for s in result["step_s"])
        print(f"{name:<30} | {result['tokens_per_s']:9,.0f} tok/s | seconds per step: {steps} {' '.join(result['batch'])}",
              flush=True)


if __name__ == "__main__":
    main()
