"""A reward model with TRL's RewardTrainer, read top to bottom: the pairs, the model with a scalar
head, train, measure on the held-out pairs, save. And `RewardModel`, which loads a saved one to
score text (the "score this text" box, PPO's reward and the before/after comparisons).

With LoRA on a causal LM the model is a sequence classifier (PEFT's SEQ_CLS task type) and its new
score head is saved with the adapter (`modules_to_save=["score"]`): otherwise the head would stay
at its random start or be lost on saving."""

from __future__ import annotations

import json
from pathlib import Path

from playground.kinds import Outcome, RunContext
from playground.runs import is_main_process
from playground.training.preference_data import recipe_split, reward_ids, split_record, tokenized_pairs
from playground.training.preference_recipes import RewardRecipe

HELD_OUT_FILE = "held_out.jsonl"  # the held-out pairs with their rewards, beside the saved model
SCORE_HEAD = "score"  # the name transformers gives the scalar head of *ForSequenceClassification


def reward_config(recipe: RewardRecipe, run_dir: Path, n_train: int):
    from trl import RewardConfig

    from playground.training.trainer_args import config_args

    return RewardConfig(**config_args(recipe, run_dir, n_train, evaluate=True, max_length=recipe.max_length))


def load_tokenizer(source: str):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(source)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_classifier(source: str, tokenizer):
    """The language model with a one-number head (new, randomly initialized) on its last token."""
    from transformers import AutoModelForSequenceClassification

    from playground.training.trainer_args import training_dtype

    model = AutoModelForSequenceClassification.from_pretrained(source, use_safetensors=True, num_labels=1, dtype=training_dtype())
    model.config.pad_token_id = tokenizer.pad_token_id  # where the head reads: the last token before padding
    return model


def train_reward(recipe: RewardRecipe, source: str, ctx: RunContext) -> Outcome:
    import datasets
    from transformers import set_seed
    from trl import RewardTrainer

    from playground.training.callbacks import RunEvents
    from playground.training.loop import starting_point, train_and_measure
    from playground.training.sft import count_params

    writer = ctx.writer
    split = recipe_split(recipe, ctx.settings, writer)
    tokenizer = load_tokenizer(source)

    writer.write("status", message="Loading the model")
    set_seed(recipe.seed)  # the new score head starts from random values: the same ones for the same seed
    model = load_classifier(source, tokenizer)
    config = reward_config(recipe, ctx.run_dir, len(split.train))
    events = RunEvents(ctx.run_dir, writer, ctx.stop, recipe.checkpoint_minutes)
    trainer = RewardTrainer(
        model=model,
        args=config,
        train_dataset=datasets.Dataset.from_list(tokenized_pairs(tokenizer, split.train, recipe.max_length)),
        eval_dataset=datasets.Dataset.from_list(tokenized_pairs(tokenizer, split.held_out, recipe.max_length)),
        processing_class=tokenizer,
        peft_config=recipe.lora_config(modules_to_save=[SCORE_HEAD]),
        callbacks=[events],
    )
    trainable, total = count_params(trainer.model)
    writer.write("params", trainable=trainable, total=total)
    before = starting_point(writer, ctx.resume, ctx.carried, lambda: {
        f"{k}_before": v for k, v in trainer.evaluate().items() if k in ("eval_accuracy", "eval_margin")},
        "held-out accuracy (the head is random: about chance)")
    metrics, status = train_and_measure(trainer, events, recipe.num_processes, before, resume=ctx.resume,
                                        checkpoint_on_stop=True)

    if is_main_process():
        out = ctx.output_dir
        out.mkdir(parents=True, exist_ok=True)
        trainer.model.save_pretrained(out)
        tokenizer.save_pretrained(out)
        scored = _score_held_out(trainer.model, tokenizer, split.held_out, recipe.max_length)
        (out / HELD_OUT_FILE).write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in scored), encoding="utf-8")
        writer.write("saved", path=str(out), status=status)
    record = {"trainable_params": trainable, "total_params": total,
              "trainable_share": trainable / total if total else 0.0, **split_record(split)}
    return Outcome(status, metrics, record, trainer.model)


def _score_held_out(model, tokenizer, rows: list[dict], max_length: int) -> list[dict]:
    """Each held-out pair with the reward of both sides (for the chosen-vs-rejected histogram)."""
    chosen = score_ids(model, tokenizer, [reward_ids(tokenizer, r["prompt"], r["chosen"], max_length) for r in rows])
    rejected = score_ids(model, tokenizer, [reward_ids(tokenizer, r["prompt"], r["rejected"], max_length) for r in rows])
    return [r | {"chosen_reward": c, "rejected_reward": j} for r, c, j in zip(rows, chosen, rejected)]


def score_ids(model, tokenizer, ids: list[list[int]], batch_size: int = 16) -> list[float]:
    """The reward of each token sequence (right-padded batches; the head reads the last real token)."""
    import torch

    model.eval()
    device = next(model.parameters()).device
    scores: list[float] = []
    with torch.no_grad():
        for start in range(0, len(ids), batch_size):
            chunk = ids[start:start + batch_size]
            width = max(len(x) for x in chunk)
            input_ids = torch.tensor([x + [tokenizer.pad_token_id] * (width - len(x)) for x in chunk], device=device)
            mask = torch.tensor([[1] * len(x) + [0] * (width - len(x)) for x in chunk], device=device)
            logits = model(input_ids=input_ids, attention_mask=mask).logits
            scores += logits[:, 0].float().tolist()
    return scores


class RewardModel:
    """A saved reward model (a folder in adapters/ whose run.json says reward_model), ready to score."""

    def __init__(self, folder: Path, settings=None):
        from playground.training.preference_checks import require_reward_model

        folder = Path(folder)
        record = require_reward_model(folder)
        self.folder = folder
        self.name = folder.name
        self.base_model = record.get("base_model", "")
        self.max_length = int(record.get("recipe", {}).get("max_length", 512))
        self.tokenizer = load_tokenizer(str(folder))
        if (folder / "adapter_config.json").exists():
            from peft import PeftModel

            from playground.models import ModelManager
            from playground.settings import Settings

            source = ModelManager(settings or Settings.from_env()).resolve(self.base_model)
            self.model = PeftModel.from_pretrained(load_classifier(source, self.tokenizer), str(folder))
        else:
            self.model = load_classifier(str(folder), self.tokenizer)
        self.model.eval()

    def score(self, rows: list[tuple[str, str]]) -> list[float]:
        """The reward of each (prompt, completion), formatted as in training."""
        return score_ids(self.model, self.tokenizer, [reward_ids(self.tokenizer, p, c, self.max_length) for p, c in rows])


def held_out_scores(folder: Path) -> list[dict]:
    """The held-out pairs a reward model was measured on, with the reward of each side."""
    path = Path(folder) / HELD_OUT_FILE
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
