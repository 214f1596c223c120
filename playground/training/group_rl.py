"""RLOO and GRPO against a trained reward model, with TRL's RLOOTrainer and GRPOTrainer, read top to
bottom: the prompts, the policy (a LoRA on the base by default; the reference is the base with the
adapter disabled), replies to held-out prompts before, train, replies after, save.

The reward model is given to TRL as a function that scores text with `RewardModel.score`, so it
reads a reply exactly as it was trained to (the same chat formatting), whatever its tokenizer."""

from __future__ import annotations

from playground.kinds import Outcome, RunContext
from playground.runs import is_main_process
from playground.training.callbacks import RunEvents
from playground.training.loop import train_and_measure
from playground.training.policy_eval import comparison, held_out_kl, held_out_rewards, policy_record, save_policy, write_replies
from playground.training.policy_samples import SampleTable
from playground.training.preference_data import prompt_split, uses_chat
from playground.training.preference_recipes import GroupRecipe


def _text(value) -> str:
    """A prompt or completion as TRL passes it: text, or a list of messages (the last one's content)."""
    return value[-1]["content"] if isinstance(value, list) else str(value)


def reward_function(scorer):
    """TRL's reward_funcs entry: the reward model's score of each (prompt, completion)."""

    def reward_model_score(prompts, completions, **_) -> list[float]:
        return scorer.score([(_text(p), _text(c)) for p, c in zip(prompts, completions)])

    return reward_model_score


def group_config(recipe: GroupRecipe, run_dir, n_prompts: int):
    """Its TRL config: each prompt is trained on as `num_generations` replies."""
    from playground.training.trainer_args import config_args

    return recipe.trainer_config_type()(**config_args(
        recipe, run_dir, n_prompts * recipe.num_generations, evaluate=False, beta=recipe.beta,
        num_generations=recipe.num_generations, max_completion_length=recipe.response_length,
        temperature=recipe.temperature))


def train_group(recipe: GroupRecipe, source: str, ctx: RunContext) -> Outcome:
    import datasets
    import trl
    from transformers import AutoModelForCausalLM, AutoTokenizer, set_seed

    from playground.training.preference_checks import reward_model_folder
    from playground.training.reward import RewardModel
    from playground.training.sft import count_params
    from playground.training.trainer_args import training_dtype

    writer = ctx.writer
    split = prompt_split(recipe, ctx.settings, writer)
    tokenizer = AutoTokenizer.from_pretrained(source)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    writer.write("status", message="Loading the policy and the reward model")
    set_seed(recipe.seed)
    scorer = RewardModel(reward_model_folder(ctx.settings, recipe.reward_model), ctx.settings)
    policy = AutoModelForCausalLM.from_pretrained(source, use_safetensors=True, dtype=training_dtype())
    held_prompts = [r["prompt"] for r in split.held_out]

    writer.write("status", message="Writing and scoring replies to the held-out prompts before training")
    limit = max(8, recipe.max_length - recipe.response_length)
    replies_of = lambda model: write_replies(model, tokenizer, held_prompts, limit, recipe.response_length,  # noqa: E731
                                             recipe.temperature, recipe.seed)
    before_replies = replies_of(policy)
    before = held_out_rewards(scorer, held_prompts, before_replies)

    chat = uses_chat(tokenizer)
    train_set = datasets.Dataset.from_list([{"prompt": [{"role": "user", "content": r["prompt"]}] if chat else r["prompt"]}
                                            for r in split.train])
    config = group_config(recipe, ctx.run_dir, len(train_set))
    events = RunEvents(ctx.run_dir, writer, ctx.stop)
    samples = SampleTable(writer, lambda: trainer.model, tokenizer, scorer, held_prompts, recipe.sample_every, limit,
                          recipe.response_length, recipe.temperature, recipe.seed)
    trainer_class = getattr(trl, recipe.trainer_config_class.replace("Config", "Trainer"))
    trainer = trainer_class(model=policy, reward_funcs=reward_function(scorer), args=config, train_dataset=train_set,
                            processing_class=tokenizer, peft_config=recipe.lora_config(), callbacks=[events, samples])
    trainable, total = count_params(trainer.model)
    writer.write("params", trainable=trainable, total=total)
    metrics, status = train_and_measure(trainer, events, recipe.num_processes, {}, measure=None)

    writer.write("status", message="Writing and scoring replies to the held-out prompts after training")
    after_replies = replies_of(trainer.model)
    after = held_out_rewards(scorer, held_prompts, after_replies)
    last_kl = next((e["kl"] for e in reversed(trainer.state.log_history) if "kl" in e), 0.0)  # per token
    reference = None if hasattr(trainer.model, "disable_adapter") else (
        getattr(trainer, "ref_model", None) or AutoModelForCausalLM.from_pretrained(source, use_safetensors=True, dtype=training_dtype()))
    kl = held_out_kl(trainer.model, tokenizer, held_prompts, after_replies, limit, reference=reference)
    metrics.update(comparison(before, after), kl=kl, kl_train=last_kl)

    if is_main_process():
        save_policy(ctx, trainer.model, tokenizer, status, (held_prompts, before_replies, before, after_replies, after))
    record = policy_record(recipe, split, trainable, total)
    return Outcome(status, metrics, record, trainer.model)
