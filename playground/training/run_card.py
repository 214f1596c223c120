"""What a finished run leaves beside its weights: run.json (machine-readable) and README.md (a
model card for people and the Hub)."""

from __future__ import annotations

import json
from pathlib import Path


def model_card(record: dict):
    """A huggingface_hub ModelCard: metadata the Hub reads (base model, library, tags), then the run."""
    from huggingface_hub import ModelCard, ModelCardData

    from playground.training.recipes import RECIPES

    recipe, metrics = record["recipe"], record["metrics"]
    method = RECIPES.get(record["method"])
    is_peft = method.is_peft if method else bool(recipe.get("use_lora"))
    data = ModelCardData(base_model=record["base_model"], library_name="peft" if is_peft else "transformers",
                         tags=["llm-fine-tuning-playground", record["method"]])
    lines = [
        f"# {record['name']}",
        "",
        f"Fine-tuned from `{record['base_model']}` with **{record['method']}** in the LLM Fine-Tuning Playground "
        f"({record['status']}).",
        "",
        f"- Trainable parameters: {record['trainable_params']:,} of {record['total_params']:,} "
        f"({record['trainable_share']:.2%})",
        f"- Data: `{recipe.get('data')}`" + (f" mixed with {len(recipe['data_mix'])} sets" if recipe.get("data_mix") else ""),
        f"- Learning rate {recipe.get('learning_rate')}, batch {recipe.get('per_device_train_batch_size')} × "
        f"{recipe.get('gradient_accumulation_steps')} accumulation, max length {recipe.get('max_length')}, seed {recipe.get('seed')}",
    ]
    for key in ("train_loss", "eval_loss", "train_runtime", "peak_memory_mb"):
        if key in metrics:
            lines.append(f"- {key}: {metrics[key]:.4g}")
    lines += ["", "## Use", "", "```bash",
              f"python -m playground generate --model {record['base_model']} --adapter adapters/{record['name']} --prompt \"...\"",
              "```", "", "## Recipe", "", "```yaml"]
    import yaml

    lines += [yaml.safe_dump({"method": record["method"], **recipe}, sort_keys=False).rstrip(), "```", ""]
    return ModelCard(f"---\n{data.to_yaml()}\n---\n\n" + "\n".join(lines))


def write_run_files(folder: Path, record: dict) -> None:
    folder = Path(folder)
    (folder / "run.json").write_text(json.dumps(record, indent=2), encoding="utf-8")
    model_card(record).save(folder / "README.md")
