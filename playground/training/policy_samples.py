"""What a policy writes while it trains against a reward model (PPO, RLOO, GRPO): every N steps, a
reply to each of a few fixed held-out prompts with its reward, written to the run's events as a
"samples" event, so the page shows a table of them beside the charts. Reading replies as they
change is how reward hacking is caught early (a rising reward on ever stranger text)."""

from __future__ import annotations

from collections.abc import Callable

from transformers import TrainerCallback

from playground.runs import EventWriter

SAMPLE_PROMPTS = 4  # held-out prompts shown at every sampled step


class SampleTable(TrainerCallback):
    """Every `every` optimizer steps (and at the last one), one seeded reply per prompt, scored."""

    def __init__(self, writer: EventWriter, policy: Callable, tokenizer, scorer, prompts: list[str], every: int,
                 max_prompt_tokens: int, max_new_tokens: int, temperature: float, seed: int):
        self.writer, self.policy, self.tokenizer, self.scorer = writer, policy, tokenizer, scorer
        self.prompts, self.every = prompts[:SAMPLE_PROMPTS], every
        self.limits = (max_prompt_tokens, max_new_tokens, temperature, seed)

    def write(self, step: int) -> None:
        from playground.training.policy_eval import write_replies

        model = self.policy()
        was_training = model.training
        max_prompt_tokens, max_new_tokens, temperature, seed = self.limits
        try:
            replies = [texts[0] for texts in write_replies(model, self.tokenizer, self.prompts, max_prompt_tokens,
                                                           max_new_tokens, temperature, seed, samples=1)]
        finally:
            model.train(was_training)
        rewards = self.scorer.score(list(zip(self.prompts, replies)))
        self.writer.write("samples", step=step, rows=[{"prompt": p, "reply": r, "reward": w}
                                                       for p, r, w in zip(self.prompts, replies, rewards)])

    def on_step_end(self, args, state, control, **kwargs):
        last = state.max_steps and state.global_step >= state.max_steps
        if self.every and self.prompts and (state.global_step % self.every == 0 or last):
            self.write(state.global_step)
        return control

