"""Multiple-choice benchmarks scored by log-likelihood through EleutherAI's lm-evaluation-harness,
on the model already loaded (with an adapter switched on) through its HFLM wrapper.

A task is a name from lm-eval's registry (its data comes from the Hub, so online only), a name
shipped in assets/benchmarks/, or a task YAML file (e.g. `dataset_path: json` with local
data_files, which are read relative to the YAML file)."""

from __future__ import annotations

import functools
import importlib.util
import math
from pathlib import Path

from playground import access
from playground.errors import PlaygroundError
from playground.settings import PROJECT_ROOT

BUILTIN_DIR = PROJECT_ROOT / "assets" / "benchmarks"
REQUIRED_KEYS = ("task", "dataset_path", "output_type", "doc_to_text", "doc_to_target")


def builtin_tasks() -> dict[str, Path]:
    return {path.stem: path for path in sorted(BUILTIN_DIR.glob("*/*.yaml"))}


def _require_lm_eval() -> None:
    if importlib.util.find_spec("lm_eval") is None:
        raise PlaygroundError("Benchmarks need EleutherAI's lm-evaluation-harness: pip install lm-eval==0.4.13.")


def task_config(ref: str) -> dict | str:
    """A task YAML (a file, or a shipped name) as a config dict with its data files made absolute;
    any other name is left for lm-eval's registry."""
    import yaml

    ref = str(ref).strip()
    path = builtin_tasks().get(ref) or Path(ref).expanduser()
    if path.suffix.lower() not in (".yaml", ".yml"):
        return ref
    if ref not in builtin_tasks() and access.demo_mode():
        # lm-eval renders a task file's templates with an unsandboxed Jinja and reads the files it names:
        # a visitor's file would run code on this server. Only shipped and registry tasks in a demo.
        raise PlaygroundError("This demo runs only its shipped benchmark tasks and lm-eval's own task names, not task "
                              "files: run the app yourself to evaluate on a task file.")
    try:
        config = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise PlaygroundError(f"Could not read the benchmark task file {ref}: {err.strerror or err}.") from err
    except yaml.YAMLError as err:
        raise PlaygroundError(f"The benchmark task file {path.name} is not valid YAML: {str(err).splitlines()[0]}") from err
    if not isinstance(config, dict):
        raise PlaygroundError(f"The benchmark task file {path.name} must be a mapping of lm-eval task keys.")
    missing = [key for key in REQUIRED_KEYS if key not in config]
    if missing:
        raise PlaygroundError(f"The benchmark task file {path.name} lacks {', '.join(missing)} (lm-eval task keys).")
    files = (config.get("dataset_kwargs") or {}).get("data_files")
    if isinstance(files, dict):
        config["dataset_kwargs"]["data_files"] = {k: str(path.parent / v) for k, v in files.items()}
    elif isinstance(files, str):
        config["dataset_kwargs"]["data_files"] = str(path.parent / files)
    return config


def check_tasks(refs: list[str]) -> None:
    """Refuse, before anything runs, a task file that does not parse and a name lm-eval does not know."""
    from playground.models import hub_reachable
    from playground.settings import Settings

    _require_lm_eval()
    names = [ref for ref in map(task_config, refs) if isinstance(ref, str)]
    if not names:
        return
    known = set(_registry().all_tasks)
    unknown = [name for name in names if name not in known]
    if unknown:
        raise PlaygroundError(f"Unknown benchmark task(s) {', '.join(unknown)}: use an lm-eval task name, a task "
                              f"YAML file, or a shipped task ({', '.join(builtin_tasks())}).")
    if not hub_reachable(Settings.from_env()):
        raise PlaygroundError(f"{', '.join(names)} download(s) data from the Hub, which can't be reached (offline): "
                              f"use a local task YAML file or a shipped task ({', '.join(builtin_tasks())}).")


@functools.cache
def _registry():
    """lm-eval's index of its own ~15,000 task names: built once per process (it takes ~16 s on 2 cores)."""
    from lm_eval.tasks import TaskManager

    return TaskManager(verbosity="ERROR")


def _task_manager(configs: list):
    """What lm-eval loads the tasks with: its registry where a task is a registry name, else an empty
    index (shipped tasks and task files are whole configs: nothing to look up)."""
    from lm_eval.tasks import TaskManager

    return _registry() if any(isinstance(c, str) for c in configs) else TaskManager(include_defaults=False)


def _scores(task_results: dict) -> dict:
    """{metric: {"value", "low", "high"}} from lm-eval's "acc,none" / "acc_stderr,none" pairs (±1.96
    standard errors, a normal approximation as lm-eval reports it)."""
    out = {}
    for key, value in task_results.items():
        metric, _, _filter = key.partition(",")
        if metric.endswith("_stderr") or not isinstance(value, (int, float)) or metric in ("sample_len",):
            continue
        stderr = task_results.get(f"{metric}_stderr,{_filter}")
        half = 1.96 * stderr if isinstance(stderr, (int, float)) and math.isfinite(stderr) else 0.0
        low, high = float(value) - half, float(value) + half
        if metric.startswith("acc"):  # a share: its interval stays within [0, 1]
            low, high = max(low, 0.0), min(high, 1.0)
        out[metric] = {"value": float(value), "low": low, "high": high}
    return out


def evaluate_model(lm, adapter: str | None, refs: list[str], limit: int, batch_size: int = 8) -> dict:
    """{task: {metric: interval}} for one model (the loaded base, with `adapter` on or none)."""
    _require_lm_eval()
    from lm_eval import simple_evaluate
    from lm_eval.models.huggingface import HFLM

    configs = [task_config(ref) for ref in refs]
    with lm.using(adapter) as model:
        wrapper = HFLM(pretrained=model, tokenizer=lm.tokenizer, batch_size=batch_size, device=str(lm.device),
                       max_length=lm.context_window, backend="seq2seq" if lm.encoder_decoder else "causal")
        results = simple_evaluate(model=wrapper, tasks=configs, limit=limit, task_manager=_task_manager(configs),
                                  log_samples=False, bootstrap_iters=1000, verbosity="ERROR")
    return {task: _scores(values) for task, values in (results or {}).get("results", {}).items()}


def run_benchmarks(models, recipe, entries, stop, on_model=lambda name: None, on_done=lambda: None) -> dict:
    """{model: {task: {metric: interval}}} for every model of an evaluation."""
    out = {}
    peft = tuple(e.folder for e in entries if e.is_adapter)
    for entry in entries:
        if stop.is_set():
            break
        on_model(entry.name)
        if entry.folder and not entry.is_adapter:
            lm, adapter = models.get(entry.folder), None
        else:
            lm, adapter = models.get(recipe.base_model, adapters=peft), (entry.name if entry.is_adapter else None)
        out[entry.name] = evaluate_model(lm, adapter, recipe.benchmarks, recipe.benchmark_limit, recipe.batch_size)
        on_done()
    return out
