"""PPO, two figures measured in one run:

1. episodes/s of `python -m playground train` (method ppo) vs a plain TRL 1.12 PPO script with the
   same settings (the issue's: a tiny model, 64 episodes, batch 8, response length 16, 2 PPO
   epochs), each as trainer.train() seconds. Goal >= 1.0x.
2. peak memory (the run's worker's peak RSS on a CPU, from its run.json; peak allocated CUDA memory on a GPU) of PPO
   with a LoRA policy whose reference is the same base with the adapter disabled, vs separate full
   policy and reference models, on a wider random model (weights dominate, as on real models).
   Goal <= 0.6x.

Every model is built here with random weights (no download); the reward model is an untrained
classifier marked as one (speed and memory do not depend on what it learned).
Usage: python bench/ppo.py [--episodes 64] [--width 1024 --layers 8]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml
from common import ROOT

PLAIN = r'''
import json, sys, time, copy, datasets, torch
from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification, AutoTokenizer
from trl.experimental.ppo import PPOConfig, PPOTrainer
model_dir, reward_dir, prompts_path, episodes, out = sys.argv[1:6]
tokenizer = AutoTokenizer.from_pretrained(model_dir, padding_side="left")
prompts = [json.loads(l)["prompt"] for l in open(prompts_path)]
ids = lambda p: tokenizer.apply_chat_template([{"role": "user", "content": p}], add_generation_prompt=True, tokenize=True, return_dict=True)["input_ids"]
train = datasets.Dataset.from_list([{"input_ids": ids(p)} for p in prompts])
policy = AutoModelForCausalLM.from_pretrained(model_dir)
reward = AutoModelForSequenceClassification.from_pretrained(reward_dir, num_labels=1)
config = PPOConfig(output_dir=out, total_episodes=int(episodes), per_device_train_batch_size=8, response_length=16,
                   num_ppo_epochs=2, learning_rate=1e-4, kl_coef=0.05, temperature=0.7, stop_token="eos",
                   missing_eos_penalty=1.0, num_sample_generations=0, local_rollout_forward_batch_size=8, use_cpu=True,
                   bf16=False, report_to=[], save_strategy="no", logging_steps=1, disable_tqdm=True, seed=42)
trainer = PPOTrainer(args=config, processing_class=tokenizer, model=policy, ref_model=AutoModelForCausalLM.from_pretrained(model_dir),
                     reward_model=reward, value_model=copy.deepcopy(reward), train_dataset=train, eval_dataset=train)
start = time.time()
trainer.train()
print("RESULT", json.dumps({"seconds": time.time() - start}))
'''


def build_models(work: Path, width: int, layers: int) -> tuple[Path, Path]:
    """A random causal LM (the tiny model's tokenizer, chat template) and an untrained reward model on it."""
    import torch
    from transformers import AutoModelForSequenceClassification

    from playground.tiny_model import build_tiny_model

    model_dir = build_tiny_model(work / f"model-{width}x{layers}", hidden_size=width, layers=layers)
    torch.manual_seed(1)
    reward_dir = work / "adapters" / f"rm-{width}x{layers}"
    classifier = AutoModelForSequenceClassification.from_pretrained(model_dir, num_labels=1)
    classifier.save_pretrained(reward_dir)
    from transformers import AutoTokenizer

    AutoTokenizer.from_pretrained(model_dir).save_pretrained(reward_dir)
    (reward_dir / "run.json").write_text(json.dumps({"output": "reward_model", "method": "reward", "base_model": str(model_dir),
                                                     "recipe": {"max_length": 64}}))
    return model_dir, reward_dir


def write_pairs(path: Path, n: int = 96) -> Path:
    words = "the cat dog sun moon tree river stone bird fish house road".split()
    rows = [{"prompt": f"Tell me about the {words[i % 12]} and the {words[(i * 5) % 12]} ({i}).",
             "chosen": "a kind reply thanks", "rejected": "a reply"} for i in range(n)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def ours(work: Path, model_dir: Path, reward_dir: Path, data: Path, episodes: int, use_lora: bool, name: str) -> dict:
    recipe = {"method": "ppo", "base_model": str(model_dir), "data": str(data), "reward_model": reward_dir.name,
              "use_lora": use_lora, "total_episodes": episodes, "per_device_train_batch_size": 8, "response_length": 16,
              "num_ppo_epochs": 2, "max_length": 128, "val_fraction": 0.1, "learning_rate": 1e-4, "output_name": name,
              "sample_every": 0}  # like the plain script's num_sample_generations=0: no sample table inside train()
    path = work / f"{name}.yaml"
    path.write_text(yaml.safe_dump(recipe))
    env = {**os.environ, "PLAYGROUND_HOME": str(work / "home"), "PLAYGROUND_ADAPTERS": str(work / "adapters"),
           "HF_HUB_OFFLINE": "1"}
    out = subprocess.run([sys.executable, "-m", "playground", "train", str(path), "--overwrite"], capture_output=True,
                         text=True, env=env, cwd=ROOT)
    if out.returncode != 0:
        sys.exit(out.stdout[-2000:] + out.stderr[-3000:])
    record = json.loads((work / "adapters" / name / "run.json").read_text())
    # the run's own peak (its worker is forked by the launcher, not a child of this command)
    return {"seconds": record["metrics"]["train_seconds"], "peak_mb": record["metrics"]["peak_memory_mb"]}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--episodes", type=int, default=64)
    parser.add_argument("--width", type=int, default=1024, help="hidden size of the model for the memory comparison")
    parser.add_argument("--layers", type=int, default=8)
    args = parser.parse_args()
    import torch

    work = Path(tempfile.mkdtemp(prefix="bench-ppo-"))
    data = write_pairs(work / "pairs.jsonl")
    tiny, tiny_rm = build_models(work, 64, 2)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRL_EXPERIMENTAL_SILENCE": "1"}
    plain = subprocess.run([sys.executable, "-c", PLAIN, str(tiny), str(tiny_rm), str(data), str(args.episodes),
                            str(work / "plain")], capture_output=True, text=True, env=env)
    line = next((row for row in plain.stdout.splitlines() if row.startswith("RESULT ")), None)
    if line is None:
        sys.exit(plain.stderr[-3000:])
    plain_eps = args.episodes / json.loads(line[7:])["seconds"]
    mine = ours(work, tiny, tiny_rm, data, args.episodes, use_lora=False, name="speed-full")
    mine_eps = args.episodes / mine["seconds"]
    device = "GPU" if torch.cuda.is_available() else f"CPU ({os.cpu_count()} cores)"
    print(f"PPO on the tiny model ({device}), {args.episodes} episodes, batch 8, response length 16, 2 PPO epochs, "
          f"full policy and separate reference in both:")
    print(f"  plain TRL 1.12 script: {plain_eps:.1f} episodes/s; playground train: {mine_eps:.1f} episodes/s; "
          f"ratio {mine_eps / plain_eps:.2f}x (goal >= 1.0x)")

    wide, wide_rm = build_models(work, args.width, args.layers)
    lora = ours(work, wide, wide_rm, data, 16, use_lora=True, name="memory-lora")
    full = ours(work, wide, wide_rm, data, 16, use_lora=False, name="memory-full")
    key = "peak_mb"
    what = "peak CUDA memory allocated" if torch.cuda.is_available() else "peak RSS of the run's worker process"
    print(f"PPO memory on a random {args.width}-wide, {args.layers}-layer model ({what}): LoRA policy, reference = adapter "
          f"disabled: {lora[key]:.0f} MB; full policy + separate full reference: {full[key]:.0f} MB; ratio "
          f"{lora[key] / full[key]:.2f}x (goal <= 0.6x)")


if __name__ == "__main__":
    main()
