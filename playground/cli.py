"""`python -m playground <verb>`: the library headless, for scripts and CI.

Every verb prints one line and exits non-zero on bad input (never a traceback)."""

from __future__ import annotations

import argparse
import json
import sys

from playground.errors import PlaygroundError
from playground.evaluation.scores import DEFAULT_METRICS as DEFAULT_METRIC_NAMES


def _decoding_args(parser: argparse.ArgumentParser, greedy_flag: bool = True) -> None:
    if greedy_flag:
        parser.add_argument("--greedy", action="store_true", help="always pick the most likely token (ignores sampling flags)")
    parser.add_argument("--temperature", type=float, default=None, help="<1 sharpens, >1 flattens the distribution (default: the model's own)")
    parser.add_argument("--top-k", type=int, default=None, help="keep only the k most likely tokens (0 = off; default: the model's own)")
    parser.add_argument("--top-p", type=float, default=None, help="keep the smallest set with this total probability (1.0 = off; default: the model's own)")
    parser.add_argument("--repetition-penalty", type=float, default=None, help="divide logits of tokens already seen (1.0 = off; default: the model's own)")
    parser.add_argument("--seed", type=int, default=0, help="random seed for sampling (default 0)")


def _model_arg(parser: argparse.ArgumentParser, required: bool = True) -> None:
    parser.add_argument(
        "--model", required=required, default=None,
        help="a Hub id, a local model folder, or 'tiny' for the built-in tiny model",
    )


def _cli_user() -> str:
    """Who started a run from the command line, as the run records it."""
    import getpass

    try:
        return f"{getpass.getuser()} (command line)"
    except (KeyError, OSError):
        return "command line"


