"""RLHF tab: learn from the preference labels collected in the Rate tab (or a preference file): a
reward model that scores replies; DPO and KTO, which train the language model on the labels
directly; PPO, RLOO and GRPO against the reward model. All are background runs, watched here and
in the Fine-tune tab's runs table."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from pathlib import Path

import gradio as gr
import pandas as pd

from pages.common import (
    BASE_ONLY,
    AppContext,
    adapter_choices,
    admin_only,
    also_as_toast,
    field_labels,
    guarded,
    in_form_words,
    made_from_model,
    progress_html,
    rate_limited,
    resume_run,
    settled_status,
    stop_run,
    uploaded_path,
    visitor_of,
)
from pages.polling import ChangesOnly
from playground import adapters as adapter_store
from playground import plots
from playground.data import MAX_ROWS
from playground.errors import PlaygroundError
from playground.jobs import JobManager
from playground.training.policy_eval import HELD_OUT_SAMPLES, reward_kl_points
from playground.training.preference_data import LABELS, describe_prompts, describe_split, load_pairs
from playground.training.preference_recipes import DPORecipe, GRPORecipe, KTORecipe, PPORecipe, PreferenceRecipe, RewardRecipe, RLOORecipe
from playground.training.reward import RewardModel, held_out_scores
from playground.training.scorers import load_scorer, rescore

EXPLAINER = """
**Reinforcement learning from human feedback (RLHF)** adapts a model to what people prefer. It starts
from **preference pairs**: a prompt with a *chosen* and a *rejected* reply (the Rate tab collects them).
A **reward model** learns from the pairs to give any reply a number, higher for replies people would
prefer; it is the language model with a one-number *scalar head* on its last token, trained so the
chosen reply scores above the rejected one. The policy (the model that writes) can then be trained to
earn more reward, held near its starting point by a **KL penalty** (how far its word probabilities
drift from a frozen *reference*): without it, it learns to exploit the reward model's blind spots
(*reward hacking*). **DPO** (Direct Preference Optimization) reaches the same goal without a reward
model: it raises the chosen reply's probability over the rejected one's, relative to the reference,
with **beta** setting how far it may move; **KTO** does the same from single replies marked good or bad.
Every run keeps some pairs **held out**, to show what was learned on pairs it never saw.
"""
DATA_CHOICES = {"Labels from the Rate tab": LABELS, "A preference file (upload)": "file", "A Hub data set": "hub"}
HUB_EXAMPLE = "trl-lib/ultrafeedback_binarized"
RLHF_KINDS = ("reward", "dpo", "kto", "ppo", "grpo", "rloo")
POLICY_KINDS = ("ppo", "grpo", "rloo")  # trained against a reward model: replies before and after
GROUP_METHODS = {"GRPO": GRPORecipe, "RLOO": RLOORecipe}
DIRECT_METHODS = {"DPO": DPORecipe, "KTO": KTORecipe}
SAMPLE_COLUMNS = ["prompt", "before", "reward before", "after", "reward after"]
TRAIN_SAMPLE_COLUMNS = ["step", "prompt", "reply", "reward"]


@dataclass
class PreferenceForm:
    """The tab's shared settings, by recipe key."""

    model: str
    data_choice: str
    data_file: object
    hub_id: str
    hub_split: str
    shared: dict

    def data(self) -> str:
        source = DATA_CHOICES.get(self.data_choice)
        if source == LABELS:
            return LABELS
        if source == "hub":
            if not (self.hub_id or "").strip():
                raise PlaygroundError(f"Type a Hub data set id of preference pairs, e.g. {HUB_EXAMPLE}.")
            return self.hub_id.strip()
        path = uploaded_path(self.data_file)
        if not path:
            raise PlaygroundError("Upload a preference file (JSONL: prompt/chosen/rejected, or HH-RLHF), "
                                  "or choose the Rate tab's labels.")
        return path

    def recipe(self, cls: type[PreferenceRecipe], own: dict) -> PreferenceRecipe:
        values = {k: v for k, v in (self.shared | own).items() if v is not None and v != ""}
        split = (self.hub_split or "").strip() or "train"
        return cls.from_dict({"method": cls.method, "base_model": self.model, "data": self.data(), "data_split": split,
                              **values})



def sample_rows(events: list[dict]) -> list[list]:
    """A policy run's "samples" events (playground.training.policy_samples) as table rows
    [step, prompt, reply, reward], the latest step first."""
    rows = []
    for event in reversed([e for e in events if e.get("type") == "samples"]):
        rows += [[event["step"], r["prompt"], r["reply"], round(r["reward"], 3)] for r in event["rows"]]
    return rows

def launch(jobs: JobManager, kind: str, recipe: PreferenceRecipe, created_by: str = "") -> tuple[dict, str]:
    run = jobs.submit(kind, recipe, created_by=created_by)
    where = "started" if run["status"] == "running" else "queued (one run at a time)"
    notes = "".join(f"\n\nℹ️ {note}" for note in run["notes"])
    title = "Reward model" if kind == "reward" else kind.upper()
    return run, f"✅ {title} run **{run['name']}** {where}.{notes}"


