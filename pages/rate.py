"""Rate tab: people compare two completions blind (sources revealed after the vote), and the
labels become a preference data set: agreement, position bias, a leaderboard of the sources,
export in TRL's formats and import of existing preference data."""

from __future__ import annotations

import random
import tempfile
import threading
import uuid
from collections import OrderedDict
from concurrent.futures import Future
from pathlib import Path

import gradio as gr
import pandas as pd

from pages.common import AppContext, admin_only, also_as_toast, guarded, rate_limited, uploaded_path, visitor_of
from playground import adapters as adapter_store
from playground import plots
from playground.errors import PlaygroundError
from playground.preferences import analysis, formats
from playground.preferences import labels as label_store
from playground.preferences.leaderboard import leaderboard
from playground.preferences.overlap import shared_task
from playground.preferences.pair_writer import PairWriter
from playground.preferences.tasks import BASE, BUILTIN_PROMPTS, PRESETS, Completion, Task, load_prompts, sources
from playground.store import Store

EXPLAINER = """
**Rating** turns people's judgments into data for alignment. You see a prompt and two completions,
**A** and **B**, written by two different *sources* (the base model, an adapter, or one model with other
decoding settings), in random order and without their names, so you judge the text, not the label
(as Chatbot Arena does). Pick the better one, a tie, or "both bad"; the sources are revealed after
your vote. Each vote is saved at once and survives restarts. The votes become **preference pairs**
(prompt, chosen, rejected) for a reward model or DPO, and a **leaderboard** of your sources.
Keys: **1** A is better · **2** B is better · **3** tie · **4** both bad · **s** skip · **u** undo.
"""
DEFAULT_GUIDELINES = ("Prefer the completion that answers the prompt helpfully, honestly and harmlessly. "
                      "Judge content over length. Use *tie* when both are equally good, *both bad* when neither is acceptable.")
CHOICE_WORDS = {"left": "A is better", "right": "B is better", "tie": "a tie", "both_bad": "both bad"}
SHORT_CHOICES = {"left": "A better", "right": "B better", "tie": "tie", "both_bad": "both bad"}  # as on the buttons
MODES = {"Compare two (A/B)": False, "Rate one (helpful, honest, harmless)": True}
LABEL_COLUMNS = ["id", "annotator", "choice", "prompt", "A (left)", "A source", "B (right)", "B source", "comment", "origin"]
_NEXT: OrderedDict[str, Future] = OrderedDict()  # session token -> the next task, written while this one is judged
_NEXT_LOCK = threading.Lock()
DEFAULT_OVERLAP = 0.2  # of each annotator's pairs, from colleagues' (agreement needs pairs labeled twice)
MAX_SESSIONS = 500  # prefetched tasks kept for this many sessions; a tab left open longest loses its own


def guidelines_path(settings) -> Path:
    return settings.home / "rating_guidelines.md"


def read_guidelines(settings) -> str:
    path = guidelines_path(settings)
    return path.read_text(encoding="utf-8") if path.exists() else DEFAULT_GUIDELINES


def save_guidelines(settings, text: str) -> str:
    text = (text or "").strip()
    if not text:
        raise PlaygroundError("The guidelines are empty: write what annotators should prefer.")
    path = guidelines_path(settings)
    partial = path.with_suffix(".partial")
    partial.write_text(text, encoding="utf-8")
    partial.replace(path)  # never half-written
    return text


def task_markdown(task: dict | None, guidelines: str) -> tuple[str, str, str]:
    if not task:
        return "", "", ""
    right = task["right"]["text"] if task.get("right") else ""
    return f"**Guidelines:** {guidelines}\n\n**Prompt**\n\n{task['prompt']}", task["left"]["text"], right


def reveal_text(task: dict, choice: str) -> str:
    return (f"✅ Saved: you chose **{CHOICE_WORDS[choice]}**. A was **{task['left']['source']}**, "
            f"B was **{task['right']['source']}**.")


def labels_frame(items: list) -> pd.DataFrame:
    return pd.DataFrame([[x.id, x.annotator, SHORT_CHOICES.get(x.choice, "rating"), x.prompt[:200], x.left_text[:200], x.left_source,
                          (x.right_text or "")[:200], x.right_source or "", x.comment, x.origin] for x in items],
                        columns=LABEL_COLUMNS)