class OneLineParser(argparse.ArgumentParser):
    """argparse, with a usage mistake said as every other error is: one line, exit status 2 (its
    default prints the whole usage above it)."""

    def error(self, message: str):
        self.exit(2, f"error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="python -m playground", description="LLM Fine-Tuning Playground, headless.")
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="VERB")

    tiny = verbs.add_parser("tiny-model", help="write the built-in tiny model (random weights) to a folder")
    tiny.add_argument("dir", help="output folder")
    tiny.add_argument("--seed", type=int, default=0)

    gen = verbs.add_parser("generate", help="complete a prompt")
    _model_arg(gen)
    gen.add_argument("--prompt", required=True)
    gen.add_argument("--adapter", default=None, help="a fine-tuned adapter: a folder, or a name in the adapters folder")
    gen.add_argument("--chat", action=argparse.BooleanOptionalAction, default=None,
                     help="wrap the prompt in the model's chat template (default: with --adapter, when the model has "
                          "one, as fine-tuning wrote its prompts; else not)")
    gen.add_argument("--max-new-tokens", type=int, default=64)
    _decoding_args(gen)
    gen.add_argument("--json", action="store_true", help="print one JSON object (text, token_ids, logprobs, tokens_per_s, ...)")

    nxt = verbs.add_parser("next-token", help="the next-token distribution before and after the warpers")
    _model_arg(nxt)
    nxt.add_argument("--prompt", required=True)
    nxt.add_argument("--chat", action="store_true")
    _decoding_args(nxt)
    nxt.add_argument("--top", type=int, default=20, help="how many tokens to list (default 20)")
    nxt.add_argument("--json", action="store_true")

    prm = verbs.add_parser("prompt", help="print a zero/one/few-shot prompt for a built-in task")
    prm.add_argument("--task", required=True, help="summarization or sentiment")
    prm.add_argument("--shots", type=int, default=0, help="number of solved examples before the query")
    prm.add_argument("--seed", type=int, default=0, help="seed for choosing the shots")
    prm.add_argument("--example", type=int, default=0, help="index of the example to ask about")
    prm.add_argument("--chat", action="store_true", help="count tokens through the chat template")
    _model_arg(prm, required=False)
    prm.add_argument("--json", action="store_true")

    trn = verbs.add_parser("train", help="run a training recipe (YAML) in the foreground")
    trn.add_argument("recipe", nargs="?", help="a recipe YAML file: method, base_model, data and any setting of the "
                     "method (the Fine-tune tab's 'Copy as command' writes one; README.md shows one)")
    trn.add_argument("--resume", metavar="RUN_ID", help="continue a stopped or failed run (fine-tuning, reward model, DPO, KTO) from its last "
                     "checkpoint (an id or name from `runs list`)")
    trn.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a recipe key (repeatable)")
    trn.add_argument("--overwrite", action="store_true", help="replace an existing adapter of the same output name")

    ev = verbs.add_parser("eval", help="evaluate a base model and its adapters on held-out data (a run, in the foreground)")
    _model_arg(ev)
    ev.add_argument("--adapter", action="append", default=[], help="an adapter or fine-tuned model in the adapters "
                    "folder (repeatable)")
    ev.add_argument("--data", default="", help="a built-in set, a JSONL/CSV/Parquet file or a Hub dataset id (default: "
                    "the held-out test split of the first adapter). prompt/completion columns need no mapping")
    ev.add_argument("--split", default="test", help="the split of a Hub dataset (default test)")
    ev.add_argument("--input-column", default="", help="the column with the input (prompt)")
    ev.add_argument("--reference-column", default="", help="the column with the reference answer")
    ev.add_argument("--template", default="plain", help="an instruction template for the inputs (plain, instruction, "
                    "alpaca, summarize, question)")
    ev.add_argument("--other-data", default="", help="a second task the models were not tuned on: what they forgot")
    ev.add_argument("--metrics", default=",".join(DEFAULT_METRIC_NAMES), help="comma-separated (default: all)")
    ev.add_argument("--max-examples", type=int, default=100, help="the first N examples of each task (default 100)")
    ev.add_argument("--max-new-tokens", type=int, default=64)
    ev.add_argument("--batch-size", type=int, default=8, help="prompts generated together (default 8)")
    ev.add_argument("--benchmark", action="append", default=[], help="an lm-eval task name or task YAML file (repeatable)")
    ev.add_argument("--sample", action="store_true", help="sample instead of greedy decoding")
    _decoding_args(ev, greedy_flag=False)
    ev.add_argument("--name", default="", help="a name for this evaluation")
    ev.add_argument("--json", action="store_true", help="print the results as one JSON object")

    prefs = verbs.add_parser("prefs", help="preference labels: add, export, import, stats")
    prefs_verbs = prefs.add_subparsers(dest="prefs_verb", required=True)
    add = prefs_verbs.add_parser("add", help="record one label (a vote between two completions, or an HHH rating of one)")
    add.add_argument("--prompt", required=True)
    add.add_argument("--left", required=True, help="the completion shown on the left (the rated one for --scores)")
    add.add_argument("--left-source", required=True, help="what wrote it: a model, an adapter or a decoding setting")
    add.add_argument("--right", default=None)
    add.add_argument("--right-source", default=None)
    add.add_argument("--choice", choices=["left", "right", "tie", "both_bad"], default=None)
    add.add_argument("--scores", default=None, metavar="H,H,H", help="helpful,honest,harmless, each 1-5 (a rating)")
    add.add_argument("--annotator", required=True)
    add.add_argument("--comment", default="")
    exp = prefs_verbs.add_parser("export", help="write labels in TRL's formats")
    exp.add_argument("out", help="output file (a folder for --format dataset; a Hub dataset repo id with --hub)")
    exp.add_argument("--hub", action="store_true", help="push the preference pairs to the Hub repo OUT (needs HF_TOKEN)")
    exp.add_argument("--format", choices=["jsonl", "parquet", "kto", "dataset"], default="jsonl",
                     help="jsonl/parquet/dataset: prompt, chosen, rejected; kto: prompt, completion, label")
    exp.add_argument("--conversational", action="store_true", help="messages instead of plain text (jsonl, parquet, dataset)")
    imp = prefs_verbs.add_parser("import", help="add TRL or HH-RLHF preference pairs (JSONL or JSONL.GZ), detected")
    imp.add_argument("file")
    imp.add_argument("--yes", action="store_true", help="import the good lines even if some lines are bad")
    st = prefs_verbs.add_parser("stats", help="counts, agreement, position bias and the leaderboard")
    st.add_argument("--json", action="store_true")

    runs = verbs.add_parser("runs", help="list, show, cancel, delete or clear background runs")
    runs_verbs = runs.add_subparsers(dest="runs_verb", required=True, metavar="ACTION")
    runs_verbs.add_parser("list", help="all runs, newest first")
    show = runs_verbs.add_parser("show", help="one run as JSON, with its last metrics")
    show.add_argument("run", help="run id, or name (the newest run of that name)")
    cancel = runs_verbs.add_parser("cancel", help="stop a running run (keeps its last state) or drop a queued one")
    cancel.add_argument("run", help="run id, or name (the newest run of that name)")
    delete = runs_verbs.add_parser("delete", help="remove ended runs from the list, with their logs (results in the "
                                                  "adapters folder are kept)")
    delete.add_argument("run", nargs="+", help="run ids, or names")
    clear = runs_verbs.add_parser("clear", help="remove every ended run (finished, stopped, failed, cancelled)")
    clear.add_argument("--yes", action="store_true", help="confirm: this can't be undone")

    verbs.add_parser("serve", help="start the web app (what app.py does)")
    return parser


