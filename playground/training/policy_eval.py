"""How the runs that train a policy against a reward model (PPO, RLOO, GRPO) show what changed:
sampled replies to held-out prompts before and after training, scored by the reward model, with
the mean reward's 95% intervals and the paired change, and the KL to the reference measured the
same way for every method (the trainers log it in different units: PPO per reply, RLOO and GRPO
per token)."""

from __future__ import annotations

import json
from pathlib import Path

from playground.training.preference_data import uses_chat

SAMPLES_FILE = "samples.jsonl"  # per held-out prompt: its replies before and after, and the mean reward of each side
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
                  seed: int, samples: int = HELD_OUT_SAMPLES) -> list[list[str]]:
    """`samples` sampled replies per prompt (seeded: the same draws before and after training)."""
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
                                     num_return_sequences=samples, pad_token_id=tokenizer.pad_token_id,
                                     eos_token_id=tokenizer.eos_token_id)
                replies.append(tokenizer.batch_decode(out[:, ids.shape[1]:], skip_special_tokens=True))
    finally:
        torch.random.set_rng_state(rng_state)
    return replies


def reply_logprobs(model, tokenizer, prompts: list[str], replies: list[list[str]], max_prompt_tokens: int) -> list[float]:
    """log p(reply | prompt) under `model`, summed over the reply's tokens, for every reply (flat)."""
    import torch

    model.eval()
    device = next(model.parameters()).device
    out = []
    with torch.no_grad():
        for prompt, texts in zip(prompts, replies):
            head = prompt_ids(tokenizer, prompt, max_prompt_tokens)
            tails = [tokenizer(t, add_special_tokens=False)["input_ids"] for t in texts]
            width = len(head) + max(1, max(len(t) for t in tails))
            pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
            ids = torch.tensor([head + t + [pad] * (width - len(head) - len(t)) for t in tails], device=device)
            mask = torch.tensor([[1] * (len(head) + len(t)) + [0] * (width - len(head) - len(t)) for t in tails], device=device)
            logits = model(input_ids=ids, attention_mask=mask).logits[:, :-1].float()
            token_logps = torch.log_softmax(logits, -1).gather(-1, ids[:, 1:, None]).squeeze(-1)
            in_reply = torch.zeros_like(token_logps)
            for row, tail in enumerate(tails):
                in_reply[row, len(head) - 1:len(head) - 1 + len(tail)] = 1
            out += (token_logps * in_reply).sum(-1).tolist()
    return out


def held_out_kl(policy, tokenizer, prompts: list[str], replies: list[list[str]], max_prompt_tokens: int,
                reference=None, reference_adapter: str | None = None) -> float:
    """KL(policy ‖ reference) per reply in nats, estimated on the policy's own held-out replies: the
    mean of log π(y|x) − log π_ref(y|x). The reference is a model, or one of the policy's adapters,
    or (neither given) the policy with its adapter disabled."""
    mine = reply_logprobs(policy, tokenizer, prompts, replies, max_prompt_tokens)
    if reference is not None:
        theirs = reply_logprobs(reference, tokenizer, prompts, replies, max_prompt_tokens)
    elif reference_adapter:
        active = policy.active_adapter
        policy.set_adapter(reference_adapter)
        try:
            theirs = reply_logprobs(policy, tokenizer, prompts, replies, max_prompt_tokens)
        finally:
            policy.set_adapter(active)
    else:
        with policy.disable_adapter():
            theirs = reply_logprobs(policy, tokenizer, prompts, replies, max_prompt_tokens)
    return sum(m - t for m, t in zip(mine, theirs)) / max(1, len(mine))


def held_out_rewards(scorer, prompts: list[str], replies: list[list[str]]) -> list[float]:
    """The mean reward of each prompt's replies."""
    scores = scorer.score([(p, r) for p, rs in zip(prompts, replies) for r in rs])
    return [sum(scores[i * HELD_OUT_SAMPLES:(i + 1) * HELD_OUT_SAMPLES]) / HELD_OUT_SAMPLES for i in range(len(prompts))]


def comparison(before: list[float], after: list[float]) -> dict:
    """reward_before / reward_after (means) and reward_change (paired), each with _low and _high (95%),
    and the change's permutation-test p-value and whether it is real (bootstrap.Difference.real)."""
    from playground.evaluation.bootstrap import interval, mean_aggregate, paired_difference

    out = {}
    for key, values in (("reward_before", before), ("reward_after", after)):
        found = interval(values, mean_aggregate)
        out |= {key: found.value, f"{key}_low": found.low, f"{key}_high": found.high}
    change = paired_difference(after, before, mean_aggregate)
    return out | {"reward_change": change.diff, "reward_change_low": change.low, "reward_change_high": change.high,
                  "reward_change_p": change.p_value, "reward_change_real": change.real}


def write_samples(folder: Path, prompts: list[str], before_replies, before, after_replies, after) -> None:
    rows = [{"prompt": p, "before": b[0], "reward_before": rb, "after": a[0], "reward_after": ra, "before_replies": b,
             "after_replies": a} for p, b, rb, a, ra in zip(prompts, before_replies, before, after_replies, after)]
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


def reward_kl_points(runs: list[dict]) -> list[dict]:
    """The finished policy runs (PPO, RLOO, GRPO) that measured their held-out KL and reward change,
    as points of plots.reward_kl_figure."""
    points = []
    for run in runs:
        metrics, recipe = run.get("metrics") or {}, run.get("recipe") or {}
        if run.get("kind") in ("ppo", "rloo", "grpo") and {"kl", "reward_change", "kl_train"} <= set(metrics):
            points.append({"name": run["name"], "method": run["kind"], "kl": metrics["kl"],
                           "change": metrics["reward_change"], "low": metrics["reward_change_low"],
                           "high": metrics["reward_change_high"], "reward_model": recipe.get("reward_model", "?"),
                           "weight": recipe.get("kl_coef", recipe.get("beta", "?"))})
    return points
