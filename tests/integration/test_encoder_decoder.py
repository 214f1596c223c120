"""Fine-tuning an encoder-decoder model as a user does it (FLAN-T5's architecture, tiny and random):
full and LoRA runs through the job system on the built-in summarization set, then Evaluate
compares both with their base on the held-out split the runs wrote (answers, the decoder's
likelihood of each reference, a benchmark through lm-eval's seq2seq wrapper); the other methods
learn it too; stop, resume, merge."""

import json
from pathlib import Path

import pytest

from playground.evaluation.recipe import BASE, EvalRecipe
from playground.jobs import JobManager
from playground.runs import EVENTS_FILE, read_events
from playground.training.recipes import recipe_from_dict
from tests.integration.helpers import ended, logged_losses, wait_for
from tests.integration.test_evaluation import home  # noqa: F401 (the module's own home folder)

METHODS = {"lora": 3e-3, "full": 1e-3}


@pytest.fixture(scope="module")
def runs(home, seq2seq_dir):  # noqa: F811
    jobs = JobManager(home)
    out = {}
    for method, learning_rate in METHODS.items():
        recipe = recipe_from_dict({"method": method, "base_model": str(seq2seq_dir), "data": "summarization",
                                   "max_steps": 40, "per_device_train_batch_size": 8, "learning_rate": learning_rate,
                                   "val_fraction": 0.1, "test_fraction": 0.25, "output_name": f"t5-{method}"})
        out[method] = jobs.run_foreground("sft", recipe)
        assert out[method]["status"] == "finished", out[method]["error"]
    return out


def test_both_methods_learn_and_save_what_the_labs_load(home, runs):  # noqa: F811
    for method, run in runs.items():
        metrics = run["metrics"]
        assert metrics["eval_loss"] < metrics["eval_loss_before"] * 0.6, (method, metrics)  # the held-out loss fell
        folder = home.adapters_dir / f"t5-{method}"
        saved = "adapter_config.json" if method == "lora" else "config.json"
        assert (folder / saved).exists() and (folder / "test.jsonl").exists()
    lora = json.loads((home.adapters_dir / "t5-lora" / "adapter_config.json").read_text())
    assert lora["task_type"] == "SEQ_2_SEQ_LM" and set(lora["target_modules"]) >= {"q", "k", "v", "o"}
    logs = [e for e in read_events(Path(runs["lora"]["run_dir"]) / EVENTS_FILE)[0] if e.get("type") == "log"]
    assert any(e.get("tokens_per_s", 0) > 0 for e in logs) and any("loss" in e for e in logs)  # the live charts' data
    accuracy = [e["eval_mean_token_accuracy"] for e in logs if "eval_mean_token_accuracy" in e]
    assert len(accuracy) >= 5 and accuracy[-1] > accuracy[0]  # the held-out token accuracy chart, rising


def test_evaluate_finds_both_tuned_models_better_than_their_base(home, seq2seq_dir, runs):  # noqa: F811
    run = JobManager(home).run_foreground("eval", EvalRecipe(
        base_model=str(seq2seq_dir), adapters=["t5-lora", "t5-full"], max_examples=10,
        decoding={"max_new_tokens": 24, "do_sample": False}, benchmarks=["playground_mc"], benchmark_limit=6))
    assert run["status"] == "finished", run["error"]
    main = run["result"]["tasks"]["main"]
    assert main["name"] == "held-out test split of t5-lora" and main["n"] == 10
    for model in ("t5-lora", "t5-full"):
        assert main["changes"][model]["rougeL"]["low"] > 0, main["changes"][model]["rougeL"]  # better answers
        assert main["changes"][model]["perplexity"]["high"] < 0  # the references became more likely
    assert run["result"]["base_unchanged"] is True
    for model in (BASE, "t5-lora", "t5-full"):
        acc = run["result"]["benchmarks"][model]["playground_mc"]["acc"]
        assert 0 <= acc["low"] <= acc["value"] <= acc["high"] <= 1


