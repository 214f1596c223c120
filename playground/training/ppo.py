"""PPO against a trained reward model, with TRL 1.12's PPOTrainer, read top to bottom: the prompts,
the four models (policy, reference, reward, value), the rewards of held-out replies before, train,
the rewards after, save. The only file that imports trl.experimental.ppo (TRL removed PPO in 1.13).

The models: the policy is the base with a new LoRA (its reference is the same base with the adapter
disabled: no second copy), or an SFT adapter trained further (a frozen copy of it is the
reference), or the whole model (a frozen copy); the reward model is merged into a plain classifier,
as TRL reads its `score` head directly; the value model starts as a copy of the reward model.

Known traps of this trainer, each handled here:
- it adds the score at the first padding token after EOS, not at EOS (trl #3750): patched below;
- with pad == eos it masks every EOS as padding: a distinct pad token is added when needed;
- policy and reward model must share a tokenizer: checked before launch;
- a model that never writes EOS (a random tiny one) runs to response_length and gets
  missing_eos_penalty;
- it never checks `should_training_stop`: patched, so Stop ends the run between updates."""

from __future__ import annotations

import copy
import functools
import inspect
import math
import os
import sys
import textwrap

from playground.errors import PlaygroundError
from playground.kinds import Outcome, RunContext
from playground.runs import is_main_process
from playground.training.callbacks import RunEvents
from playground.training.loop import train_and_measure
from playground.training.policy_eval import comparison, held_out_kl, held_out_rewards, policy_record, prompt_ids, save_policy, write_replies
from playground.training.policy_samples import SampleTable
from playground.training.preference_data import prompt_split
from playground.training.preference_recipes import PPORecipe

REFERENCE_ADAPTER = "reference"
SHORT_PPO_ROUNDS = 10  # fewer rounds of updates than this: the launch note suggests more episodes
PAD_TOKEN = "<|pad|>"
INSTALL = "PPO needs trl 1.12.0, the last release with PPOTrainer (TRL removed it in 1.13): pip install trl==1.12.0"

# (a statement of TRL 1.12's PPOTrainer.train, the lines that replace it), applied to its source
# once; the lines keep the statement's indentation (a line's own leading spaces indent further).
PATCHES = [
    ("actual_end = torch.where(sequence_lengths_p1 < rewards.size(1), sequence_lengths_p1, sequence_lengths)",
     ["actual_end = sequence_lengths  # the score on the last token (EOS), not the pad after it (trl #3750)",
      "self.score_positions = (actual_end.tolist(), postprocessed_responses.tolist())"]),
    ('metrics["eps"] = eps',
     ['metrics["eps"] = eps', 'metrics["response_length"] = (sequence_lengths + 1).float().mean().item()']),
    ("self.control = self.callback_handler.on_step_end(args, self.state, self.control)",
     ["self.control = self.callback_handler.on_step_end(args, self.state, self.control)",
      "if self.control.should_training_stop:", "    break"]),
]


def _ppo_module():
    os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")  # we know; the import is kept to this file
    try:
        from trl.experimental import ppo
    except ImportError as err:
        raise PlaygroundError(INSTALL) from err
    return ppo


def ppo_config_class() -> type:
    return _ppo_module().PPOConfig


@functools.cache
def ppo_trainer_class() -> type:
    """TRL's PPOTrainer with PATCHES applied to its train loop (refused if the source differs)."""
    base = _ppo_module().PPOTrainer
    source = textwrap.dedent(inspect.getsource(base.train))
    for old, lines in PATCHES:
        if source.count(old) != 1:
            raise PlaygroundError(f"This TRL's PPOTrainer is not the one the playground patches: {INSTALL}")
        start = source.index(old)
        indent = source[source.rindex("\n", 0, start) + 1:start]
        source = source.replace(old, ("\n" + indent).join(lines))
    module = sys.modules[base.__module__]
    namespace = dict(vars(module))
    exec(compile(source, module.__file__, "exec"), namespace)  # TRL's own train loop, with PATCHES
    return type("PlaygroundPPOTrainer", (base,), {"train": namespace["train"], "__module__": __name__})