def _manager():
    from playground.models import ModelManager
    from playground.settings import Settings

    settings = Settings.from_env()
    settings.ensure_dirs()
    return ModelManager(settings)


def _params(args, lm=None, max_new_tokens: int = 1, sample_default: bool = False):
    """The model's own decoding settings (its generation_config.json), overridden by the flags given;
    without a model, the flags over the library's defaults (to check them before a model loads)."""
    from playground.generation import DecodingParams, defaults_of

    return (defaults_of(lm) if lm is not None else DecodingParams()).with_settings(
        max_new_tokens=max_new_tokens, do_sample=not getattr(args, "greedy", not sample_default),
        temperature=args.temperature, top_k=args.top_k, top_p=args.top_p, repetition_penalty=args.repetition_penalty,
        seed=args.seed,
    )


def cmd_tiny_model(args) -> int:
    from playground.tiny_model import build_tiny_model

    if not 0 <= args.seed < 2**32:
        raise PlaygroundError(f"--seed must be from 0 to {2**32 - 1:,} (got {args.seed}).")
    print(build_tiny_model(args.dir, seed=args.seed))
    return 0


def cmd_generate(args) -> int:
    from tqdm import tqdm

    from playground.generation import check_prompt, stream

    check_prompt(args.prompt)  # bad input is told at once, not after the model has loaded
    _params(args, max_new_tokens=args.max_new_tokens)
    manager = _manager()
    adapter = manager.adapter_folder(args.adapter)[0] if args.adapter else None
    lm = manager.get(args.model, adapters=(args.adapter,) if args.adapter else ())
    params = _params(args, lm, args.max_new_tokens)
    chat = args.chat
    if chat is None:  # an adapter answers best in the form it was trained on
        from playground.training.sft_data import trains_in_chat_template

        chat = adapter is not None and trains_in_chat_template(lm.tokenizer, lm.encoder_decoder)
        if chat:
            print("note: the prompt is written in the model's chat template, as fine-tuning wrote the adapter's "
                  "(--no-chat for the raw prompt)", file=sys.stderr)
    result = None
    with tqdm(total=params.max_new_tokens, unit="tok", disable=args.json or not sys.stderr.isatty()) as bar:
        for update in stream(lm, args.prompt, params, chat=chat, adapter=adapter):
            bar.update(update.n_tokens - bar.n)
            result = update.result or result
    if args.json:
        print(json.dumps(result.to_dict()))
    else:
        print(result.text)
        print(f"[{len(result.token_ids)} tokens, {result.tokens_per_s:.1f} tokens/s, {result.finish_reason}]", file=sys.stderr)
    return 0


def cmd_next_token(args) -> int:
    from playground.generation import check_prompt, next_token_distribution

    if args.top < 1:
        raise PlaygroundError(f"--top must be at least 1 (got {args.top}).")
    check_prompt(args.prompt)
    _params(args, sample_default=True)
    lm = _manager().get(args.model)
    dist = next_token_distribution(lm, args.prompt, _params(args, lm, sample_default=True), chat=args.chat, top=args.top)
    if args.json:
        print(json.dumps({"tokens": [vars(t) for t in dist.tokens], "kept": dist.kept, "vocab_size": dist.vocab_size}))
    else:
        for t in dist.tokens:
            print(f"{t.token!r:>20}  raw {t.p_raw:7.2%}  final {t.p_final:7.2%}{'  (cut)' if t.p_final == 0 else ''}")
    return 0


