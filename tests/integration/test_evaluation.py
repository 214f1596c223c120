"""Evaluation as a user runs it: adapters trained on the built-in summarization set, compared with
their base on the held-out split those runs wrote, through the job system (a worker process),
with forgetting on a second task, soft prompts and a benchmark; bad input starts nothing."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from playground.errors import PlaygroundError
from playground.evaluation.recipe import BASE, EvalRecipe
from playground.jobs import JobManager
from playground.settings import Settings
from playground.training.recipes import recipe_from_dict
from tests.integration.helpers import wait_for

ROOT = Path(__file__).resolve().parents[2]
# Calibrated on the tiny model: 60 steps on 26 summaries; 10 are held out for the test split.
METHODS = {"lora": dict(learning_rate=3e-3), "prompt_tuning": dict(learning_rate=0.1, num_virtual_tokens=8),
           "full": dict(learning_rate=1e-3)}


@pytest.fixture(scope="module")
def home(tmp_path_factory, tiny_dir):
    folder = tmp_path_factory.mktemp("eval-home")
    saved = {k: os.environ.get(k) for k in ("PLAYGROUND_HOME", "PLAYGROUND_ADAPTERS")}
    os.environ["PLAYGROUND_HOME"], os.environ["PLAYGROUND_ADAPTERS"] = str(folder / "home"), str(folder / "adapters")
    settings = Settings.from_env()
    settings.ensure_dirs()
    yield settings
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(scope="module")
def adapters(home, tiny_dir):
    """One adapter (or model) per method, trained through the job system as the Fine-tune tab does."""
    jobs = JobManager(home)
    for method, extra in METHODS.items():
        recipe = recipe_from_dict({"method": method, "base_model": str(tiny_dir), "data": "summarization",
                                   "max_steps": 60, "per_device_train_batch_size": 8, "max_length": 384,
                                   "val_fraction": 0.1, "test_fraction": 0.25, "output_name": f"sum-{method}", **extra})
        run = jobs.run_foreground("sft", recipe)
        assert run["status"] == "finished", run["error"]
    return [f"sum-{m}" for m in METHODS]


@pytest.fixture(scope="module")
def evaluation(home, tiny_dir, adapters):
    recipe = EvalRecipe(base_model=str(tiny_dir), adapters=adapters, other_task="sentiment", max_examples=10,
                        decoding={"max_new_tokens": 24, "do_sample": False}, benchmarks=["playground_mc"],
                        benchmark_limit=8)
    run = JobManager(home).run_foreground("eval", recipe)
    assert run["status"] == "finished", run["error"]
    return run


def test_a_tuned_adapter_beats_its_base_on_the_held_out_split_and_the_interval_says_so(evaluation):
    main = evaluation["result"]["tasks"]["main"]
    assert main["name"] == "held-out test split of sum-lora" and main["n"] == 10
    for metric in ("rougeL", "perplexity"):
        change = main["changes"]["sum-lora"][metric]
        assert change["real"], (metric, change)
    assert main["changes"]["sum-lora"]["rougeL"]["low"] > 0  # higher ROUGE, and not by chance
    assert main["changes"]["sum-lora"]["perplexity"]["high"] < 0  # the references became more likely
    assert main["scores"]["sum-full"]["perplexity"]["value"] < main["scores"][BASE]["perplexity"]["value"]
    assert set(main["scores"]) == {BASE, *evaluation["result"]["models"][1:]} and len(main["outputs"][BASE]) == 10


def test_results_are_stored_with_the_run_and_survive_a_restart(home, evaluation):
    again = JobManager(home).store.run(evaluation["id"])  # a new process would read this
    assert again["result"]["tasks"]["main"]["scores"] == evaluation["result"]["tasks"]["main"]["scores"]
    assert again["kind"] == "eval" and again["output"] == "result" and not again["output_dir"]


def test_evaluating_adapters_never_changes_the_base(home, tiny_dir, evaluation):
    assert evaluation["result"]["base_unchanged"] is True  # checked inside the run, after the adapters
    alone = JobManager(home).run_foreground("eval", EvalRecipe(
        base_model=str(tiny_dir), adapters=[], task=str(Path(home.adapters_dir) / "sum-lora" / "test.jsonl"),
        max_examples=10, decoding={"max_new_tokens": 24, "do_sample": False}, other_task="sentiment"))
    for task in ("main", "other"):
        assert alone["result"]["tasks"][task]["outputs"][BASE] == evaluation["result"]["tasks"][task]["outputs"][BASE]


def test_forgetting_soft_prompts_and_benchmarks_are_part_of_the_result(evaluation):
    result = evaluation["result"]
    other = result["tasks"]["other"]
    assert other["name"] == "built-in sentiment set" and set(other["changes"]) == {"sum-lora", "sum-prompt_tuning", "sum-full"}
    report = result["soft_prompts"]["sum-prompt_tuning"]
    assert len(report["tokens"]) == 8 and report["init"] == "TEXT"
    assert all(0 < t["relative_change"] and len(t["nearest"]) == 5 for t in report["tokens"])
    assert set(result["soft_prompts"]) == {"sum-prompt_tuning"}  # LoRA has no soft prompt
    for model in (BASE, "sum-lora", "sum-full"):
        acc = result["benchmarks"][model]["playground_mc"]["acc"]
        assert 0 <= acc["low"] <= acc["value"] <= acc["high"] <= 1


def _bad_input_cases(home, tiny_dir, tmp_path):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    no_reference = tmp_path / "questions.jsonl"
    no_reference.write_text('{"question": "2+2?"}\n{"question": "3+3?"}\n')
    bad_task = tmp_path / "task.yaml"
    bad_task.write_text("task: [unclosed\n")
    other_base = Settings.from_env().models_dir / "tiny-seed7"
    from playground.tiny_model import build_tiny_model

    build_tiny_model(other_base, seed=7)
    base = str(tiny_dir)
    return {
        "no reference column": (dict(base_model=base, adapters=["sum-lora"], task={"data": str(no_reference),
                                     "input_column": "question", "output_column": "answer"}), "Column 'answer' is not"),
        "another base": (dict(base_model=str(other_base), adapters=["sum-lora"]), "was made from"),
        "empty data": (dict(base_model=base, adapters=["sum-lora"], task=str(empty)), "empty"),
        "bad benchmark": (dict(base_model=base, adapters=["sum-lora"], benchmarks=[str(bad_task)]), "not valid YAML"),
        "unknown adapter": (dict(base_model=base, adapters=["nope"]), "No adapter or model named 'nope'"),
    }


def test_bad_input_is_explained_and_starts_nothing(home, tiny_dir, adapters, tmp_path, monkeypatch):
    jobs = JobManager(home)
    before = len(jobs.store.runs(kind="eval"))
    for values, message in _bad_input_cases(home, tiny_dir, tmp_path).values():
        with pytest.raises(PlaygroundError, match=message):
            jobs.submit("eval", EvalRecipe(**values))
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "sacrebleu" else real(name, *a))
    with pytest.raises(PlaygroundError, match="pip install sacrebleu"):
        jobs.submit("eval", EvalRecipe(base_model=str(tiny_dir), adapters=["sum-lora"]))
    assert len(jobs.store.runs(kind="eval")) == before  # nothing recorded, nothing started


def test_stop_ends_an_evaluation_and_keeps_what_is_complete(home, tiny_dir, adapters):
    jobs = JobManager(home)
    run = jobs.submit("eval", EvalRecipe(base_model=str(tiny_dir), adapters=adapters, task="summarization",
                                         max_examples=40, batch_size=1, metrics=["rougeL"],
                                         decoding={"max_new_tokens": 48, "do_sample": False}))
    wait_for(lambda: any(e["type"] == "progress" and e["step"] >= 41 for e in jobs.events(run["id"])[0]),
             what="the base to be done")
    jobs.cancel(run["id"])

    def ended():
        jobs.refresh()
        return jobs.get(run["id"])["status"] not in ("running", "queued")

    wait_for(ended, timeout=90, what="the stop")
    final = jobs.get(run["id"])
    assert final["status"] == "stopped", final["error"]
    assert BASE in final["result"]["models"] and len(final["result"]["models"]) < 4


def test_the_cli_prints_base_and_each_adapter_with_intervals(home, tiny_dir, adapters, tmp_path):
    data = tmp_path / "pc.jsonl"  # prompt/completion columns: no mapping needed; the completion is the reference
    data.write_text("".join(json.dumps({"prompt": f"Say {w}", "completion": w}) + "\n" for w in ["hi", "bye", "yes"]))
    out = subprocess.run([sys.executable, "-m", "playground", "eval", "--model", str(tiny_dir), "--adapter", "sum-lora",
                          "--data", str(data), "--metrics", "rougeL,exact_match,perplexity", "--max-new-tokens", "4",
                          "--json"], cwd=ROOT, capture_output=True, text=True, timeout=300, env=os.environ.copy())
    assert out.returncode == 0, out.stderr[-2000:]
    printed = json.loads(out.stdout)
    assert set(printed["tasks"]["main"]) == {"base", "sum-lora"}
    for values in printed["tasks"]["main"].values():
        assert set(values) == {"rougeL", "exact_match", "perplexity"}
        assert all(v["low"] <= v["value"] <= v["high"] for v in values.values())
    bad = subprocess.run([sys.executable, "-m", "playground", "eval", "--model", str(tiny_dir), "--adapter", "sum-lora",
                          "--metrics", "meteor"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "Unknown metric" in bad.stderr