@pytest.mark.parametrize("method, learning_rate, steps", [("prompt_tuning", 3e-1, 16), ("qlora", 3e-3, 8),
                                                          ("ia3", 3e-2, 16), ("selective", 1e-3, 16)])
def test_every_other_method_learns_it_too(home, seq2seq_dir, method, learning_rate, steps):  # noqa: F811
    """QLoRA (a 4-bit T5), prompt tuning (a soft prompt before the encoder's input, as Lester et al.
    tuned T5), (IA)³ (as its paper tuned T0) and selective (the last blocks of both stacks)."""
    extra = {"prompt_tuning_init": "RANDOM"} if method == "prompt_tuning" else {}
    run = JobManager(home).run_foreground("sft", recipe_from_dict({
        "method": method, "base_model": str(seq2seq_dir), "data": "summarization", "max_steps": steps,
        "per_device_train_batch_size": 8, "learning_rate": learning_rate, "val_fraction": 0.1, "test_fraction": 0,
        "output_name": f"t5-{method}", **extra}))
    assert run["status"] == "finished", run["error"]
    assert run["metrics"]["eval_loss"] < run["metrics"]["eval_loss_before"] * 0.9, run["metrics"]  # the held-out loss fell


def test_a_stopped_run_resumes_where_it_stopped(home, seq2seq_dir):  # noqa: F811
    """Stopped mid-run (the hooks on T5's blocks), it resumes from its checkpoint: no step trained
    twice or skipped, and the loss goes on from where it was, not from the start."""
    jobs = JobManager(home)
    run = jobs.submit("sft", recipe_from_dict({
        "method": "lora", "base_model": str(seq2seq_dir), "data": "summarization", "max_steps": 50,
        "per_device_train_batch_size": 8, "learning_rate": 3e-3, "val_fraction": 0, "output_name": "t5-resumed",
        "checkpoint_minutes": 60}))
    wait_for(lambda: len(logged_losses(jobs, run["id"])) >= 12, timeout=300, what="12 logged steps")
    jobs.cancel("t5-resumed")
    wait_for(ended(jobs, "t5-resumed"), timeout=120, what="the stop")
    stop_step = jobs.get("t5-resumed")["metrics"]["stopped_at_step"]
    before = logged_losses(jobs, run["id"])
    jobs.resume("t5-resumed")
    wait_for(ended(jobs, "t5-resumed"), timeout=300, what="the resumed run")
    assert jobs.get("t5-resumed")["status"] == "finished"
    after = [(step, loss) for step, loss in logged_losses(jobs, run["id"]) if step > stop_step]
    assert after[0][0] == stop_step + 1 and after[-1][0] == 50
    first, last_before = before[0][1], before[-1][1]
    assert first - last_before > 5 and abs(after[0][1] - last_before) < abs(after[0][1] - first)


def test_a_lora_adapter_merges_into_a_model_that_writes_what_base_and_adapter_wrote(home, runs):  # noqa: F811
    from playground.generation import DecodingParams, generate
    from playground.merge_kind import MergeRecipe
    from playground.models import ModelManager

    merged = JobManager(home).run_foreground("merge", MergeRecipe(adapter="t5-lora", output_name="t5-merged"))
    assert merged["status"] == "finished", merged["error"]
    models = ModelManager(home)
    prompt = json.loads((home.adapters_dir / "t5-lora" / "test.jsonl").read_text().splitlines()[0])["prompt"]
    params = DecodingParams(max_new_tokens=12)
    base = models.get(runs["lora"]["recipe"]["base_model"], adapters=("t5-lora",))
    with_adapter = generate(base, prompt, params, adapter="t5-lora")
    alone = generate(models.get(str(home.adapters_dir / "t5-merged")), prompt, params)
    assert alone.token_ids == with_adapter.token_ids and alone.logprobs == pytest.approx(with_adapter.logprobs, abs=1e-3)