def cmd_prompt(args) -> int:
    from playground.data import BUILTIN_TASKS, load_builtin
    from playground.generation import PromptTokens
    from playground.prompts import build_prompt, choose_shots

    if args.shots < 0:
        raise PlaygroundError(f"--shots must be 0 or more (got {args.shots}).")
    examples = load_builtin(args.task)
    shots = choose_shots(len(examples), args.shots, args.example, args.seed)
    prompt = build_prompt(BUILTIN_TASKS[args.task].template, [examples.pairs()[i] for i in shots], examples.inputs[args.example])
    manager = _manager()
    tokenizer, window = manager.tokenizer(args.model or manager.settings.default_model)
    n_tokens = PromptTokens(tokenizer, args.chat).count(prompt)
    if args.json:
        print(json.dumps({"prompt": prompt, "n_tokens": n_tokens, "context_window": window, "shots": shots}))
    else:
        print(prompt)
        print(f"[{n_tokens:,} of {window:,} tokens]", file=sys.stderr)
    return 0


def _jobs(foreground_run: bool = False):
    """The job manager. For a command that runs a job and waits for it, the worker launcher starts
    importing at once, while this process checks the recipe (on a machine with cores to spare, the
    run starts ~9 s sooner); other commands start nothing."""
    from playground.jobs import JobManager
    from playground.settings import Settings

    settings = Settings.from_env()
    settings.ensure_dirs()
    jobs = JobManager(settings, preload=foreground_run)
    jobs.warm_up()
    return jobs


def cmd_train(args) -> int:
    from tqdm import tqdm

    jobs = _jobs(foreground_run=True)  # first: the launcher imports while the recipe is checked

    from playground import kinds
    from playground.training.recipes import read_recipe_values

    if args.resume:
        if args.recipe or args.set:
            raise PlaygroundError("--resume continues a run with its own recipe: give no recipe file or --set.")
        method = jobs.get(args.resume)["method"] or "run"
    elif not args.recipe:
        raise PlaygroundError("Give a recipe YAML file to train, or --resume RUN_ID to continue a stopped run.")
    else:
        values = read_recipe_values(args.recipe, args.set)
        kind = kinds.TRAINING_KINDS.get(str(values.get("method", "")).strip(), "sft")
        recipe = kinds.get(kind).recipe_class.from_dict(values)
        method = recipe.method
    bar = tqdm(total=None, unit="step", desc=f"{method}: starting", file=sys.stderr, delay=0.5)

    def follow(events):
        for event in events:
            if event["type"] == "train_begin":
                bar.set_description(f"{method}: training")
            elif event["type"] == "progress":
                bar.total = event["max_steps"]
                bar.update(event["step"] - bar.n)
            elif event["type"] == "log" and "loss" in event:
                bar.set_postfix(loss=f"{event['loss']:.4f}")
            elif event["type"] == "status":
                bar.set_description(f"{method}: {event['message']}")

    if args.resume:
        run = jobs.resume(args.resume, foreground=True, on_events=follow)
    else:
        def say(notes):
            for note in notes:  # what the app shows under Launch: rows left out, what max_steps means, ...
                tqdm.write(f"note: {note}", file=sys.stderr)

        run = jobs.run_foreground(kind, recipe, overwrite=args.overwrite, on_events=follow, created_by=_cli_user(),
                                  on_notes=say)
    bar.close()
    shown = ("loss", "accuracy", "margin", "reward", "kl")
    metrics = {k: round(v, 4) for k, v in run["metrics"].items() if any(word in k for word in shown)}
    if run["status"] == "finished":
        print(f"finished: {run['output_dir']} {metrics}")
        return 0
    if run["status"] == "stopped" and run["output_dir"]:
        print(f"stopped: {run['output_dir']} (saved where it stopped) {metrics}")
        return 1
    print(f"error: run {run['name']} {run['status']}: {run['error'] or 'see ' + run['run_dir'] + '/log.txt'}", file=sys.stderr)
    return 1