def stats_markdown(summary: dict) -> str:
    lines = [f"**{summary['labels']:,} label{'' if summary['labels'] == 1 else 's'}** · by choice: " +
             (", ".join(f"{SHORT_CHOICES.get(k, k)} {v}" for k, v in summary["by_choice"].items()) or "none")]
    a = summary["agreement"]
    if a["pairs_labeled_more_than_once"]:
        kappa = "n/a" if a["cohen_kappa"] is None else f"{a['cohen_kappa']:.2f}"
        alpha = "n/a" if a["krippendorff_alpha"] is None else f"{a['krippendorff_alpha']:.2f}"
        lines.append(f"**Agreement** on {a['pairs_labeled_more_than_once']} pairs labeled by more than one person: "
                     f"{a['percent_agreement']:.0%} · Cohen's κ {kappa} · Krippendorff's α {alpha} "
                     "(1 = perfect, 0 = chance).")
    else:
        lines.append("**Agreement**: no pair has been labeled by two people yet. Colleagues get some of each other's "
                     "pairs at the share set by *Shared with colleagues* when they start labeling.")
    b = summary["position_bias"]
    if b and b["decisive_votes"] < 10:
        lines.append(f"**Position bias**: {b['decisive_votes']} decisive vote(s) so far; at least 10 are needed to tell.")
    elif b:
        verdict = "a bias toward one side" if b["biased"] else "no sign of a side bias"
        lines.append(f"**Position bias**: the left side (A) won {b['left_wins']:.0%} of {b['decisive_votes']} decisive votes "
                     f"(95% interval {b['low']:.0%}–{b['high']:.0%}; 50% = none): {verdict}.")
    return "\n\n".join(lines)


def leaderboard_frame(standings) -> pd.DataFrame:
    return pd.DataFrame([[i + 1, s.source, round(s.rating), f"[{s.low:.0f}, {s.high:.0f}]", s.votes, f"{s.win_rate:.0%}"]
                         for i, s in enumerate(standings)],
                        columns=["rank", "source", "rating", "95% CI", "votes", "win rate (ties ½)"])


