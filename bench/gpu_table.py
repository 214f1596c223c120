"""The GPU table of issue 11: training tokens/s (non-padding) and peak GPU memory of
`python -m playground train` (the project's defaults, memory plan included) and of a plain TRL
SFTTrainer script (TRL's defaults), for full fine-tuning, LoRA, QLoRA and prompt tuning, plus a
bare PyTorch loop (AdamW, fixed-shape random batches, full fine-tuning) as the upper bound, on
random-weight models of Qwen2.5-0.5B's, 1.5B's and 7B's published architectures (no download), with
DialogSum dev rows. Each run is its own process, so each peak is its own. Prints the estimate
shown before launch beside each measured peak, and the issue's goals.

One command on one GPU, within a time budget (runs that don't fit in it are listed as skipped):
    python bench/gpu_table.py [--sizes 0.5b,1.5b,7b] [--steps 12] [--warmup 4] [--budget-s 470]
On a CPU, `--smoke` runs every path on a small model of the same family in a few minutes (a test of
the script, not a measurement).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml
from common import ROOT, dialogsum_texts
from train_throughput import dialogsum_rows

GIB = 2**30
# Qwen/Qwen2.5-{0.5B,1.5B,7B}'s config.json, as published (the shape; weights are random here).
QWEN25 = {
    "0.5b": dict(hidden_size=896, intermediate_size=4864, num_hidden_layers=24, num_attention_heads=14,
                 num_key_value_heads=2, vocab_size=151936, tie_word_embeddings=True),
    "1.5b": dict(hidden_size=1536, intermediate_size=8960, num_hidden_layers=28, num_attention_heads=12,
                 num_key_value_heads=2, vocab_size=151936, tie_word_embeddings=True),
    "7b": dict(hidden_size=3584, intermediate_size=18944, num_hidden_layers=28, num_attention_heads=28,
               num_key_value_heads=4, vocab_size=152064, tie_word_embeddings=False),
    "smoke": dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                  num_key_value_heads=2, vocab_size=4096, tie_word_embeddings=True),
}
COMMON = dict(max_position_embeddings=32768, rope_theta=1000000.0, rms_norm_eps=1e-6, hidden_act="silu",
              initializer_range=0.02, use_sliding_window=False)
METHODS = ("full", "lora", "qlora", "prompt_tuning")
LEARNING_RATE = {"full": 1e-5, "lora": 2e-4, "qlora": 2e-4, "prompt_tuning": 3e-2}

# The timing callback of TRL's-defaults runs: (step, seconds, non-padding tokens) at every training log,
# with TRL's own token count ("num_tokens"; the Trainer's include_num_input_tokens_seen would add a wait for
# the GPU to every step), waiting for the GPU only at the first timed step and the last, as the bare loop does
# and as `playground train`'s rows are read (from its events: TRL's count, no waits added).
TIMING = r'''
import json, time
from transformers import TrainerCallback
class Timing(TrainerCallback):
    def __init__(self, warmup): self.warmup, self.marks = warmup, []
    def on_log(self, args, state, control, logs=None, **kw):
        import torch
        if not logs or "loss" not in logs or "num_tokens" not in logs: return
        if torch.cuda.is_available() and state.global_step in (self.warmup, state.max_steps): torch.cuda.synchronize()
        self.marks.append((state.global_step, time.perf_counter(), logs["num_tokens"]))
def rate(marks, warmup):
    (_, t0, n0), (_, t1, n1) = next(m for m in marks if m[0] >= warmup), marks[-1]
    return (n1 - n0) / (t1 - t0)
'''

TRL_DEFAULTS = TIMING + r'''
import sys, datasets, torch
from trl import SFTConfig, SFTTrainer
model_dir, data_path, method, steps, warmup, batch, max_length, out = sys.argv[1:9]
rows = [json.loads(l) for l in open(data_path)]
from transformers import AutoTokenizer
if AutoTokenizer.from_pretrained(model_dir).chat_template:  # as `playground train` formats them for a chat model
    rows = [{"prompt": [{"role": "user", "content": r["prompt"]}],
             "completion": [{"role": "assistant", "content": r["completion"].strip()}]} for r in rows]
cuda = torch.cuda.is_available()
config = SFTConfig(output_dir=out, max_steps=int(steps), per_device_train_batch_size=int(batch), max_length=int(max_length),
                   learning_rate={"full": 1e-5, "prompt_tuning": 3e-2}.get(method, 2e-4), report_to=[], save_strategy="no",
                   logging_steps=1, disable_tqdm=True, seed=42,
                   **({} if cuda else dict(use_cpu=True, bf16=False, gradient_checkpointing=False)))
peft = None
if method in ("lora", "qlora"):
    from peft import LoraConfig
    peft = LoraConfig(task_type="CAUSAL_LM", r=16, lora_alpha=32, lora_dropout=0.05, target_modules="all-linear")
elif method == "prompt_tuning":
    from peft import PromptTuningConfig
    peft = PromptTuningConfig(task_type="CAUSAL_LM", num_virtual_tokens=20)
if method == "qlora":
    from transformers import BitsAndBytesConfig
    config.model_init_kwargs = {"quantization_config": BitsAndBytesConfig(
        load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
        bnb_4bit_compute_dtype=torch.bfloat16 if cuda else torch.float32), "dtype": torch.bfloat16 if cuda else torch.float32}
timing = Timing(int(warmup))
trainer = SFTTrainer(model=model_dir, args=config, train_dataset=datasets.Dataset.from_list(rows), peft_config=peft,
                     callbacks=[timing])
trainer.train()
peak = torch.cuda.max_memory_allocated() / 2**20 if cuda else None
print("RESULT", json.dumps({"tokens_per_s": rate(timing.marks, int(warmup)), "peak_mb": peak}))
'''

BARE_LOOP = r'''
import json, sys, time, torch
from transformers import AutoModelForCausalLM
model_dir, steps, warmup, batch, length = sys.argv[1], *map(int, sys.argv[2:6])
cuda = torch.cuda.is_available()
device, dtype = ("cuda", torch.bfloat16) if cuda else ("cpu", torch.float32)
model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=dtype).to(device)
model.train()
optimizer = torch.optim.AdamW(model.parameters(), lr=1e-5, fused=cuda)
vocab = model.config.vocab_size
for step in range(steps):
    if step == warmup:
        if cuda: torch.cuda.synchronize()
        start = time.perf_counter()
    ids = torch.randint(0, vocab, (batch, length), device=device)
    loss = model(input_ids=ids, labels=ids).loss
    loss.backward()
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
if cuda: torch.cuda.synchronize()
seconds = time.perf_counter() - start
peak = torch.cuda.max_memory_allocated() / 2**20 if cuda else None
print("RESULT", json.dumps({"tokens_per_s": batch * length * (steps - warmup) / seconds, "peak_mb": peak}))
'''


def build_model(size: str, out_dir: Path) -> Path:
    """A random-weight Qwen2 model of `size`'s published shape, with a byte-level BPE tokenizer
    trained here (its ids are a prefix of the model's vocabulary), in bf16 on a GPU."""
    if (out_dir / "config.json").exists():
        return out_dir
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    from playground.tiny_model import build_tokenizer

    tokenizer = build_tokenizer(vocab_size=4000, texts=dialogsum_texts() or None)
    tokenizer.model_max_length = 32768
    config = Qwen2Config(**QWEN25[size], **COMMON, bos_token_id=tokenizer.bos_token_id,
                         eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id)
    cuda = torch.cuda.is_available()
    torch.manual_seed(0)
    with torch.device("cuda" if cuda else "cpu"):
        model = Qwen2ForCausalLM._from_config(config, dtype=torch.bfloat16 if cuda else torch.float32)
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    del model
    return out_dir


def result_line(out: subprocess.CompletedProcess) -> dict:
    line = next((row for row in out.stdout.splitlines() if row.startswith("RESULT ")), None)
    if line is not None:
        return json.loads(line[7:])
    tail = out.stderr.strip().splitlines()[-1:] or ["no output"]
    return {"error": "out of memory" if "out of memory" in out.stderr.lower() else tail[0][:160], "log": out.stderr}


def run_script(script: str, args: list, timeout: float) -> dict:
    try:
        out = subprocess.run([sys.executable, "-c", script, *map(str, args)], capture_output=True, text=True,
                             timeout=timeout, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    except subprocess.TimeoutExpired:
        return {"error": "over the time budget"}
    return result_line(out)


def run_playground(model_dir: Path, data: Path, method: str, steps: int, warmup: int, batch: int, max_length: int,
                   work: Path, timeout: float, **settings) -> dict:
    name = f"gpu-{method}-{int(time.time() * 1000)}"
    recipe = {"method": method, "base_model": str(model_dir), "data": str(data), "max_steps": steps,
              "per_device_train_batch_size": batch, "max_length": max_length, "val_fraction": 0.0, "test_fraction": 0.0,
              "learning_rate": LEARNING_RATE[method], "template": "plain", "output_name": name,
              # no checkpoint at the last step: outside the timed steps, and a 7B full fine-tune's (~45 GB with
              # its AdamW state) beside the model and the saved weights would fill the GPU machine's 64 GB disk
              "checkpoint_minutes": 0, **settings}
    path = work / f"{name}.yaml"
    path.write_text(yaml.safe_dump(recipe))
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PLAYGROUND_HOME": str(work / "home"),
           "PLAYGROUND_ADAPTERS": str(work / "adapters")}
    try:
        out = subprocess.run([sys.executable, "-m", "playground", "train", str(path)], cwd=ROOT, capture_output=True,
                             text=True, env=env, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": "over the time budget"}
    if out.returncode != 0:
        return {"error": "out of memory" if "out of memory" in out.stderr.lower() else out.stderr.strip()[-160:],
                "log": out.stdout + out.stderr}
    metrics = json.loads((work / "adapters" / name / "run.json").read_text())["metrics"]
    run_dir = sorted((work / "home" / "runs").iterdir(), key=lambda p: p.stat().st_mtime)[-1]
    logs = [e for e in map(json.loads, (run_dir / "events.jsonl").read_text().splitlines())
            if e["type"] == "log" and "num_tokens" in e and "step" in e]  # TRL's count of non-padding tokens
    shutil.rmtree(work / "adapters" / name)  # the disk is for the next run (a 7B model's weights are 15 GB)
    shutil.rmtree(run_dir / "checkpoints", ignore_errors=True)
    first, last = next(e for e in logs if e["step"] >= warmup), logs[-1]
    rate = (last["num_tokens"] - first["num_tokens"]) / max(1e-9, last["time"] - first["time"])
    return {"tokens_per_s": rate, "peak_mb": metrics["peak_memory_mb"], "estimated_mb": metrics["estimated_peak_mb"]}


def note_failure(path: str | None, title: str, result: dict) -> None:
    if path and "log" in result:
        with open(path, "a") as failures:
            failures.write(f"===== {title}\n{result.pop('log')[-20000:]}\n")


def cell(result: dict) -> str:
    if "error" in result:
        return f"{result['error']}"
    peak = f"{result['peak_mb'] / 1024:6.1f} GiB" if result.get("peak_mb") else "   (cpu)"
    estimate = ""
    if result.get("estimated_mb") and result.get("peak_mb"):
        estimate = (f" | estimate {result['estimated_mb'] / 1024:5.1f} GiB "
                    f"({(result['estimated_mb'] - result['peak_mb']) / result['peak_mb']:+.0%})")
    note = f" ({result['note']})" if result.get("note") else ""
    return f"{result['tokens_per_s']:9,.0f} tok/s | peak {peak}{estimate}{note}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="0.5b,7b,1.5b", help="in the order to run them (the budget may end a list)")
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--warmup", type=int, default=4, help="steps left out of the timing")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--max-length", type=int, default=512)
    parser.add_argument("--budget-s", type=float, default=470, help="the whole table's wall-clock budget")
    parser.add_argument("--smoke", action="store_true", help="a small model, 3 timed steps: test the script on a CPU")
    parser.add_argument("--work", default=str(Path(tempfile.gettempdir()) / "gpu-table"))
    parser.add_argument("--failures", help="a file to write each failed run's output to")
    args = parser.parse_args()
    if args.smoke:
        args.sizes, args.steps, args.warmup, args.batch, args.max_length = "smoke", 5, 2, 2, 128
    deadline = time.time() + args.budget_s
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    data = work / "dialogsum-prompt-completion.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in dialogsum_rows()))
    import torch

    device = torch.cuda.get_device_name() if torch.cuda.is_available() else "CPU"
    print(f"{device}; random-weight Qwen2.5 architectures; DialogSum dev rows; batch {args.batch} x max length "
          f"{args.max_length}; tokens/s over steps {args.warmup + 1}-{args.steps} (non-padding); peak = "
          "torch.cuda.max_memory_allocated of the run's process", flush=True)
    table: dict = {}
    plan_changes: dict = {}  # what the project's runs change in the memory plan after a failure
    for size in args.sizes.split(","):
        began = time.time()
        model_dir = build_model(size, work / f"qwen2.5-{size}-random")
        print(f"{size:>5} | model built and saved in {time.time() - began:.0f} s", flush=True)
        # The project's runs first, then the bare loop, then TRL's: if the budget ends a size early, what is
        # lost is a baseline of a size other than 0.5B, not the 7B memory goals.
        methods = args.methods.split(",")
        runs = [(f"playground {method}", "playground", method, args.batch) for method in methods]
        if size == "7b" and "qlora" in methods:
            runs.insert(methods.index("qlora") + 1, ("playground qlora, batch 4", "playground", "qlora", 4))
        runs.append(("bare loop", "bare", "full", args.batch))
        runs += [(f"TRL defaults {method}", "trl", method, args.batch) for method in methods]
        for label, kind, method, batch in runs:
            began = time.time()
            left = deadline - began
            if left < 20:
                result = {"error": "skipped: the time budget ran out"}
            elif kind == "bare":
                result = run_script(BARE_LOOP, [model_dir, args.steps, args.warmup, batch, args.max_length], left)
            elif kind == "trl":
                result = run_script(TRL_DEFAULTS, [model_dir, data, method, args.steps, args.warmup, batch,
                                                   args.max_length, work / "trl"], left)
            else:
                result = run_playground(model_dir, data, method, args.steps, args.warmup, batch, args.max_length, work,
                                        left, **plan_changes)
                liger_failed = "liger" in result.get("log", "").lower() and result.get("error") != "out of memory"
                if liger_failed and not plan_changes:
                    # the fused loss is an optional package: measure the rest of the plan rather than nothing
                    note_failure(args.failures, f"{size} {label} (with the fused loss)", result)
                    plan_changes = {"fused_loss": "chunked"}
                    if deadline - time.time() > 20:
                        result = run_playground(model_dir, data, method, args.steps, args.warmup, batch,
                                                args.max_length, work, deadline - time.time(), **plan_changes)
                if plan_changes and "error" not in result:
                    result["note"] = "TRL's chunked loss: Liger failed"
            table[(size, label)] = result
            wall = f" | {time.time() - began:4.0f} s" if left >= 20 else ""  # the whole process: plan the budget by it
            print(f"{size:>5} | {label:<26} | {cell(result)}{wall}", flush=True)
            note_failure(args.failures, f"{size} {label}", result)
    print_goals(table)


def print_goals(table: dict) -> None:
    def rate(size, label):
        return table.get((size, label), {}).get("tokens_per_s")

    def peak(size, label):
        return table.get((size, label), {}).get("peak_mb")

    print("goals:")
    sizes = sorted({size for size, _ in table})
    for size in sizes:
        for method in ("full", "lora"):
            ours, bare, trl = rate(size, f"playground {method}"), rate(size, "bare loop"), rate(size, f"TRL defaults {method}")
            if ours and bare and trl:
                print(f"  {size} {method}: {ours / bare:.2f}x the bare loop (goal >= 0.5x), {ours / trl:.2f}x TRL's "
                      "defaults (goal >= 1.3x)")
    full, lora, qlora, small = (peak("7b", f"playground {m}") for m in ("full", "lora", "qlora", "qlora, batch 4"))
    if lora and full:
        print(f"  7b LoRA peak {lora / full:.2f}x full (goal <= 0.5x)")
    if qlora and lora:
        print(f"  7b QLoRA peak {qlora / lora:.2f}x LoRA (goal <= 0.6x)")
    if small:
        print(f"  7b QLoRA at batch 4 x 512: {small / 1024:.1f} GiB (goal < 16 GiB)")
    errors = [(key, (r["estimated_mb"] - r["peak_mb"]) / r["peak_mb"]) for key, r in table.items()
              if r.get("estimated_mb") and r.get("peak_mb")]
    if errors:
        worst = max(errors, key=lambda e: abs(e[1]))
        within = sum(abs(e) <= 0.2 for _, e in errors)
        print(f"  estimate within ±20% of the peak: {within} of {len(errors)} runs (worst {worst[1]:+.0%}, "
              f"{worst[0][0]} {worst[0][1]})")


if __name__ == "__main__":
    main()