def cmd_eval(args) -> int:
    jobs = _jobs(foreground_run=True)  # first: the launcher imports while the recipe is checked
    from tqdm import tqdm

    from playground.evaluation.recipe import EvalRecipe

    decoding = {"max_new_tokens": args.max_new_tokens, "do_sample": bool(args.sample), "temperature": args.temperature,
                "top_k": args.top_k, "top_p": args.top_p, "repetition_penalty": args.repetition_penalty,
                "seed": args.seed}
    recipe = EvalRecipe(
        base_model=args.model, adapters=args.adapter, max_examples=args.max_examples, batch_size=args.batch_size,
        task={"data": args.data, "split": args.split, "input_column": args.input_column,
              "output_column": args.reference_column, "template": args.template},
        other_task={"data": args.other_data, "template": args.template} if args.other_data else None,
        metrics=[m.strip() for m in args.metrics.split(",") if m.strip()], benchmarks=args.benchmark,
        decoding={k: v for k, v in decoding.items() if v is not None}, output_name=args.name)
    bar = tqdm(total=None, unit="example", desc="eval: starting", file=sys.stderr, delay=0.5)

    def follow(events):
        for event in events:
            if event["type"] == "progress":
                bar.total = event["max_steps"]
                bar.update(event["step"] - bar.n)
            elif event["type"] == "status":
                bar.set_description(f"eval: {event['message']}")

    run = jobs.run_foreground("eval", recipe, on_events=follow, created_by=_cli_user())
    bar.close()
    if not run["result"]:
        print(f"error: evaluation {run['name']} {run['status']}: {run['error'] or 'see ' + run['run_dir'] + '/log.txt'}",
              file=sys.stderr)
        return 1
    summary = _eval_summary(run["result"])
    if args.json:
        print(json.dumps({"run": run["id"], "name": run["name"], "status": run["status"], **summary}, indent=1))
    else:
        from playground.evaluation.results import verdict

        print(f"evaluation {run['name']} ({run['status']}); values with 95% bootstrap intervals")
        for task, models in summary["tasks"].items():
            print(f"{task}: {run['result']['tasks'][task]['name']} ({run['result']['tasks'][task]['n']} examples)")
            for model, values in models.items():
                cells = "  ".join(f"{m} {v['value']:.4g} [{v['low']:.4g}, {v['high']:.4g}]" for m, v in values.items())
                print(f"  {model}: {cells}")
            for model, changes in summary["changes"][task].items():
                cells = "  ".join(f"{m} {d['diff']:+.4g} [{d['low']:+.4g}, {d['high']:+.4g}] {verdict(m, d)}"
                                  for m, d in changes.items())
                print(f"  {model} vs base: {cells}")
        if summary["base_unchanged"] is not None:
            print("base model unchanged after the adapters: " + ("yes" if summary["base_unchanged"] else "NO"))
        for model, tasks in summary["benchmarks"].items():
            for task, values in tasks.items():
                cells = "  ".join(f"{m} {v['value']:.4g} [{v['low']:.4g}, {v['high']:.4g}]" for m, v in values.items())
                print(f"benchmark {task}: {model}: {cells}")
    return 0 if run["status"] == "finished" else 1


def _eval_summary(result: dict) -> dict:
    """Per task and model ("base" and each adapter's name): each metric's value and 95% interval, and the change vs base."""
    return {"tasks": {key: task["scores"] for key, task in result["tasks"].items()},
            "changes": {key: task["changes"] for key, task in result["tasks"].items()},
            "base_unchanged": result.get("base_unchanged"), "benchmarks": result.get("benchmarks", {})}


def _store():
    from playground.settings import Settings
    from playground.store import Store

    settings = Settings.from_env()
    settings.ensure_dirs()
    return Store(settings.db_path)