def trained_model_note(models, ref: str) -> str:
    """Which model the methods train, and, before any click, when they can't train it."""
    try:
        encoder_decoder = bool(ref) and models.is_encoder_decoder(ref)
    except PlaygroundError:  # (not loadable now: a launch says why)
        encoder_decoder = False
    if encoder_decoder:
        return (f"⚠️ The model chosen at the top of the page, **{ref}**, is an encoder-decoder model (T5-style): the "
                "methods here train decoder-only models (SmolLM2, Qwen2.5, Llama). Pick one of those to train here; "
                "Fine-tune, the labs and Evaluate take this one.")
    return "The model trained is the one chosen at the top of the page."


def launched_note(run: dict) -> str:
    """Under the button that launched a run (its refusals show there too); the run's own status is under Runs."""
    return f"✅ **{run['name']}** launched: follow it under **Runs** below."


def change_text(m: dict) -> str:
    """Mean before → after with 95% intervals, the paired change, and whether it is more than noise."""
    span = lambda key: f"{m[key]:+.3f} [{m[key + '_low']:+.3f}, {m[key + '_high']:+.3f}]"  # noqa: E731
    real = m.get("reward_change_real", True)  # (runs recorded before the permutation test: the interval alone)
    verdict = ("a real rise" if real and m["reward_change_low"] > 0 else "a real fall" if real and m["reward_change_high"] < 0
               else "not distinguishable from noise")
    return f"before {span('reward_before')} → after {span('reward_after')}; change **{span('reward_change')}**, {verdict}"


def before_after(run: dict) -> tuple[str, pd.DataFrame | None]:
    """A finished policy run's held-out comparison: mean reward before and after with 95% intervals,
    the same by every other scorer it was judged with, and the replies."""
    from playground.training.policy_eval import SAMPLES_FILE

    m = run.get("metrics") or {}
    if run.get("kind") not in POLICY_KINDS or "reward_after" not in m:
        return "", None
    text = (f"**Held-out prompts, mean reward** ({HELD_OUT_SAMPLES} sampled replies each; 95% bootstrap intervals): "
            f"{change_text(m)}. KL to the reference, on the held-out replies after training: **{m.get('kl', 0):.2f}** "
            "nats per reply. Reward bought with ever more KL is the sign of reward hacking: read the replies below, "
            "and compare runs in the reward-vs-KL chart.")
    for name, other in (m.get("scored_by") or {}).items():
        text += f"\n\n**Also scored by {name}**: {change_text(other)}."
    path = Path(run.get("output_dir") or "") / SAMPLES_FILE
    if not run.get("output_dir") or not path.exists():
        return text, None
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return text, pd.DataFrame([[r["prompt"], r["before"], round(r["reward_before"], 3), r["after"], round(r["reward_after"], 3)]
                               for r in rows], columns=SAMPLE_COLUMNS)


def rlhf_runs(jobs: JobManager) -> list[dict]:
    return [r for r in jobs.store.runs() if r["kind"] in RLHF_KINDS]


def reward_model_names(settings, models=None, model: str | None = None) -> list[str]:
    """The reward models trained here; with `model`, only those made from it (PPO reads the policy's
    tokens with the reward model's own embeddings: another base's can't score them)."""
    items = adapter_store.reward_models(adapter_store.list_adapters(settings.adapters_dir))
    return [a["name"] for a in (items if model is None else made_from_model(models, model, items))]


def reward_model_summary(settings, name: str):
    """(markdown, histogram) of a reward model: how well it ranks held-out pairs."""
    folder = settings.adapters_dir / name
    record = adapter_store.read_record(folder)
    scores = held_out_scores(folder)
    if not scores:
        return f"**{name}** has no held-out scores.", plots.message_figure("No held-out pairs recorded")
    right = sum(r["chosen_reward"] > r["rejected_reward"] for r in scores)
    metrics = record.get("metrics", {})
    before = metrics.get("eval_accuracy_before")
    text = (f"**{name}** (on `{record.get('base_model', '?')}`, {record.get('pairs', '')}) ranks the chosen reply first "
            f"in **{right} of {len(scores)}** held-out pairs ({right / len(scores):.0%})"
            + (f"; before training, {before:.0%} (chance is 50%)." if isinstance(before, (int, float)) else "."))
    figure = plots.reward_histogram_figure([r["chosen_reward"] for r in scores], [r["rejected_reward"] for r in scores],
                                           f"{name}: rewards of held-out replies")
    return text, figure


_scorers: dict[str, RewardModel] = {}
_scorers_lock = threading.Lock()


