"""Judging a policy run's held-out replies with another scorer than the reward model it trained
against: another reward model trained here, or a text classifier (a Hub id or a local folder),
such as a toxicity model, read as the probability of one of its labels. A policy that only
learned to please its own reward model shows it here: its reward rose, another judge's did not.

The replies are the ones the run wrote before and after training (samples.jsonl), so the
comparison is paired as the run's own; the result is kept with the run (database and run.json)."""

from __future__ import annotations

import json
from pathlib import Path

from playground.errors import PlaygroundError

BATCH = 16


class ClassifierScorer:
    """A sequence classifier's probability of `label` for each reply (its raw output when it has one)."""

    def __init__(self, source: str, label: str = ""):
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        try:
            self.tokenizer = AutoTokenizer.from_pretrained(source)
            self.model = AutoModelForSequenceClassification.from_pretrained(source, use_safetensors=True).eval()
        except (OSError, ValueError) as err:
            raise PlaygroundError(f"Could not load '{source}' as a text classifier: {str(err).splitlines()[0]}") from err
        labels = {str(v).lower(): int(k) for k, v in (self.model.config.id2label or {}).items()}
        self.index = None
        if self.model.config.num_labels > 1:
            if not label.strip():
                raise PlaygroundError(f"'{source}' has {self.model.config.num_labels} labels ({', '.join(labels)}): "
                                      "name the one whose probability is the score (e.g. toxic).")
            if label.strip().lower() not in labels:
                raise PlaygroundError(f"'{source}' has no label '{label}': its labels are {', '.join(labels)}.")
            self.index = labels[label.strip().lower()]
        self.name = f"{source} · P({label.strip()})" if self.index is not None else source

    def score(self, rows: list[tuple[str, str]]) -> list[float]:
        """Scores the replies alone (a classifier judges the text it is given, not the conversation)."""
        import torch

        replies = [reply for _, reply in rows]
        out = []
        with torch.no_grad():
            for start in range(0, len(replies), BATCH):
                batch = self.tokenizer(replies[start:start + BATCH], padding=True, truncation=True, max_length=512,
                                       return_tensors="pt")
                logits = self.model(**batch).logits.float()
                out += (logits[:, 0] if self.index is None else torch.softmax(logits, -1)[:, self.index]).tolist()
        return out


def load_scorer(settings, ref: str, label: str = ""):
    """A reward model trained here (by name), or a classifier (a Hub id or a folder)."""
    from playground import adapters as adapter_store
    from playground.models import ModelManager
    from playground.training.preference_checks import require_reward_model

    ref = (ref or "").strip()
    if not ref:
        raise PlaygroundError("Choose another reward model, or type a classifier's Hub id (e.g. a toxicity model).")
    folder = settings.adapters_dir / ref if "/" not in ref else Path(ref).expanduser()
    if folder.is_dir() and adapter_store.read_record(folder):  # a run's result: only a reward model scores
        require_reward_model(folder)
        from playground.training.reward import RewardModel

        scorer = RewardModel(folder, settings)
        scorer.name = folder.name
        return scorer
    return ClassifierScorer(ModelManager(settings).resolve(ref), label)


def held_out_replies(output_dir: Path) -> tuple[list[str], list[list[str]], list[list[str]]]:
    """(prompts, replies before, replies after) that a policy run kept."""
    from playground.training.policy_eval import SAMPLES_FILE

    path = Path(output_dir or "") / SAMPLES_FILE
    if not output_dir or not path.exists():
        raise PlaygroundError("This run kept no held-out replies to score (only finished PPO, RLOO and GRPO runs do).")
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return ([r["prompt"] for r in rows], [r.get("before_replies") or [r["before"]] for r in rows],
            [r.get("after_replies") or [r["after"]] for r in rows])


def rescore(store, run: dict, scorer) -> dict:
    """Score the run's held-out replies before and after with `scorer`: the mean per prompt, its 95%
    intervals and the paired change (policy_eval.comparison), saved under metrics["scored_by"]."""
    from playground import adapters as adapter_store
    from playground.training.policy_eval import comparison

    prompts, before, after = held_out_replies(run.get("output_dir"))
    means = []
    for replies in (before, after):
        flat = scorer.score([(p, r) for p, texts in zip(prompts, replies) for r in texts])
        it = iter(flat)
        means.append([sum(next(it) for _ in texts) / len(texts) for texts in replies])
    result = comparison(*means)
    metrics = dict(run.get("metrics") or {})
    metrics["scored_by"] = {**metrics.get("scored_by", {}), scorer.name: result}
    store.update_run(run["id"], metrics=metrics)
    record = adapter_store.read_record(Path(run["output_dir"]))
    if record:
        record["metrics"] = {**record.get("metrics", {}), "scored_by": metrics["scored_by"]}
        adapter_store.write_record(Path(run["output_dir"]), record)
    return result