def ensure_distinct_pad(tokenizer) -> bool:
    """Give the tokenizer a pad token other than EOS (TRL's PPO masks every pad token, so a pad
    equal to EOS would hide the end of every reply). True when a token was added (resize models)."""
    if tokenizer.pad_token_id is not None and tokenizer.pad_token_id != tokenizer.eos_token_id:
        return False
    tokenizer.add_special_tokens({"pad_token": PAD_TOKEN})
    return True


def same_tokenizer(first, second) -> bool:
    return first.get_vocab() == second.get_vocab() and first.eos_token == second.eos_token


def load_policy(recipe: PPORecipe, source: str, ctx: RunContext, tokenizer, resize: bool):
    """(policy, reference model or None, peft_config or None, adapter names for TRL's config)."""
    from transformers import AutoModelForCausalLM

    from playground.training.preference_checks import generation_adapter
    from playground.training.trainer_args import training_dtype

    model = AutoModelForCausalLM.from_pretrained(source, use_safetensors=True, dtype=training_dtype())
    if resize:
        model.resize_token_embeddings(len(tokenizer))
    model.config.pad_token_id = tokenizer.pad_token_id
    if recipe.policy_adapter:
        from peft import PeftModel

        folder = str(generation_adapter(ctx.settings, recipe.policy_adapter, recipe.base_model))
        model = PeftModel.from_pretrained(model, folder, is_trainable=True)
        model.load_adapter(folder, adapter_name=REFERENCE_ADAPTER, is_trainable=False)
        model.set_adapter("default")
        return model, None, None, {"model_adapter_name": "default", "ref_adapter_name": REFERENCE_ADAPTER}
    if recipe.use_lora:
        return model, None, recipe.lora_config(), {}
    return model, copy.deepcopy(model), None, {}


def value_head_model(recipe: PPORecipe, reward_model):
    """The value model, a copy of the reward model (it starts from what the reward model knows, a
    common choice). With LoRA, its backbone trains through LoRA too and only its head fully: a
    fully trained value model (weights, gradients, two AdamW moments) would cost more memory than
    the LoRA policy saves."""
    value = copy.deepcopy(reward_model)
    if recipe.use_lora:
        from peft import get_peft_model

        from playground.training.recipes import lora_config

        prefix = value.base_model_prefix  # TRL reads the backbone by this name, then `score`
        backbone = get_peft_model(getattr(value, prefix), lora_config(recipe, None))  # a bare backbone: no task type
        setattr(value, prefix, backbone)
        for param in value.score.parameters():
            param.requires_grad = True
    return value


def load_reward(recipe: PPORecipe, ctx: RunContext, tokenizer, resize: bool):
    """(RewardModel for scoring text, the plain classifier TRL reads)."""
    from playground.training.preference_checks import reward_model_folder
    from playground.training.reward import RewardModel

    scorer = RewardModel(reward_model_folder(ctx.settings, recipe.reward_model), ctx.settings)
    classifier = scorer.model.merge_and_unload() if hasattr(scorer.model, "merge_and_unload") else scorer.model
    scorer.model = classifier
    if resize:
        classifier.resize_token_embeddings(len(tokenizer))
    classifier.config.pad_token_id = tokenizer.pad_token_id
    return scorer, classifier


def ppo_config(recipe: PPORecipe, run_dir, n_train: int, **adapter_names):
    from playground.training.trainer_args import config_args

    return ppo_config_class()(**config_args(
        recipe, run_dir, n_train, evaluate=False, without=("max_steps", "eval_steps"),
        kl_coef=recipe.kl_coef, cliprange=recipe.cliprange, response_length=recipe.response_length,
        num_ppo_epochs=recipe.num_ppo_epochs, num_mini_batches=recipe.num_mini_batches, temperature=recipe.temperature,
        missing_eos_penalty=recipe.missing_eos_penalty or None, stop_token="eos", num_sample_generations=0,
        total_episodes=recipe.total_episodes or None, local_rollout_forward_batch_size=recipe.per_device_train_batch_size,
        **adapter_names))