def cmd_prefs(args) -> int:
    from playground.preferences import analysis, formats, labels

    store = _store()
    if args.prefs_verb == "add":
        scores = None
        if args.scores is not None:
            try:
                values = [int(x) for x in args.scores.split(",")]
            except ValueError:
                raise PlaygroundError("--scores takes three whole numbers, e.g. 4,5,5 (helpful, honest, harmless).") from None
            if len(values) != 3:
                raise PlaygroundError("--scores takes three whole numbers, e.g. 4,5,5 (helpful, honest, harmless).")
            scores = dict(zip(labels.HHH, values))
        label = labels.add(store, labels.Label(prompt=args.prompt, left_text=args.left, left_source=args.left_source,
                                                right_text=args.right, right_source=args.right_source, choice=args.choice,
                                                scores=scores, annotator=args.annotator, comment=args.comment))
        print(f"stored label {label.id} ({label.kind}, by {label.annotator})")
    elif args.prefs_verb == "export" and args.hub:
        import os

        url = formats.push_to_hub(labels.all_labels(store), args.out, os.environ.get("HF_TOKEN"), args.conversational)
        print(f"pushed to {url}")
    elif args.prefs_verb == "export":
        every = labels.all_labels(store)
        n = formats.export(every, args.out, args.format, args.conversational)
        note = formats.left_out_note(every, args.format)
        print(f"wrote {n:,} rows to {args.out} ({args.format}){'; ' + note if note else ''}")
    elif args.prefs_verb == "import":
        report = formats.import_file(store, args.file, confirm=args.yes)
        skipped = f"; {len(report.errors)} bad line(s) skipped" if report.errors else ""
        print(f"imported {len(report.labels):,} pairs ({report.format}) from {args.file}{skipped}")
    else:
        summary = analysis.stats(labels.all_labels(store))
        if args.json:
            print(json.dumps(summary, indent=1))
        else:
            print(f"{summary['labels']:,} labels: {summary['by_kind']}; by annotator: {summary['by_annotator']}")
            agreement, bias = summary["agreement"], summary["position_bias"]
            if agreement["pairs_labeled_more_than_once"]:
                print(f"agreement on {agreement['pairs_labeled_more_than_once']} pairs: {agreement['percent_agreement']:.1%}, "
                      f"Cohen's kappa {agreement['cohen_kappa']}, Krippendorff's alpha {agreement['krippendorff_alpha']}")
            if bias:
                print(f"left side wins {bias['left_wins']:.1%} [{bias['low']:.1%}, {bias['high']:.1%}] of "
                      f"{bias['decisive_votes']} decisive votes")
            for rank, s in enumerate(summary["leaderboard"], 1):
                print(f"{rank}. {s['source']}: {s['rating']:.0f} [{s['low']:.0f}, {s['high']:.0f}] ({s['votes']} votes, "
                      f"win rate {s['win_rate']:.1%})")
    return 0


def cmd_runs(args) -> int:
    import time

    from playground.runs import first_start, seconds_run

    jobs = _jobs()
    jobs.refresh()
    if args.runs_verb == "list":
        rows = jobs.store.runs()
        if not rows:
            print("no runs yet")
        else:
            print(f"{'id':<23} {'name':<40} {'status':<9} {'method':<13} {'base model':<40} {'started':<16}  took")
        for r in rows:
            started = time.strftime("%Y-%m-%d %H:%M", time.localtime(first_start(r) or r["created"]))
            seconds = seconds_run(r)
            took = "-" if seconds is None else f"{seconds:.0f}s"
            what = r["method"] or r["kind"]
            print(f"{r['id']:<23} {r['name']:<40} {r['status']:<9} {what:<13} {r['base_model'] or '-':<40} {started}  {took}")
    elif args.runs_verb == "show":
        run = jobs.get(args.run)
        events, _ = jobs.events(run["id"])
        run["last_log"] = next((e for e in reversed(events) if e["type"] == "log"), None)
        run["warnings"] = [e["message"] for e in events if e["type"] == "warning"]
        print(json.dumps(run, indent=2, default=str))
    elif args.runs_verb == "delete":
        removed = jobs.delete([jobs.get(ref)["id"] for ref in args.run])
        print(f"removed {len(removed)} run(s)")
    elif args.runs_verb == "clear":
        if not args.yes:
            raise PlaygroundError("runs clear removes every ended run and its logs: add --yes to confirm.")
        print(f"removed {len(jobs.clear_ended())} run(s)")
    else:
        print(jobs.cancel(args.run))
    return 0


def cmd_serve(args) -> int:
    """Start app.py in this process's place: the library itself never imports the web app."""
    import os

    from playground.settings import PROJECT_ROOT

    os.execv(sys.executable, [sys.executable, str(PROJECT_ROOT / "app.py")])


COMMANDS = {
    "tiny-model": cmd_tiny_model,
    "generate": cmd_generate,
    "next-token": cmd_next_token,
    "prompt": cmd_prompt,
    "train": cmd_train,
    "eval": cmd_eval,
    "prefs": cmd_prefs,
    "runs": cmd_runs,
    "serve": cmd_serve,
}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.verb](args)
    except PlaygroundError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except Exception as err:  # noqa: BLE001 - one line, never a traceback
        print(f"error: {type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}", file=sys.stderr)
        return 1
