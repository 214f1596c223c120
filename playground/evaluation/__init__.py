"""Evaluation: base vs tuned models on held-out data (metrics with bootstrap intervals and a
paired test against the base), forgetting on a second task, soft prompts made readable, and
multiple-choice benchmarks through lm-evaluation-harness. An evaluation is a run kind
(`eval_kind`), queued, watched and stopped like fine-tuning; its numbers are stored with the run."""