def ppo_plan(recipe: PPORecipe, n_prompts: int, world_size: int = 1) -> str:
    """A PPO run's length as TRL counts it, in a sentence: episodes (replies written and scored), in
    batches of replies, one round of updates each; with a hint when that is only a few rounds."""
    epochs = recipe.num_train_epochs
    episodes = recipe.total_episodes or int(epochs * n_prompts)
    batch = recipe.per_device_train_batch_size * recipe.gradient_accumulation_steps * world_size
    rounds = math.ceil(episodes / batch)
    source = "" if recipe.total_episodes else f" ({n_prompts:,} training prompts × {epochs:g} epoch{'s' * (epochs != 1)})"
    text = (f"PPO: {episodes:,} episodes{source}, in {rounds:,} batch{'es' * (rounds != 1)} of {batch} replies, each "
            f"learned from {recipe.num_ppo_epochs} time{'s' * (recipe.num_ppo_epochs != 1)}.")
    if rounds < SHORT_PPO_ROUNDS:
        text += (f" That is a short run: for {SHORT_PPO_ROUNDS * 5} rounds of updates, "
                 f"set Episodes to {SHORT_PPO_ROUNDS * 5 * batch:,}.")
    return text


def train_ppo(recipe: PPORecipe, source: str, ctx: RunContext) -> Outcome:
    import datasets
    from transformers import AutoTokenizer, set_seed

    from playground.training.sft import count_params

    writer = ctx.writer
    split = prompt_split(recipe, ctx.settings, writer)
    tokenizer = AutoTokenizer.from_pretrained(source, padding_side="left")
    resize = ensure_distinct_pad(tokenizer)
    if resize:
        writer.write("warning", message=f"The tokenizer's pad token was its end-of-sequence token: added {PAD_TOKEN}, "
                                        "so PPO does not mistake the end of each reply for padding.")

    writer.write("status", message="Loading the policy, its reference, the reward model and the value model")
    set_seed(recipe.seed)
    scorer, reward_model = load_reward(recipe, ctx, tokenizer, resize)
    policy, reference, peft_config, adapter_names = load_policy(recipe, source, ctx, tokenizer, resize)
    value_model = value_head_model(recipe, reward_model)
    held_prompts = [r["prompt"] for r in split.held_out]

    writer.write("status", message="Writing and scoring replies to the held-out prompts before training")
    limit = recipe.max_length - recipe.response_length
    replies_of = lambda model: write_replies(model, tokenizer, held_prompts, limit, recipe.response_length,  # noqa: E731
                                             recipe.temperature, recipe.seed)
    before_replies = replies_of(policy)
    before = held_out_rewards(scorer, held_prompts, before_replies)

    encode = lambda rows: datasets.Dataset.from_list(  # noqa: E731
        [{"input_ids": prompt_ids(tokenizer, r["prompt"], limit)} for r in rows])
    train_set = encode(split.train)
    config = ppo_config(recipe, ctx.run_dir, len(train_set), **adapter_names)
    events = RunEvents(ctx.run_dir, writer, ctx.stop)
    samples = SampleTable(writer, lambda: trainer.model.policy, tokenizer, scorer, held_prompts, recipe.sample_every, limit,
                          recipe.response_length, recipe.temperature, recipe.seed)
    trainer = ppo_trainer_class()(args=config, processing_class=tokenizer, model=policy, ref_model=reference,
                                  reward_model=reward_model, value_model=value_model, train_dataset=train_set,
                                  eval_dataset=encode(split.held_out), peft_config=peft_config, callbacks=[events, samples])
    trainable, total = count_params(trainer.model.policy)
    writer.write("params", trainable=trainable, total=total)
    metrics, status = train_and_measure(trainer, events, recipe.num_processes, {}, measure=None)

    trained = trainer.model.policy
    writer.write("status", message="Writing and scoring replies to the held-out prompts after training")
    after_replies = replies_of(trained)
    after = held_out_rewards(scorer, held_prompts, after_replies)
    last_log = next((e for e in reversed(trainer.state.log_history) if "objective/kl" in e), {})
    kl = held_out_kl(trained, tokenizer, held_prompts, after_replies, limit, reference=reference,
                     reference_adapter=REFERENCE_ADAPTER if adapter_names else None)
    metrics.update(comparison(before, after), kl=kl, kl_train=last_log.get("objective/kl", 0.0))

    if is_main_process():  # with an SFT adapter, not its frozen reference copy
        save_policy(ctx, trained, tokenizer, status, (held_prompts, before_replies, before, after_replies, after),
                    ["default"] if adapter_names else None)
    record = policy_record(recipe, split, trainable, total)
    return Outcome(status, metrics, record, trained)
