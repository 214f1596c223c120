"""How the runs that train a policy against a reward model (PPO, RLOO, GRPO) show what changed:
sampled replies to held-out prompts before and after training, scored by the reward model, with
the mean reward's 95% intervals and the paired change."""

from __future__ import annotations

import json
from pathlib import Path

from playground.training.preference_data import uses_chat

SAMPLES_FILE = "samples.jsonl"  # per held-out prompt: a reply before and after, and the mean reward of its replies
HELD_OUT_SAMPLES = 4  # replies per held-out prompt, before and after: their mean is the prompt's reward


def prompt_ids(tokenizer, prompt: str, limit: int) -> list[int]:
    """A prompt as the policy sees it (the chat template's user turn and assistant opening), cut from the start."""
    if uses_chat(tokenizer):
        ids = tokenizer.apply_chat_template([{"role": "user", "content": prompt}], add_generation_prompt=True,
                                            tokenize=True, return_dict=True)["input_ids"]
    else:
        ids = tokenizer(prompt)["input_ids"]
    return ids[-limit:]


def write_replies(model, tokenizer, prompts: list[str], max_prompt_tokens: int, max_new_tokens: int, temperature: float,
                  seed: int) -> list[list[str]]:
    """HELD_OUT_SAMPLES sampled replies per prompt (seeded: the same draws before and after training)."""
    import torch

    model.eval()
    device = next(model.parameters()).device
    replies = []
    rng_state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    try:
        with torch.no_grad():
            for prompt in prompts:
                ids = torch.tensor([prompt_ids(tokenizer, prompt, max_prompt_tokens)], device=device)
                out = model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=max_new_tokens,
                                     do_sample=True, temperature=temperature, top_k=0, top_p=1.0,
                                     num_return_sequences=HELD_OUT_SAMPLES, pad_token_id=tokenizer.pad_token_id,
                                     eos_token_id=tokenizer.eos_token_id)
                replies.append(tokenizer.batch_decode(out[:, ids.shape[1]:], skip_special_tokens=True))
    finally:
        torch.random.set_rng_state(rng_state)
    return replies


def held_out_rewards(scorer, prompts: list[str], replies: list[list[str]]) -> list[float]:
    """The mean reward of each prompt's replies."""
    scores = scorer.score([(p, r) for p, rs in zip(prompts, replies) for r in rs])
    return [sum(scores[i * HELD_OUT_SAMPLES:(i + 1) * HELD_OUT_SAMPLES]) / HELD_OUT_SAMPLES for i in range(len(prompts))]


def comparison(before: list[float], after: list[float]) -> dict:
    """reward_before / reward_after (means) and reward_change (paired), each with _low and _high (95%)."""
    from playground.evaluation.bootstrap import interval, mean_aggregate, paired_difference

    out = {}
    for key, values in (("reward_before", before), ("reward_after", after)):
        found = interval(values, mean_aggregate)
        out |= {key: found.value, f"{key}_low": found.low, f"{key}_high": found.high}
    change = paired_difference(after, before, mean_aggregate)
    return out | {"reward_change": change.diff, "reward_change_low": change.low, "reward_change_high": change.high}


def write_samples(folder: Path, prompts: list[str], before_replies, before, after_replies, after) -> None:
    rows = [{"prompt": p, "before": b[0], "reward_before": rb, "after": a[0], "reward_after": ra}
            for p, b, rb, a, ra in zip(prompts, before_replies, before, after_replies, after)]
    (Path(folder) / SAMPLES_FILE).write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")


def save_policy(ctx, model, tokenizer, status: str, samples: tuple, selected_adapters: list[str] | None = None) -> None:
    """The trained policy (only `selected_adapters` of a PeftModel, when given), its tokenizer and
    the held-out samples (prompts, replies and rewards before, replies and rewards after)."""
    out = ctx.output_dir
    out.mkdir(parents=True, exist_ok=True)
    if selected_adapters:
        model.save_pretrained(out, selected_adapters=selected_adapters)
    else:
        model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    write_samples(out, *samples)
    ctx.writer.write("saved", path=str(out), status=status)


def policy_record(recipe, split, trainable: int, total: int) -> dict:
    """What run.json keeps of a policy run besides its metrics."""
    return {"trainable_params": trainable, "total_params": total, "trainable_share": trainable / total if total else 0.0,
            "pairs": split.source, "train_prompts": len(split.train), "held_out_prompts": len(split.held_out),
            "reward_model": recipe.reward_model}
