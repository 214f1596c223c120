"""Training tokens/s (non-padding) of `python -m playground train` vs a plain TRL SFTTrainer script
with TRL's defaults: same random-weight SmolLM2-135M-architecture model (its config with the ~10k
vocabulary of a tokenizer trained on DialogSum, as in the issue's measurement), same DialogSum rows, same
number of steps, full fine-tuning and LoRA (goal >= 1.3x at the same loss per token). Also
launch-to-first-step and stop-to-exit seconds of a background run.

Usage: python bench/train_throughput.py [--steps 10] [--methods full,lora]
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

import yaml
from common import DIALOGSUM, ROOT, smollm2_135m_random

BASELINE = r'''
import json, sys, time, datasets, torch
from trl import SFTConfig, SFTTrainer
from peft import LoraConfig
model_dir, data_path, method, steps, out = sys.argv[1:6]
rows = [json.loads(l) for l in open(data_path)]
# the same conversational rows `playground train` builds for a model with a chat template
rows = [{"prompt": [{"role": "user", "content": r["prompt"]}], "completion": [{"role": "assistant", "content": r["completion"].strip()}]} for r in rows]
config = SFTConfig(output_dir=out, max_steps=int(steps), per_device_train_batch_size=4, max_length=512,
                   learning_rate=5e-5 if method == "full" else 2e-4, use_cpu=True, bf16=False,
                   gradient_checkpointing=False, report_to=[], save_strategy="no", logging_steps=1,
                   include_num_input_tokens_seen="non_padding", disable_tqdm=True, seed=42)
peft = LoraConfig(task_type="CAUSAL_LM", r=16, lora_alpha=32, lora_dropout=0.05, target_modules="all-linear") if method == "lora" else None
trainer = SFTTrainer(model=model_dir, args=config, train_dataset=datasets.Dataset.from_list(rows), peft_config=peft)
result = trainer.train()
print("RESULT", json.dumps({"tokens": trainer.state.num_input_tokens_seen, "seconds": result.metrics["train_runtime"],
                            "loss": result.metrics["train_loss"]}))
'''


def dialogsum_rows(limit: int = 500) -> list[dict]:
    path = DIALOGSUM / "dialogsum.dev.jsonl"
    if not path.exists():
        sys.exit(f"needs {path} (the shared DialogSum data)")
    rows = [json.loads(line) for line in path.read_text().splitlines()][:limit]
    return [{"prompt": f"Summarize the following conversation.\n\n{r['dialogue']}\n\nSummary:", "completion": " " + r["summary"]}
            for r in rows]


def run_baseline(model_dir: Path, data: Path, method: str, steps: int, work: Path) -> dict:
    out = subprocess.run([sys.executable, "-c", BASELINE, str(model_dir), str(data), method, str(steps), str(work / "trl")],
                         capture_output=True, text=True, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    line = next((row for row in out.stdout.splitlines() if row.startswith("RESULT ")), None)
    if line is None:
        sys.exit(out.stderr[-3000:])
    return json.loads(line[7:])


def run_ours(model_dir: Path, data: Path, method: str, steps: int, work: Path) -> dict:
    recipe = {"method": method, "base_model": str(model_dir), "data": str(data), "max_steps": steps,
              "per_device_train_batch_size": 4, "max_length": 512, "val_fraction": 0.0, "test_fraction": 0.0,
              "learning_rate": 5e-5 if method == "full" else 2e-4, "template": "plain",
              "output_name": f"bench-{method}-{int(time.time())}"}
    if method == "lora":
        recipe.update(lora_r=16, lora_alpha=32, lora_dropout=0.05, target_modules="all-linear")
    path = work / f"{method}.yaml"
    path.write_text(yaml.safe_dump(recipe))
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PLAYGROUND_HOME": str(work / "home"),
           "PLAYGROUND_ADAPTERS": str(work / "adapters")}
    start = time.time()
    out = subprocess.run([sys.executable, "-m", "playground", "train", str(path)], cwd=ROOT, capture_output=True,
                         text=True, env=env)
    if out.returncode != 0:
        sys.exit(out.stderr[-3000:])
    run_dir = sorted((work / "home" / "runs").iterdir())[-1]
    events = [json.loads(row) for row in (run_dir / "events.jsonl").read_text().splitlines()]
    first_step = next(e["time"] for e in events if e["type"] == "progress")
    record = json.loads((work / "adapters" / recipe["output_name"] / "run.json").read_text())
    metrics = record["metrics"]
    return {"tokens": tokens_of(events),
            "seconds": metrics["train_runtime"], "loss": metrics["train_loss"], "launch_to_first_step": first_step - start,
            "events": events}


def tokens_of(events: list[dict]) -> int:
    """Non-padding tokens trained on: TRL's own count, in the run's last training log."""
    logs = [e for e in events if e["type"] == "log" and "num_tokens" in e and "loss" in e]
    return logs[-1]["num_tokens"] if logs else 0


def stop_to_exit(model_dir: Path, data: Path, work: Path) -> float:
    sys.path.insert(0, str(ROOT))
    os.environ.update(PLAYGROUND_HOME=str(work / "stop-home"), PLAYGROUND_ADAPTERS=str(work / "stop-adapters"))
    from playground.jobs import JobManager, process_alive
    from playground.settings import Settings
    from playground.training.recipes import recipe_from_dict

    settings = Settings.from_env()
    settings.ensure_dirs()
    jobs = JobManager(settings)
    run = jobs.submit("sft", recipe_from_dict({"method": "lora", "base_model": str(model_dir), "data": str(data),
                                        "max_steps": 1000, "max_length": 512, "val_fraction": 0.0, "template": "plain"}))
    while not any(e["type"] == "progress" for e in jobs.events(run["id"])[0]):
        time.sleep(0.2)
    run = jobs.get(run["id"])
    asked = time.time()
    jobs.cancel(run["id"])
    while process_alive(run["pid"], run["pid_started"]):
        jobs.refresh()
        time.sleep(0.1)
    return time.time() - asked


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--methods", default="full,lora")
    parser.add_argument("--model-dir", default=str(Path(tempfile.gettempdir()) / "bench-smollm2-135m-random-10k"))
    args = parser.parse_args()
    model_dir = smollm2_135m_random(Path(args.model_dir), full_vocab=False)
    work = Path(tempfile.mkdtemp(prefix="bench-train-"))
    data = work / "dialogsum-prompt-completion.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in dialogsum_rows()))
    print(f"model: random SmolLM2-135M architecture, ~10k vocabulary; data: DialogSum dev (500 rows); max length 512, batch 4, "
          f"{args.steps} steps, CPU")
    for method in args.methods.split(","):
        base = run_baseline(model_dir, data, method, args.steps, work)
        ours = run_ours(model_dir, data, method, args.steps, work)
        b, o = base["tokens"] / base["seconds"], ours["tokens"] / ours["seconds"]
        print(f"{method:>5}: TRL defaults {b:7.1f} tok/s (loss {base['loss']:.3f}) | playground train {o:7.1f} tok/s "
              f"(loss {ours['loss']:.3f}) | ratio {o / b:.2f}x (goal >= 1.3x) | launch-to-first-step "
              f"{ours['launch_to_first_step']:.1f} s")
    print(f"stop-to-exit: {stop_to_exit(model_dir, data, work):.1f} s")


if __name__ == "__main__":
    main()
