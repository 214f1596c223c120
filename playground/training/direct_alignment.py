"""Direct alignment: DPO (TRL's DPOTrainer, from pairs) and KTO (TRL's KTOTrainer, from replies
labeled good or bad), read top to bottom: the rows, the policy, its frozen reference, train,
measure on the held-out rows, save. Neither needs a reward model.

The reference is what the policy was before training. With a fresh LoRA it is the base with the
adapter disabled (no second copy); started from an SFT adapter, TRL keeps a frozen copy of that
adapter as the reference, so the SFT model is its own reference; with full fine-tuning it is a
frozen copy of the model."""

from __future__ import annotations

from playground.kinds import Outcome, RunContext
from playground.preferences.formats import conversational_row
from playground.runs import is_main_process
from playground.training.callbacks import RunEvents
from playground.training.loop import starting_point, train_and_measure
from playground.training.preference_data import recipe_split, split_record, uses_chat
from playground.training.preference_recipes import DirectRecipe

POLICY_ADAPTER = "default"  # PEFT's name for the adapter that trains; TRL names the reference copy "ref"


def held_out_margins(metrics: dict, suffix: str = "") -> dict:
    """The held-out numbers under plain names: the policy's log-probability margin of chosen (KTO:
    good) over rejected (bad) replies, and the implicit-reward margin (0 before training, by
    definition) and, for DPO, its accuracy."""
    out = {}
    if "eval_logps/chosen" in metrics and "eval_logps/rejected" in metrics:
        out[f"logp_margin{suffix}"] = metrics["eval_logps/chosen"] - metrics["eval_logps/rejected"]
    for key, name in (("eval_rewards/margins", "eval_margin"), ("eval_rewards/accuracies", "eval_accuracy")):
        if key in metrics:
            out[f"{name}{suffix}"] = metrics[key]
    return out


def as_rows(rows: list[dict], chat: bool) -> list[dict]:
    """Rows in TRL's conversational form when the model has a chat template."""
    if not chat:
        return rows
    if rows and "completion" in rows[0]:
        return [{"prompt": [{"role": "user", "content": r["prompt"]}],
                 "completion": [{"role": "assistant", "content": r["completion"]}], "label": r["label"]} for r in rows]
    return [conversational_row(r) for r in rows]


def direct_config(recipe: DirectRecipe, run_dir, n_train: int):
    from playground.training.trainer_args import config_args

    return recipe.trainer_config_type()(**config_args(recipe, run_dir, n_train, evaluate=True,
                                                     max_length=recipe.max_length, beta=recipe.beta,
                                                     **recipe.method_args()))


def train_direct(recipe: DirectRecipe, source: str, ctx: RunContext) -> Outcome:
    import datasets
    import trl
    from transformers import AutoModelForCausalLM, set_seed

    from playground.training.preference_checks import generation_adapter
    from playground.training.reward import load_tokenizer
    from playground.training.sft import count_params
    from playground.training.trainer_args import training_dtype

    writer = ctx.writer
    split = recipe_split(recipe, ctx.settings, writer)
    tokenizer = load_tokenizer(source)
    as_dataset = lambda part: datasets.Dataset.from_list(as_rows(part, uses_chat(tokenizer)))  # noqa: E731

    writer.write("status", message="Loading the model")
    set_seed(recipe.seed)  # before the new adapter's random start: same seed, same run
    model = AutoModelForCausalLM.from_pretrained(source, use_safetensors=True, dtype=training_dtype())
    peft_config = recipe.lora_config()
    if recipe.policy_adapter:
        from peft import PeftModel

        folder = generation_adapter(ctx.settings, recipe.policy_adapter, recipe.base_model)
        model = PeftModel.from_pretrained(model, str(folder), is_trainable=True)
        peft_config = None  # TRL trains this adapter and keeps a frozen copy of it as the reference
    config = direct_config(recipe, ctx.run_dir, len(split.train))
    events = RunEvents(ctx.run_dir, writer, ctx.stop, recipe.checkpoint_minutes)
    trainer_class = getattr(trl, recipe.trainer_config_class.replace("Config", "Trainer"))
    trainer = trainer_class(model=model, args=config, train_dataset=as_dataset(split.train),
                            eval_dataset=as_dataset(split.held_out), processing_class=tokenizer, peft_config=peft_config,
                            callbacks=[events])
    trainable, total = count_params(trainer.model)
    writer.write("params", trainable=trainable, total=total)
    before = starting_point(writer, ctx.resume, ctx.carried, lambda: held_out_margins(trainer.evaluate(), "_before"),
                            "the held-out margin")
    metrics, status = train_and_measure(trainer, events, recipe.num_processes, before, held_out_margins,
                                        resume=ctx.resume, checkpoint_on_stop=True)

    if is_main_process():
        out = ctx.output_dir
        out.mkdir(parents=True, exist_ok=True)
        if hasattr(trainer.model, "peft_config"):
            trainer.model.save_pretrained(out, selected_adapters=[POLICY_ADAPTER])  # not the reference copy
        else:
            trainer.model.save_pretrained(out)
        tokenizer.save_pretrained(out)
        writer.write("saved", path=str(out), status=status)
    record = {"trainable_params": trainable, "total_params": total,
              "trainable_share": trainable / total if total else 0.0, **split_record(split)}
    return Outcome(status, metrics, record, trainer.model)