def score_reply(settings, name: str, prompt: str, reply: str) -> float:
    """The reward `name` gives `reply` to `prompt` (the last reward model used stays loaded)."""
    if not name:
        raise PlaygroundError("Choose a reward model first (train one above).")
    if not (reply or "").strip():
        raise PlaygroundError("Write a reply to score.")
    folder = settings.adapters_dir / name
    with _scorers_lock:
        scorer = _scorers.get(str(folder))
        if scorer is None:
            scorer = RewardModel(folder, settings)
            _scorers.clear()
            _scorers[str(folder)] = scorer
        return scorer.score([(prompt or "", reply)])[0]


def build(ctx: AppContext) -> None:
    jobs: JobManager = ctx.jobs
    settings = ctx.models.settings
    with gr.Tab("RLHF", id="rlhf", elem_id="tab-rlhf"):
        gr.Markdown(EXPLAINER)
        model_note = gr.Markdown(trained_model_note(ctx.models, ctx.start_model), elem_id="rl-model-note")
        with gr.Accordion("1 · Preference pairs", open=True, elem_id="rl-data-acc"):
            with gr.Row():
                data_choice = gr.Radio(list(DATA_CHOICES), value="Labels from the Rate tab", label="Pairs from",
                                       elem_id="rl-data-choice", info="Ties and 'both bad' votes give no pair (KTO learns from 'both bad' too).")
                data_file = gr.File(label="Preference file", file_types=[".jsonl", ".gz"], elem_id="rl-data-file",
                                    visible=False)
                with gr.Column(visible=False, elem_id="rl-hub-col") as hub_column:
                    hub_id = gr.Textbox("", label="Hub data set id", placeholder=f"e.g. {HUB_EXAMPLE}", elem_id="rl-hub-id",
                                        info="Pairs as TRL writes them (prompt/chosen/rejected, or chosen/rejected "
                                             f"conversations) or HH-RLHF's; the first {MAX_ROWS:,} rows are read.")
                    hub_split = gr.Textbox("train", label="Split", elem_id="rl-hub-split")
            with gr.Row():
                val_fraction = gr.Slider(0.05, 0.45, value=0.2, step=0.05, label="Held-out share", elem_id="rl-val",
                                         info="Pairs kept out of training, to measure what was learned.")
                split_seed = gr.Number(0, label="Split seed", precision=0, elem_id="rl-split-seed")
                count_btn = gr.Button("Count pairs", elem_id="rl-count")
            count_status = gr.Markdown("", elem_id="rl-count-status")
        with gr.Accordion("2 · Training settings (every method)", open=False, elem_id="rl-settings-acc"):
            with gr.Row():
                use_lora = gr.Checkbox(True, label="LoRA", elem_id="rl-lora",
                                       info="Train small low-rank matrices instead of every weight (less memory).")
                lora_r = gr.Slider(1, 128, value=16, step=1, label="LoRA rank", elem_id="rl-lora-r")
                epochs = gr.Number(1, label="Epochs", elem_id="rl-epochs")
                batch_size = gr.Slider(1, 64, value=4, step=1, label="Batch size (pairs)", elem_id="rl-batch")
                max_length = gr.Slider(16, 4096, value=512, step=16, label="Max length (tokens)", elem_id="rl-max-len",
                                       info="Longer prompt + reply texts are cut from the start.")
                seed = gr.Number(42, label="Seed", precision=0, elem_id="rl-seed")
        with gr.Row(equal_height=False):
            with gr.Column():
                gr.Markdown("### Reward model\n" + RewardRecipe.about)
                reward_lr = gr.Number(RewardRecipe.learning_rate, label="Learning rate", elem_id="rl-reward-lr")
                reward_name = gr.Textbox("", label="Output name", placeholder="(automatic)", elem_id="rl-reward-name")
                reward_btn = gr.Button("Train reward model", variant="primary", elem_id="rl-train-reward")
                reward_note = gr.Markdown("", elem_id="rl-reward-note")
            with gr.Column():
                gr.Markdown("### DPO or KTO (no reward model)")
                direct_method = gr.Radio(list(DIRECT_METHODS), value="DPO", label="Method", elem_id="rl-direct-method")
                direct_about = gr.Markdown(DPORecipe.about, elem_id="rl-direct-about")
                dpo_lr = gr.Number(DPORecipe.learning_rate, label="Learning rate", elem_id="rl-dpo-lr")
                with gr.Row():
                    beta = gr.Slider(0.01, 1.0, value=0.1, step=0.01, label="beta", elem_id="rl-beta",
                                     info="Lower lets the model move further from the reference.")
                    loss_type = gr.Dropdown(["sigmoid", "ipo", "hinge"], value="sigmoid", label="Loss", elem_id="rl-loss",
                                            info="sigmoid: DPO; ipo: IPO (less overfitting); hinge: SLiC.")
                    desirable_weight = gr.Slider(0.1, 5.0, value=1.0, step=0.1, label="Good-reply weight", visible=False,
                                                 elem_id="rl-desirable-weight",
                                                 info="Raise it when good replies are rarer than bad ones.")
                start_adapter = gr.Dropdown(adapter_choices(ctx), value=BASE_ONLY, label="Start from",
                                            elem_id="rl-start-adapter",
                                            info="An SFT adapter: it also becomes the frozen reference.")
                dpo_name = gr.Textbox("", label="Output name", placeholder="(automatic)", elem_id="rl-dpo-name")
                dpo_btn = gr.Button("Train with DPO", variant="primary", elem_id="rl-train-dpo")
                direct_note = gr.Markdown("", elem_id="rl-direct-note")
        with gr.Accordion("PPO against a reward model", open=True, elem_id="rl-ppo-acc"):
            gr.Markdown(PPORecipe.about)
            with gr.Row():
                ppo_reward = gr.Dropdown(reward_model_names(settings, ctx.models, ctx.start_model), label="Reward model",
                                         elem_id="rl-ppo-reward",
                                         info="Trained above, on the same base model (PPO reads its tokens directly).")
                ppo_start = gr.Dropdown(adapter_choices(ctx), value=BASE_ONLY, label="Start from", elem_id="rl-ppo-start",
                                        info="Usually your SFT adapter; a frozen copy of it is the reference.")
                ppo_lr = gr.Number(PPORecipe.learning_rate, label="Learning rate", elem_id="rl-ppo-lr")
            with gr.Row():
                kl_coef = gr.Slider(0.0, 0.5, value=0.05, step=0.01, label="KL coefficient", elem_id="rl-kl",
                                    info="Cost of drifting from the reference: higher keeps replies closer to it.")
                response_length = gr.Slider(4, 512, value=64, step=4, label="Reply length (tokens)", elem_id="rl-resp-len",
                                            info="Replies that hit it without ending lose the missing-EOS penalty.")
                episodes = gr.Number(0, label="Episodes", precision=0, elem_id="rl-episodes",
                                     info="Replies written and scored in all, a round of updates per batch of them (0: epochs × prompts).")
                ppo_epochs = gr.Slider(1, 8, value=4, step=1, label="PPO epochs", elem_id="rl-ppo-epochs",
                                       info="Passes over each batch of replies.")
                temperature = gr.Slider(0.1, 1.5, value=0.7, step=0.05, label="Temperature", elem_id="rl-ppo-temp")
            with gr.Row():
                ppo_every = gr.Number(10, label="Samples every (steps)", precision=0, elem_id="rl-ppo-every",
                                      info="A reply to a few held-out prompts, with its reward, while it trains (0: never).")
                ppo_name = gr.Textbox("", label="Output name", placeholder="(automatic)", elem_id="rl-ppo-name")
                ppo_btn = gr.Button("Train with PPO", variant="primary", elem_id="rl-train-ppo")
            ppo_note = gr.Markdown("", elem_id="rl-ppo-note")
        with gr.Accordion("RLOO and GRPO against a reward model (no value model)", open=False, elem_id="rl-group-acc"):
            group_about = gr.Markdown(GRPORecipe.about, elem_id="rl-group-about")
            with gr.Row():
                group_method = gr.Radio(list(GROUP_METHODS), value="GRPO", label="Method", elem_id="rl-group-method")
                group_reward = gr.Dropdown(reward_model_names(settings), label="Reward model", elem_id="rl-group-reward")
                group_lr = gr.Number(GRPORecipe.learning_rate, label="Learning rate", elem_id="rl-group-lr",
                                     info="The policy is the model at the top of the page (merge an SFT adapter to start from it).")
            with gr.Row():
                group_beta = gr.Slider(0.0, 0.5, value=GRPORecipe.beta, step=0.01, label="beta (KL weight)",
                                       elem_id="rl-group-beta", info="TRL's GRPO defaults to 0, no KL penalty; set here.")
                generations = gr.Slider(2, 16, value=4, step=1, label="Replies per prompt", elem_id="rl-generations",
                                        info="Each reply is scored against the others of its prompt.")
                group_steps = gr.Number(60, label="Steps", precision=0, elem_id="rl-group-steps")
                group_length = gr.Slider(4, 512, value=64, step=4, label="Reply length (tokens)", elem_id="rl-group-len")
            with gr.Row():
                group_every = gr.Number(10, label="Samples every (steps)", precision=0, elem_id="rl-group-every",
                                        info="A reply to a few held-out prompts, with its reward, while it trains (0: never).")
                group_name = gr.Textbox("", label="Output name", placeholder="(automatic)", elem_id="rl-group-name")
                group_btn = gr.Button("Train with GRPO", variant="primary", elem_id="rl-train-group")
            group_note = gr.Markdown("", elem_id="rl-group-note")
        status = gr.Markdown("", elem_id="rl-status")

        gr.Markdown("### Runs")
        with gr.Row():
            run_picker = gr.Dropdown([], label="Run", elem_id="rl-run-picker", scale=3)
            stop_btn = gr.Button("Stop run", variant="stop", elem_id="rl-stop", scale=1)
            resume_btn = gr.Button("Resume run", elem_id="rl-resume", scale=1)
        gr.Markdown("Reward model, DPO and KTO runs save a checkpoint every few minutes and when stopped; **Resume** "
                    "continues a stopped or failed one from it. PPO, RLOO and GRPO runs start again instead.")
        run_progress = gr.HTML("", elem_id="rl-progress")
        run_error = gr.Markdown("", elem_id="rl-run-error")
        run_chart = gr.Plot(label="Training curves", elem_id="rl-chart")
        train_samples = gr.Dataframe(headers=TRAIN_SAMPLE_COLUMNS, interactive=False, wrap=True, visible=False, max_height=360,
                                     label="While training: a reply to a few held-out prompts every N steps, with its "
                                           "reward (latest first). Watch for reward rising on ever stranger text.",
                                     elem_id="rl-train-samples")
        ppo_summary = gr.Markdown("", elem_id="rl-ppo-summary")
        ppo_samples = gr.Dataframe(headers=SAMPLE_COLUMNS, interactive=False, wrap=True, visible=False,
                                   column_widths=["22%", "29%", "10%", "29%", "10%"],
                                   label=f"Held-out prompts: one sampled reply before and one after training; each reward is "
                                         f"the mean over the prompt's {HELD_OUT_SAMPLES} sampled replies, so the same text "
                                         "can show two rewards",
                                   elem_id="rl-ppo-samples")
        with gr.Accordion("Judge the same replies with another scorer", open=False, elem_id="rl-rescore-acc"):
            gr.Markdown("A policy can learn to please its own reward model without getting better. Score the run's "
                        "held-out replies, before and after, with another judge: another reward model trained here, or "
                        "a text classifier from the Hub (when online), e.g. a toxicity model, read as the probability of "
                        "one of its labels. The result is kept with the run.")
            with gr.Row():
                other_scorer = gr.Dropdown(reward_model_names(settings), value=None, allow_custom_value=True,
                                           label="Scorer", elem_id="rl-other-scorer",
                                           info="A reward model, or a classifier's Hub id (e.g. s-nlp/roberta_toxicity_classifier).")
                other_label = gr.Textbox("", label="Classifier label", placeholder="e.g. toxic", elem_id="rl-other-label",
                                         info="For a classifier: the label whose probability is the score.")
                rescore_btn = gr.Button("Score before and after", elem_id="rl-rescore")
            rescore_status = gr.Markdown("", elem_id="rl-rescore-status")
        events_state = gr.State({"run": None, "offset": 0, "events": []})
        timer = gr.Timer(2.0)
        gr.Markdown("### Reward vs KL over all your runs\nEach finished PPO, RLOO or GRPO run is a point: how far its "
                    "policy moved from the reference (KL, measured the same way for every method on its held-out "
                    "replies) against how much held-out reward it gained. Healthy runs gain reward for little KL; "
                    "**over-optimization** (reward hacking) shows as reward bought with ever more KL: the policy "
                    "exploits the reward model instead of getting better. Read such a run's replies above.")
        reward_kl_plot = gr.Plot(label="Reward vs KL", elem_id="rl-reward-kl")

        gr.Markdown("### Reward models\nHow a trained reward model separates held-out pairs, and what it thinks of any reply.")
        with gr.Row():
            reward_picker = gr.Dropdown(reward_model_names(settings), label="Reward model", elem_id="rl-reward-picker")
        reward_summary = gr.Markdown("", elem_id="rl-reward-summary")
        reward_plot = gr.Plot(label="Held-out rewards", elem_id="rl-reward-hist")
        with gr.Row():
            score_prompt = gr.Textbox("", label="Prompt", lines=2, elem_id="rl-score-prompt")
            score_text = gr.Textbox("", label="Reply", lines=2, elem_id="rl-score-reply")
            score_btn = gr.Button("Score this reply", elem_id="rl-score")
        score_out = gr.Markdown("", elem_id="rl-score-out")

        # ---- handlers ----
        shared = {"val_fraction": val_fraction, "split_seed": split_seed, "use_lora": use_lora, "lora_r": lora_r,
                  "num_train_epochs": epochs, "per_device_train_batch_size": batch_size, "max_length": max_length,
                  "seed": seed}
        form = [ctx.model_picker, data_choice, data_file, hub_id, hub_split, *shared.values()]

        form_words = in_form_words(field_labels({
            **shared, "data_split": hub_split, "kl_coef": kl_coef, "response_length": response_length,
            "total_episodes": episodes, "num_ppo_epochs": ppo_epochs, "num_generations": generations,
            "max_steps": group_steps, "sample_every": ppo_every, "loss_type": loss_type, "desirable_weight": desirable_weight,
            "learning_rate": ppo_lr, "policy_adapter": ppo_start, "reward_model": ppo_reward, "output_name": ppo_name}))

        launch_notes = [reward_note, direct_note, ppo_note, group_note]
        ctx.model_picker.change(lambda ref: trained_model_note(ctx.models, ref), [ctx.model_picker], [model_note],
                                api_name=False, show_progress="hidden")

        def launched(note, run: dict, message: str) -> dict:
            """A launch's outputs: the message under Runs, the note under its button (others cleared: an
            earlier refusal under another button is over)."""
            return {status: message, **dict.fromkeys(launch_notes, ""), note: launched_note(run),
                    run_picker: gr.update(choices=_choices(jobs), value=run["id"])}

        def form_of(values) -> PreferenceForm:
            model, choice, file, hub, split, *rest = values
            return PreferenceForm(model, choice, file, hub, split, dict(zip(shared, rest)))

        def show_source(choice):
            source = DATA_CHOICES.get(choice)
            return {data_file: gr.update(visible=source == "file"), hub_column: gr.update(visible=source == "hub")}

        @guarded(count_status)
        @rate_limited(ctx)
        @form_words
        def count(*values):
            """What each method would learn from: pairs, distinct prompts (PPO, RLOO and GRPO) and
            labeled replies (KTO); a line each, with what is missing where there is too little."""
            f = form_of(values)
            pairs_recipe = f.recipe(DPORecipe, {})
            pairs = load_pairs(pairs_recipe.data, settings, split=pairs_recipe.data_split)  # read once for both lines
            lines = ["✅ Pairs (reward model, DPO): " + describe_split(pairs_recipe, settings, pairs)]
            for what, describe in (("Distinct prompts (PPO, RLOO, GRPO)", lambda: describe_prompts(pairs_recipe, settings, pairs)),
                                   ("Labeled replies (KTO)", lambda: describe_split(f.recipe(KTORecipe, {}), settings))):
                try:
                    lines.append(f"✅ {what}: {describe()}")
                except PlaygroundError as err:
                    lines.append(f"⚠️ {what}: {err}")
            return {count_status: "\n\n".join(lines)}

        @also_as_toast(reward_note)
        @guarded(reward_note)
        @admin_only(ctx, "train")
        @form_words
        def train_reward(request: gr.Request, *values):
            *form_values, lr, name = values
            recipe = form_of(form_values).recipe(RewardRecipe, {"learning_rate": lr, "output_name": name})
            run, message = launch(jobs, "reward", recipe, visitor_of(ctx, request).label)
            return launched(reward_note, run, message)

        @also_as_toast(direct_note)
        @guarded(direct_note)
        @admin_only(ctx, "train")
        @form_words
        def train_direct(request: gr.Request, *values):
            *form_values, method, lr, beta_, loss, weight, start, name = values
            cls = DIRECT_METHODS[method]
            own = {"learning_rate": lr, "beta": beta_, "output_name": name,
                   "policy_adapter": "" if start in (None, BASE_ONLY) else start}
            own |= {"loss_type": loss} if cls is DPORecipe else {"desirable_weight": weight}
            run, message = launch(jobs, cls.method, form_of(form_values).recipe(cls, own), visitor_of(ctx, request).label)
            return launched(direct_note, run, message)

        @also_as_toast(ppo_note)
        @guarded(ppo_note)
        @admin_only(ctx, "train")
        @form_words
        def train_ppo(request: gr.Request, *values):
            *form_values, reward, start, lr, kl, length, n_episodes, n_epochs, temp, every, name = values
            own = {"reward_model": reward or "", "learning_rate": lr, "kl_coef": kl, "response_length": length,
                   "total_episodes": n_episodes, "num_ppo_epochs": n_epochs, "temperature": temp, "output_name": name,
                   "sample_every": every,
                   "policy_adapter": "" if start in (None, BASE_ONLY) else start}
            run, message = launch(jobs, "ppo", form_of(form_values).recipe(PPORecipe, own), visitor_of(ctx, request).label)
            return launched(ppo_note, run, message)

        @also_as_toast(group_note)
        @guarded(group_note)
        @admin_only(ctx, "train")
        @form_words
        def train_group(request: gr.Request, *values):
            *form_values, method, reward, lr, beta_, n_generations, steps, length, every, name = values
            cls = GROUP_METHODS[method]
            own = {"reward_model": reward or "", "learning_rate": lr, "beta": beta_, "num_generations": n_generations,
                   "sample_every": every,
                   "max_steps": int(steps) if steps and int(steps) > 0 else -1, "response_length": length,
                   "output_name": name}
            run, message = launch(jobs, cls.method, form_of(form_values).recipe(cls, own), visitor_of(ctx, request).label)
            return launched(group_note, run, message)

        def show_direct_method(method):
            cls = DIRECT_METHODS[method]
            return {direct_about: cls.about, loss_type: gr.update(visible=cls is DPORecipe),
                    desirable_weight: gr.update(visible=cls is KTORecipe), dpo_btn: f"Train with {method}"}

        def show_group_method(method):
            cls = GROUP_METHODS[method]
            info = ("TRL's GRPO defaults to 0, no KL penalty; set here." if cls is GRPORecipe
                    else "How strongly the policy is held to its reference.")
            return {group_about: cls.about, group_beta: gr.update(value=cls.beta, info=info), group_btn: f"Train with {method}"}

        def _poll(run_id, state, status_text, model, *picked_rewards):
            runs = rlhf_runs(jobs)
            out = {}
            if run_id is None and runs:
                run_id = runs[0]["id"]
                out[run_picker] = gr.update(choices=_choices(jobs, runs), value=run_id)
            elif runs:
                out[run_picker] = gr.update(choices=_choices(jobs, runs))
            points = reward_kl_points(runs)
            if state.get("kl_points") != points:  # drawn again only when a policy run has finished
                state = state | {"kl_points": points}
                out |= {reward_kl_plot: plots.reward_kl_figure(points), events_state: state}
            run = jobs.store.run(run_id) if run_id else None
            if run is None:
                return out | {run_progress: "", run_error: "", run_chart: None, ppo_summary: "",
                              ppo_samples: gr.update(visible=False), train_samples: gr.update(visible=False)}
            if state.get("run") != run_id:  # another run chosen: nothing of the previous one stays
                state = {"run": run_id, "offset": 0, "events": [], "kl_points": points}
                out |= {ppo_summary: "", ppo_samples: gr.update(value=None, visible=False),
                        train_samples: gr.update(value=None, visible=False)}
            new, offset = jobs.events(run_id, state["offset"])
            ended = run["status"] not in ("running", "queued")
            if ended and state.get("final") != run_id:  # the whole record, once, after the end (see finetune)
                watched_to_the_end = state.get("live", False)
                new, offset = jobs.events(run_id, 0)
                state = {"run": run_id, "offset": 0, "events": [], "final": run_id, "kl_points": points}
                text, samples = before_after(run)
                out |= {ppo_summary: text, ppo_samples: gr.update(value=samples, visible=samples is not None)}
                if run["kind"] == "reward" and run["status"] == "finished" and run["output_dir"]:
                    out |= offer_reward_model(Path(run["output_dir"]).name, model, picked_rewards, watched_to_the_end)
            state = state | {"offset": offset, "events": state["events"] + new, "live": not ended}
            stage = next((e["message"] for e in reversed(state["events"]) if e["type"] == "status"), "")
            out |= {events_state: state,
                    run_progress: progress_html(run, state["events"]) + (f"<div style='font-size:13px'>{stage}</div>"
                                                                          if run["status"] == "running" else ""),
                    run_error: f"⚠️ {run['error']}" if run["error"] else ""}
            if new or not state["events"]:
                out[run_chart] = plots.training_figure(state["events"], f"{run['name']} ({run['method']})",
                                                       plots.panels_for(run["kind"]))
            if any(e["type"] == "samples" for e in new):
                rows = sample_rows(state["events"])
                out[train_samples] = gr.update(value=pd.DataFrame(rows, columns=TRAIN_SAMPLE_COLUMNS), visible=True)
            if settled := settled_status(status_text, run):
                out[status] = settled
            return out

        reward_pickers = (ppo_reward, group_reward, reward_picker)

        def offer_reward_model(name: str, model: str, picked: tuple, replace: bool) -> dict:
            """A finished reward model in every reward picker's list, chosen where none was, or in all
            of them when it was watched while it trained (it is the one to use next); PPO's list keeps
            to the model picked."""
            names = reward_model_names(settings)
            if name not in names:  # deleted since
                return {}
            out = {}
            for picker, value in zip(reward_pickers, picked):
                offered = reward_model_names(settings, ctx.models, model) if picker is ppo_reward else names
                chosen = name if name in offered and (replace or not value) else value
                out[picker] = gr.update(choices=offered, value=chosen)
            return out

        @guarded(rescore_status)
        @admin_only(ctx, "rescore")
        def score_with_another(run_id, ref, label, progress=gr.Progress()):
            run = jobs.store.run(run_id) if run_id else None
            if run is None or run["kind"] not in POLICY_KINDS or run["status"] != "finished":
                raise PlaygroundError("Choose a finished PPO, RLOO or GRPO run above: its held-out replies are scored.")
            progress(0.1, desc="Loading the scorer")
            scorer = load_scorer(settings, ref or "", label or "")
            progress(0.4, desc="Scoring the replies before and after")
            result = rescore(jobs.store, run, scorer)
            text, _ = before_after(jobs.store.run(run_id))
            return {rescore_status: f"✅ Scored by **{scorer.name}**: {change_text(result)}.", ppo_summary: text}

        @guarded(status)
        @admin_only(ctx, "stop")
        def stop(run_id):
            return {status: stop_run(jobs, run_id)}

        @guarded(status)
        @admin_only(ctx, "resume")
        def resume(run_id):
            return {status: resume_run(jobs, run_id)}

        @guarded(reward_summary)
        def show_reward_model(name):
            if not name:
                return {reward_summary: "", reward_plot: None}
            text, figure = reward_model_summary(settings, name)
            return {reward_summary: text, reward_plot: figure}

        @guarded(score_out)
        @rate_limited(ctx)
        def score(name, prompt, reply):
            value = score_reply(settings, name, prompt, reply)
            return {score_out: f"Reward from **{name}**: **{value:+.3f}** (higher: more like the replies people chose)."}

        count_btn.click(count, form, [count_status], api_name="count_preference_pairs")
        data_choice.change(show_source, [data_choice], [data_file, hub_column], api_name=False)
        reward_btn.click(train_reward, [*form, reward_lr, reward_name], [status, *launch_notes, run_picker], api_name="train_reward_model",
                         concurrency_id="rl-poll")
        dpo_btn.click(train_direct, [*form, direct_method, dpo_lr, beta, loss_type, desirable_weight, start_adapter, dpo_name],
                      [status, *launch_notes, run_picker], api_name="train_dpo_kto", concurrency_id="rl-poll")
        direct_method.change(show_direct_method, [direct_method], [direct_about, loss_type, desirable_weight, dpo_btn],
                             api_name=False)
        ppo_btn.click(train_ppo, [*form, ppo_reward, ppo_start, ppo_lr, kl_coef, response_length, episodes, ppo_epochs,
                                  temperature, ppo_every, ppo_name], [status, *launch_notes, run_picker], api_name="train_ppo",
                      concurrency_id="rl-poll")
        group_btn.click(train_group, [*form, group_method, group_reward, group_lr, group_beta, generations, group_steps,
                                      group_length, group_every, group_name], [status, *launch_notes, run_picker], api_name="train_rloo_grpo",
                        concurrency_id="rl-poll")
        group_method.change(show_group_method, [group_method], [group_about, group_beta, group_btn], api_name=False)
        poll_outputs = [run_picker, events_state, run_progress, run_error, run_chart, ppo_summary, ppo_samples,
                        reward_kl_plot, train_samples, *reward_pickers, status]
        serial = dict(concurrency_id="rl-poll", concurrency_limit=1, show_progress="hidden", api_name=False)
        changes_only = ChangesOnly()

        def poll(run_id, state, status_text, model, ppo_pick, group_pick, score_pick, request: gr.Request):
            return changes_only(request, _poll(run_id, state, status_text, model, ppo_pick, group_pick, score_pick),
                                always=(status,))  # launches and Stop write it too

        poll_inputs = [run_picker, events_state, status, ctx.model_picker, *reward_pickers]
        timer.tick(poll, poll_inputs, poll_outputs, **serial)
        run_picker.change(poll, poll_inputs, poll_outputs, **serial)
        stop_btn.click(stop, [run_picker], [status], api_name="stop_rlhf_run")
        resume_btn.click(resume, [run_picker], [status], api_name="resume_rlhf_run")
        rescore_btn.click(score_with_another, [run_picker, other_scorer, other_label], [rescore_status, ppo_summary],
                          api_name="score_with_another")
        reward_picker.change(show_reward_model, [reward_picker], [reward_summary, reward_plot], api_name=False)
        reward_picker.focus(lambda: gr.update(choices=reward_model_names(settings)), None, reward_picker, api_name=False,
                            show_progress="hidden")
        for picker in (start_adapter, ppo_start):
            picker.focus(lambda model: gr.update(choices=adapter_choices(ctx, model)), [ctx.model_picker], picker, api_name=False,
                         show_progress="hidden")
        def ppo_rewards(model, current):
            names = reward_model_names(settings, ctx.models, model)
            return gr.update(choices=names, value=current if current in names else None)

        ppo_reward.focus(ppo_rewards, [ctx.model_picker, ppo_reward], ppo_reward, api_name=False, show_progress="hidden")
        ctx.model_picker.change(ppo_rewards, [ctx.model_picker, ppo_reward], ppo_reward, api_name=False,
                                show_progress="hidden")  # another base: its reward model can't score this one's tokens
        for picker in (group_reward, other_scorer):  # these score the reply's text: any base's reward model can
            picker.focus(lambda: gr.update(choices=reward_model_names(settings)), None, picker, api_name=False,
                         show_progress="hidden")
        score_btn.click(score, [reward_picker, score_prompt, score_text], [score_out], api_name="score_reply")


def _choices(jobs: JobManager, runs: list[dict] | None = None) -> list[tuple[str, str]]:
    return [(f"{r['name']} · {r['method']} ({r['status']})", r["id"]) for r in (runs if runs is not None else rlhf_runs(jobs))]