def build(ctx: AppContext) -> None:
    settings = ctx.models.settings
    store = Store(settings.db_path)
    writer = PairWriter(settings)
    export_dir = Path(tempfile.mkdtemp(prefix="playground-prefs-export-"))
    with gr.Tab("Rate", id="rate", elem_id="tab-rate") as rate_tab:
        gr.Markdown(EXPLAINER)
        with gr.Tabs():
            with gr.Tab("Label", id="rate-label-view", elem_id="rate-label-tab"):
                with gr.Accordion("Set up", open=True):
                    with gr.Row():
                        annotator = gr.Textbox("", label="Your name", placeholder="e.g. ana", elem_id="rate-annotator",
                                               info="Labels record who made them.")
                        target = gr.Number(50, label="Your target", precision=0, elem_id="rate-target",
                                           info="How many labels you mean to give: your progress is counted against it.")
                        max_new_tokens = gr.Slider(8, 256, value=64, step=8, label="Max new tokens", elem_id="rate-max-new")
                    with gr.Row():
                        models = gr.Dropdown([BASE], value=[BASE], multiselect=True, label="Models", elem_id="rate-models",
                                             info="The base (picked at the top of the page) and adapters from the Fine-tune tab.")
                        presets = gr.CheckboxGroup(list(PRESETS), value=["greedy", "sampling T=1.2"], label="Decoding settings",
                                                   elem_id="rate-presets",
                                                   info="Each model under each setting is one source; two are drawn per pair.")
                    with gr.Row():
                        prompt_file = gr.File(label="Prompts file (a 'prompt' column)", file_types=[".jsonl", ".csv", ".parquet"],
                                              elem_id="rate-prompt-file")
                        typed_prompts = gr.Textbox("", label="…or type prompts, one per line", lines=3, elem_id="rate-typed",
                                                   placeholder="(empty: 30 built-in everyday prompts)")
                    with gr.Row():
                        mode = gr.Radio(list(MODES), value=list(MODES)[0], label="Mode", elem_id="rate-mode",
                                        info="Rate one: score a single completion 1-5 on each of the three principles (HHH); "
                                             "two rated completions of a prompt become a preference pair.")
                        relabel = gr.Checkbox(False, label="Show me pairs I have already labeled (to relabel)", elem_id="rate-relabel")
                        overlap = gr.Slider(0, 1, value=DEFAULT_OVERLAP, step=0.05, label="Shared with colleagues",
                                            elem_id="rate-overlap",
                                            info="Share of your pairs taken from those a colleague labeled (same prompts "
                                                 "and sources), so the team's agreement can be measured. 0: every pair new.")
                    guidelines = gr.Textbox(read_guidelines(settings), label="Guidelines (shown with every pair)", lines=2,
                                            elem_id="rate-guidelines")
                    save_guidelines_btn = gr.Button("Save guidelines", elem_id="rate-save-guidelines")
                    start_btn = gr.Button("Start labeling", variant="primary", elem_id="rate-start")
                status = gr.Markdown("", elem_id="rate-status")
                progress = gr.Markdown("", elem_id="rate-progress")
                task_prompt = gr.Markdown("", elem_id="rate-prompt")
                with gr.Row(equal_height=True):
                    left = gr.Textbox("", label="A", lines=6, interactive=False, elem_id="rate-left")
                    right = gr.Textbox("", label="B", lines=6, interactive=False, elem_id="rate-right")
                comment = gr.Textbox("", label="Comment (optional)", elem_id="rate-comment")
                with gr.Row(visible=False, elem_id="rate-rating-row") as rating_row:
                    helpful = gr.Slider(1, 5, value=3, step=1, label="Helpful", elem_id="rate-helpful",
                                        info="Does it do what was asked, usefully?")
                    honest = gr.Slider(1, 5, value=3, step=1, label="Honest", elem_id="rate-honest",
                                       info="Is it true, and candid about what it doesn't know?")
                    harmless = gr.Slider(1, 5, value=3, step=1, label="Harmless", elem_id="rate-harmless",
                                         info="Is it free of anything hurtful, dangerous or unfair?")
                    rate_btn = gr.Button("Save rating", variant="primary", elem_id="rate-submit-rating")
                with gr.Row(elem_id="rate-vote-row") as vote_row:
                    a_btn = gr.Button("A is better [1]", variant="primary", elem_id="rate-a")
                    b_btn = gr.Button("B is better [2]", variant="primary", elem_id="rate-b")
                    tie_btn = gr.Button("Tie [3]", elem_id="rate-tie")
                    bad_btn = gr.Button("Both bad [4]", elem_id="rate-bad")
                    skip_btn = gr.Button("Skip [s]", elem_id="rate-skip")
                    undo_btn = gr.Button("Undo my last [u]", variant="stop", elem_id="rate-undo")
                reveal = gr.Markdown("", elem_id="rate-reveal")
                session = gr.State({"token": None, "task": None, "setup": None})

            with gr.Tab("Results", id="rate-results-view", elem_id="rate-results-tab") as results_view:
                gr.Markdown("What everyone's labels say so far, read afresh each time you open this view. "
                            "**Rating**: a Bradley-Terry fit of the votes on Chatbot Arena's Elo-like scale (1000 = average), "
                            "with a 95% interval from bootstrap resamples.")
                refresh_btn = gr.Button("Refresh", elem_id="rate-refresh")
                stats_md = gr.Markdown("", elem_id="rate-stats")
                board_table = gr.Dataframe(leaderboard_frame([]), interactive=False, label="Leaderboard of the sources",
                                           elem_id="rate-board")
                board_plot = gr.Plot(label="Leaderboard", elem_id="rate-board-chart")
                with gr.Row():
                    filter_annotator = gr.Dropdown([], label="Annotator", elem_id="rate-filter-annotator", allow_custom_value=True)
                    filter_source = gr.Dropdown([], label="Source", elem_id="rate-filter-source", allow_custom_value=True)
                # widths: the long texts shared what was left and pushed B, its source and the comment off the edge
                labels_table = gr.Dataframe(labels_frame([]), interactive=False, wrap=True, max_height=360, label="Labels",
                                            elem_id="rate-labels",
                                            column_widths=["5%", "9%", "7%", "17%", "17%", "9%", "17%", "9%", "6%", "4%"])
                with gr.Row():
                    export_format = gr.Radio(["jsonl", "parquet", "kto"], value="jsonl", label="Export as", elem_id="rate-format",
                                             info="jsonl/parquet: prompt, chosen, rejected (DPO, reward models); kto: prompt, "
                                                  "completion, label (KTO).")
                    conversational = gr.Checkbox(False, label="Conversational (messages)", elem_id="rate-conversational")
                    export_btn = gr.Button("Export", elem_id="rate-export")
                    export_file = gr.File(label="Export", elem_id="rate-export-file", visible=False)
                with gr.Row():
                    hub_repo = gr.Textbox("", label="Hub dataset repo", placeholder="you/my-preferences", elem_id="rate-hub-repo",
                                          info="Pushes the preference pairs as a private dataset with the server's HF_TOKEN.")
                    push_btn = gr.Button("Push to Hub", elem_id="rate-push")
                with gr.Row():
                    import_file = gr.File(label="Import preference data (TRL or HH-RLHF JSONL / .gz)",
                                          file_types=[".jsonl", ".gz"], elem_id="rate-import-file")
                    import_anyway = gr.Checkbox(False, label="Import the good lines even if some are bad", elem_id="rate-import-anyway")
                    import_btn = gr.Button("Import", elem_id="rate-import")
                data_status = gr.Markdown("", elem_id="rate-data-status")  # beside the buttons it answers

        # ---- handlers ----
        def setup_of(model, chosen_models, chosen_presets, file, typed, max_new, chosen_mode, again, share):
            adapters = [None if m == BASE else m for m in (chosen_models or [])]
            single = MODES.get(chosen_mode, False)
            found = sources(adapters, list(chosen_presets or []), at_least=1 if single else 2)
            return {"model": model, "sources": [(s.adapter, s.preset) for s in found], "single": single,
                    "relabel": bool(again), "prompts": load_prompts(uploaded_path(file) or BUILTIN_PROMPTS, typed),
                    "max_new_tokens": int(max_new), "overlap": min(max(float(share or 0), 0.0), 1.0)}

        def prefetch(token: str, setup: dict, name: str) -> None:
            with _NEXT_LOCK:
                _NEXT[token] = writer.submit(setup, name)
                while len(_NEXT) > MAX_SESSIONS:
                    _NEXT.popitem(last=False)  # that session writes its next pair when it votes

        def shared_or_none(setup: dict, name: str) -> dict | None:
            """A colleague's pair, at the setup's overlap share (never when relabeling one's own)."""
            if setup.get("relabel") or random.random() >= setup.get("overlap", 0.0):
                return None
            return shared_task(store, name, setup)

        def take_next(token: str, setup: dict, name: str) -> dict:
            shared = shared_or_none(setup, name)
            if shared is not None:
                return shared  # the prefetched pair stays for the next vote
            with _NEXT_LOCK:
                future = _NEXT.pop(token, None)
            task = None
            if future is not None:
                try:
                    task = future.result()
                except Exception:  # noqa: BLE001 - written again below, where its error reaches the page
                    task = None
            if task is None or (not setup.get("relabel") and Task.from_dict(task).key in label_store.labeled_keys(store, name)):
                task = writer.write(setup, name)  # the prefetched one failed, or was labeled meanwhile
            prefetch(token, setup, name)
            return task

        def progress_text(name: str, goal) -> str:
            done = label_store.counts(store).get(name, 0)
            return f"**{name}**: {done} labeled of your target {int(goal or 0)}."

        def shown(task: dict, guide: str) -> dict:
            text, a, b = task_markdown(task, guide)
            single = task is not None and task.get("right") is None
            return {task_prompt: text, left: gr.update(value=a, label="The completion" if single else "A"),
                    right: gr.update(value=b, visible=not single), comment: "",
                    rating_row: gr.update(visible=single), vote_row: gr.update(visible=not single)}

        @also_as_toast(status, refusals_only=True)  # the name field is far above the button
        @guarded(status)
        @rate_limited(ctx)
        def start(state, name, goal, model, chosen_models, chosen_presets, file, typed, max_new, chosen_mode, again, share,
                  guide, progress_bar=gr.Progress(), request: gr.Request = None):
            login = visitor_of(ctx, request).name  # a logged-in annotator labels under their login, not a typed name
            name = login or (name or "").strip()
            if not name:
                raise PlaygroundError("Type your name first: labels record who made them.")
            if goal is None or goal < 1 or int(goal) != goal:
                raise PlaygroundError(f"Your target must be a whole number of labels, at least 1 (got {goal}).")
            setup = setup_of(model, chosen_models, chosen_presets, file, typed, max_new, chosen_mode, again, share)
            yield {status: f"Starting as **{name}**: writing the first pair…"}  # not the last refusal, still shown
            progress_bar(0.2, desc="Writing the first pair…")
            token = state.get("token") or uuid.uuid4().hex
            task = shared_or_none(setup, name) or writer.write(setup, name)
            prefetch(token, setup, name)
            yield {session: {"token": token, "task": task, "setup": setup, "name": name}, **shown(task, guide),
                    status: f"Labeling as **{name}** with {len(setup['sources'])} sources and {len(setup['prompts'])} prompts.",
                    progress: progress_text(name, goal), reveal: ""}

        def vote(choice: str):
            @guarded(status)
            def act(state, remark, goal, guide):
                task = current_task(state)
                t = Task.from_dict(task)
                saved = label_store.add(store, label_store.Label(
                    prompt=t.prompt, left_text=t.left.text, right_text=t.right.text, left_source=t.left.source,
                    right_source=t.right.source, left_settings=t.left.settings, right_settings=t.right.settings,
                    choice=choice, comment=remark or "", annotator=state["name"]))
                # acknowledged now; the next pair (generated while this one was judged) follows in its own event
                return {session: state | {"task": None, "mine": [*state.get("mine", []), saved.id]},
                        reveal: reveal_text(task, choice),
                        progress: progress_text(state["name"], goal), status: ""}

            return act

        @guarded(status)
        def rate_one(state, remark, goal, guide, h1, h2, h3):
            task = current_task(state)
            if task.get("right") is not None:
                raise PlaygroundError("Start labeling in the 'Rate one' mode first.")
            scores = {"helpful": int(h1), "honest": int(h2), "harmless": int(h3)}
            saved = label_store.add(store, label_store.Label(
                prompt=task["prompt"], left_text=task["left"]["text"], left_source=task["left"]["source"],
                left_settings=task["left"]["settings"], scores=scores, comment=remark or "", annotator=state["name"]))
            return {session: state | {"task": None, "mine": [*state.get("mine", []), saved.id]},
                    reveal: f"✅ Saved: helpful {h1}, honest {h2}, harmless {h3}. It was written by **{task['left']['source']}**.",
                    progress: progress_text(state["name"], goal), status: ""}

        def current_task(state) -> dict:
            if not state.get("name"):
                raise PlaygroundError("Press Start labeling first.")
            if not state.get("task"):
                raise PlaygroundError("The next pair is on its way: vote when it shows.")
            return state["task"]

        def following_task(state) -> tuple[dict, dict]:
            """(the next task, the state without it): a pair put aside by an undo first, else a new one."""
            if state.get("put_aside"):
                first, *rest = state["put_aside"]
                return first, state | {"put_aside": rest}
            return take_next(state["token"], state["setup"], state["name"]), state

        @guarded(status)
        @rate_limited(ctx, light=True)
        def next_pair(state, guide):
            if not state.get("name") or state.get("task"):
                return {status: gr.skip()}  # not started, or a pair is already showing
            following, state = following_task(state)
            return {session: state | {"task": following}, **shown(following, guide)}

        @guarded(status)
        @rate_limited(ctx, light=True)
        def skip(state, guide):
            current_task(state)
            following, state = following_task(state)
            return {session: state | {"task": following}, **shown(following, guide), reveal: "Skipped: nothing saved."}

        @guarded(status)
        def undo(state, goal, guide):
            name = state.get("name")
            if not name:
                raise PlaygroundError("Press Start labeling first.")
            # only a label made in this labeling session: a typed name is no proof of who made the others
            if not state.get("task"):  # the next pair is on its way: its event would overwrite this undo's
                raise PlaygroundError("The next pair is on its way: undo once it shows.")
            removed = label_store.undo_last(store, name, among=state.get("mine", []))
            if removed is None:
                return {reveal: "You have no label to undo in this session."}
            # its pair is shown again, as it was, to label again; the pair that was showing comes next
            again = Task(removed.prompt, Completion(removed.left_text, removed.left_source, removed.left_settings),
                         Completion(removed.right_text, removed.right_source, removed.right_settings)
                         if removed.right_text is not None else None).to_dict()
            state = state | {"mine": [i for i in state.get("mine", []) if i != removed.id], "task": again,
                             "put_aside": [state["task"], *state.get("put_aside", [])]}
            word = CHOICE_WORDS.get(removed.choice, removed.choice) if removed.choice else "your rating"
            return {session: state, progress: progress_text(name, goal), **shown(again, guide),
                    reveal: f"↩️ Removed your last label ({word} on \"{removed.prompt[:60]}\"): here it is again."}

        @guarded(status)
        @admin_only(ctx, "guidelines")
        def save_guide(text):
            return {guidelines: save_guidelines(settings, text), status: "✅ Guidelines saved: shown with every pair."}

        @guarded(stats_md)
        def refresh(who, source):
            everything = label_store.all_labels(store)
            shown_labels = [x for x in everything if (not who or x.annotator == who)
                            and (not source or source in (x.left_source, x.right_source))]
            standings = leaderboard(analysis.votes(everything))
            annotators = sorted({x.annotator for x in everything})
            source_names = sorted({s for x in everything for s in (x.left_source, x.right_source) if s})
            return {stats_md: stats_markdown(analysis.stats(everything)), board_table: leaderboard_frame(standings),
                    board_plot: plots.leaderboard_figure(standings) if standings else None,
                    labels_table: labels_frame(shown_labels),
                    filter_annotator: gr.update(choices=[""] + annotators), filter_source: gr.update(choices=[""] + source_names)}

        @guarded(data_status)
        def export(fmt, messages):
            path = export_dir / f"preferences-{fmt}{'-conversational' if messages and fmt != 'kto' else ''}"
            path = path.with_suffix(".parquet" if fmt == "parquet" else ".jsonl")
            labels = label_store.all_labels(store)
            n = formats.export(labels, path, fmt, bool(messages))
            note = formats.left_out_note(labels, fmt)
            return {export_file: gr.update(value=str(path), visible=True),
                    data_status: f"✅ Exported {n:,} rows ({fmt}).{' ' + note if note else ''}"}

        @guarded(data_status)
        @admin_only(ctx, "push")
        def push(repo, messages):
            import os

            if not (repo or "").strip():
                raise PlaygroundError("Type the Hub dataset repo to push to, e.g. you/my-preferences.")
            url = formats.push_to_hub(label_store.all_labels(store), repo.strip(), os.environ.get("HF_TOKEN"), bool(messages))
            return {data_status: f"✅ Pushed to {url}."}

        @guarded(data_status)
        @admin_only(ctx, "import")
        def import_data(file, anyway):
            path = uploaded_path(file)
            if not path:
                raise PlaygroundError("Choose a file to import first.")
            report = formats.import_file(store, path, confirm=bool(anyway))
            skipped = f"; {len(report.errors)} bad line(s) skipped" if report.errors else ""
            return {data_status: f"✅ Imported {len(report.labels):,} pairs ({report.format}){skipped}.",
                    import_anyway: False}

        refresh_models = lambda: gr.update(choices=[BASE] + [a["name"] for a in  # noqa: E731
                                                             adapter_store.for_generation(adapter_store.list_adapters(settings.adapters_dir))])
        models.focus(refresh_models, None, models, api_name=False, show_progress="hidden")
        task_outputs = [session, task_prompt, left, right, comment, reveal, progress, status, rating_row, vote_row]
        start_btn.click(start, [session, annotator, target, ctx.model_picker, models, presets, prompt_file, typed_prompts,
                                max_new_tokens, mode, relabel, overlap, guidelines], task_outputs, api_name="start_labeling")
        ack_outputs = [session, reveal, progress, status]
        rate_btn.click(rate_one, [session, comment, target, guidelines, helpful, honest, harmless], ack_outputs,
                       api_name="rate_completion", concurrency_limit=None).then(
            next_pair, [session, guidelines], task_outputs, api_name="next_pair")
        for button, choice in ((a_btn, "left"), (b_btn, "right"), (tie_btn, "tie"), (bad_btn, "both_bad")):
            button.click(vote(choice), [session, comment, target, guidelines], ack_outputs, api_name=f"vote_{choice}",
                         concurrency_limit=None).then(next_pair, [session, guidelines], task_outputs, api_name=False)
        skip_btn.click(skip, [session, guidelines], task_outputs, api_name="skip_pair")
        undo_btn.click(undo, [session, target, guidelines], task_outputs, api_name="undo_label")
        save_guidelines_btn.click(save_guide, [guidelines], [guidelines, status], api_name="save_guidelines")
        view_outputs = [stats_md, board_table, board_plot, labels_table, filter_annotator, filter_source]
        refresh_btn.click(refresh, [filter_annotator, filter_source], view_outputs, api_name="label_stats")
        for opened in (results_view, rate_tab):  # (coming back to the tab with Results showing selects no sub-tab)
            opened.select(refresh, [filter_annotator, filter_source], view_outputs, api_name=False)
        filter_annotator.input(refresh, [filter_annotator, filter_source], view_outputs, api_name=False)
        filter_source.input(refresh, [filter_annotator, filter_source], view_outputs, api_name=False)
        export_btn.click(export, [export_format, conversational], [export_file, data_status], api_name="export_labels")
        push_btn.click(push, [hub_repo, conversational], [data_status], api_name="push_labels")
        import_btn.click(import_data, [import_file, import_anyway], [data_status, import_anyway],
                         api_name="import_labels")
