"""Background runs as a user lives them: a queue of one, stop, an app restart in the middle, a
worker killed from outside, the CLI in the foreground, two processes through accelerate, and a
stopped run resumed from its checkpoint (to the step count it was given, its loss going on from
where it stopped); resuming what can't be resumed starts nothing."""

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from pages.finetune import run_progress_cell
from playground.errors import PlaygroundError
from playground.jobs import JobManager
from playground.runs import first_start, seconds_run
from playground.settings import Settings
from playground.training.recipes import recipe_from_dict
from tests.integration.helpers import ended, logged_losses, wait_for

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def home(tmp_path, tiny_dir, monkeypatch):
    monkeypatch.setenv("PLAYGROUND_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("PLAYGROUND_ADAPTERS", str(tmp_path / "adapters"))
    settings = Settings.from_env()
    settings.ensure_dirs()
    return settings


def recipe(tiny_dir, name, steps, method="lora", **extra):
    return recipe_from_dict({"method": method, "base_model": str(tiny_dir), "data": "sentiment", "max_steps": steps,
                             "learning_rate": 3e-3, "per_device_train_batch_size": 4, "max_length": 96,
                             "output_name": name, **extra})


def has_progress(jobs, run_id):
    return any(e["type"] == "progress" for e in jobs.events(run_id)[0])


def test_queue_stop_restart_and_next_run(home, tiny_dir):
    jobs = JobManager(home)
    long = jobs.submit("sft", recipe(tiny_dir, "long-run", 5000, method="full", learning_rate=1e-4))
    short = jobs.submit("sft", recipe(tiny_dir, "short-run", 4))
    assert long["status"] == "running" and short["status"] == "queued"  # one run at a time, in order
    wait_for(lambda: has_progress(jobs, long["id"]), what="the first step")

    restarted = JobManager(home)  # a new app process: state comes from SQLite and the run folder
    assert restarted.get("long-run")["status"] == "running"
    assert has_progress(restarted, long["id"])
    asked = time.time()
    restarted.cancel("long-run")

    def stopped():
        restarted.refresh()
        return restarted.get("long-run")["status"] == "stopped"

    wait_for(stopped, timeout=60, what="the stop")
    assert time.time() - asked < 30
    result = json.loads((home.adapters_dir / "long-run" / "run.json").read_text())
    assert result["status"] == "stopped" and result["method"] == "full"
    assert (home.adapters_dir / "long-run" / "model.safetensors").exists()  # kept where it stopped

    def short_done():
        restarted.refresh()
        return restarted.get("short-run")["status"] in ("finished", "failed")

    wait_for(short_done, what="the queued run")
    done = restarted.get("short-run")
    assert done["status"] == "finished", done["error"]
    assert done["started"] >= restarted.get("long-run")["finished"] - 1
    card = (home.adapters_dir / "short-run" / "README.md").read_text()
    assert "base_model:" in card and "lora" in card
    record = json.loads((home.adapters_dir / "short-run" / "run.json").read_text())
    assert {"method", "base_model", "trainable_params", "total_params", "status", "metrics"} <= set(record)


def test_killed_worker_is_marked_failed(home, tiny_dir):
    jobs = JobManager(home)
    run = jobs.submit("sft", recipe(tiny_dir, "doomed", 5000, method="full"))
    wait_for(lambda: has_progress(jobs, run["id"]), what="the first step")
    os.killpg(jobs.get(run["id"])["pid"], signal.SIGKILL)

    def failed():
        jobs.refresh()
        return jobs.get(run["id"])["status"] == "failed"

    wait_for(failed, timeout=30, what="the failure to be noticed")
    assert "ended unexpectedly" in jobs.get(run["id"])["error"]
    assert not (home.adapters_dir / "doomed").exists()  # nothing half-written in the adapters folder


@pytest.mark.parametrize("change, message", [
    (dict(output_name="../escape"), "not allowed"),
    (dict(input_column="no_such_column"), "is not in"),
    (dict(base_model="nobody/missing-model"), "offline"),
    (dict(template="custom", custom_template="no placeholder"), "{input}"),
])
def test_bad_recipes_start_nothing(home, tiny_dir, change, message):
    jobs = JobManager(home)
    values = recipe(tiny_dir, "bad", 5).to_dict() | change
    with pytest.raises(PlaygroundError, match=message):
        jobs.submit("sft", recipe_from_dict(values))
    assert jobs.store.runs() == []


def test_existing_output_name_needs_confirmation_and_is_said_first(home, tiny_dir):
    """The name is checked before the data and the model are read (the CLI said it after ~8 s), so
    a recipe that is also wrong elsewhere hears about the name first."""
    (home.adapters_dir / "taken").mkdir(parents=True)
    jobs = JobManager(home)
    with pytest.raises(PlaygroundError, match="already exists"):
        jobs.submit("sft", recipe(tiny_dir, "taken", 2, data="no-such-file.jsonl"))
    assert jobs.store.runs() == []


def run_cli(home, *args):
    env = {**os.environ, "PLAYGROUND_HOME": str(home.home), "PLAYGROUND_ADAPTERS": str(home.adapters_dir)}
    return subprocess.run([sys.executable, "-m", "playground", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=600)


def test_cli_train_two_processes_through_accelerate(home, tiny_dir, tmp_path):
    path = tmp_path / "ddp.yaml"
    path.write_text(yaml.safe_dump({"method": "lora", "base_model": str(tiny_dir), "data": "sentiment", "max_steps": 6,
                                    "learning_rate": 0.003, "per_device_train_batch_size": 4, "max_length": 96,
                                    "output_name": "ddp", "num_processes": 2}))
    out = run_cli(home, "train", str(path))
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.startswith("finished:")
    record = json.loads((home.adapters_dir / "ddp" / "run.json").read_text())
    assert record["status"] == "finished"
    run_dir = Path(json.loads(run_cli(home, "runs", "show", "ddp").stdout)["run_dir"])
    events = [json.loads(line) for line in (run_dir / "events.jsonl").read_text().splitlines()]
    assert sum(e["type"] == "train_begin" for e in events) == 1  # only rank 0 records
    last_epoch = max(e["epoch"] for e in events if e["type"] == "log")
    assert last_epoch > 1.0  # 6 steps x 4 rows x 2 processes cover more than the 38 training rows
    # the max-steps note counts each process's share of the rows, as the Trainer does (it said 0.6 epochs: one device's)
    said = float(re.search(r"so this run is about ([\d.]+) epochs", out.stderr).group(1))
    assert said == pytest.approx(last_epoch, abs=0.05) and "× 2 processes" in out.stderr


def test_cli_train_set_overrides_list_and_errors(home, tiny_dir, tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text(yaml.safe_dump({"method": "lora", "base_model": str(tiny_dir), "data": "sentiment", "max_steps": 2,
                                    "max_length": 64, "output_name": "cli-run"}))
    out = run_cli(home, "train", str(path), "--set", "lora_r=4", "--set", "learning_rate=0.01")
    assert out.returncode == 0, out.stderr[-2000:]
    assert "note: Max steps (2) replaces the epochs setting" in out.stderr  # what the app says under Launch
    recipe_saved = json.loads((home.adapters_dir / "cli-run" / "run.json").read_text())["recipe"]
    assert recipe_saved["lora_r"] == 4 and recipe_saved["learning_rate"] == 0.01
    listing = run_cli(home, "runs", "list").stdout
    assert "cli-run" in listing and "finished" in listing
    for args, message in [
        (("train", str(path)), "already exists"),
        (("train", str(path), "--set", "lora_r=0"), "lora_r"),
        (("train", str(path), "--set", "method=magic"), "Unknown method"),
        (("train", str(path), "--set", "learning_rate=-1"), "learning_rate"),
        (("train", str(path), "--set", "max_length=0"), "max_length"),
        (("train", str(tmp_path / "missing.yaml")), "not found"),
        (("runs", "cancel", "nope"), "No run"),
    ]:
        bad = run_cli(home, *args)
        errors = [line for line in bad.stderr.splitlines() if line.startswith("error:")]
        assert bad.returncode != 0 and len(errors) == 1 and message in errors[0], bad.stderr[-1000:]
    generated = run_cli(home, "generate", "--model", str(tiny_dir), "--adapter", "cli-run", "--prompt", "Hi",
                        "--max-new-tokens", "3", "--json")
    assert generated.returncode == 0 and "token_ids" in json.loads(generated.stdout)
    assert "chat template, as fine-tuning wrote" in generated.stderr  # the adapter is prompted as it was trained


def _jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return str(path)


def test_doomed_data_is_refused_before_launch_with_what_to_change(home, tiny_dir, tmp_path):
    few = _jsonl(tmp_path / "few.jsonl", [{"prompt": f"p{i}", "completion": f"c{i}"} for i in range(5)])
    long = _jsonl(tmp_path / "long.jsonl", [{"prompt": "word " * 300, "completion": "yes"} for _ in range(20)])
    objects = _jsonl(tmp_path / "objects.jsonl", [{"prompt": [{"role": "user", "content": "hi"}], "completion": "x"}] * 20)
    jobs = JobManager(home)
    for change, message in [
        (dict(data=few), "none to validate on"),
        (dict(data=long, max_length=32), "Every training prompt is at least max_length"),
        (dict(data=objects), "holds lists"),
        (dict(data="Sentiment"), "Did you mean the built-in set 'sentiment'"),
        (dict(lr_scheduler_type="sometimes"), "TRL's SFTConfig refuses these settings \\(with trainer_args\\)"),
    ]:
        started = time.time()
        with pytest.raises(PlaygroundError, match=message):
            jobs.submit("sft", recipe(tiny_dir, "doomed", 5, **change))
        assert time.time() - started < 10  # said at once, not after a Hub timeout
    assert jobs.store.runs() == []
    ok = jobs.prepare("sft", recipe(tiny_dir, "some-long", 5, data=few, val_fraction=0.0))
    assert len(ok["notes"]) == 1 and ok["notes"][0].startswith("Max steps (5) replaces the epochs setting")


def test_examples_too_long_for_max_length_are_named_before_launch(home, tiny_dir, tmp_path):
    rows = [{"prompt": "word " * 300, "completion": "yes"}] * 5 + [{"prompt": "short", "completion": "yes"}] * 15
    mixed = _jsonl(tmp_path / "mixed.jsonl", rows)
    run = JobManager(home).prepare("sft", recipe(tiny_dir, "mixed", 5, data=mixed, max_length=64, val_fraction=0.0,
                                                 test_fraction=0.0))
    assert run["notes"] and "5 of 20 training examples" in run["notes"][0]
    assert run["notes"][1] == ("Max steps (5) replaces the epochs setting: one epoch of the 15 training examples is 4 steps "
                               "(batch 4 × 1 accumulation), so this run is about 1.2 epochs.")


# ---- resume: a stopped run continues from its last checkpoint, as the same run ----
def test_a_stopped_run_resumes_from_its_checkpoint_to_the_same_step_count(home, tiny_dir):
    jobs = JobManager(home)
    run = jobs.submit("sft", recipe(tiny_dir, "resumed", 80, checkpoint_minutes=60, val_fraction=0))  # none by the clock here
    wait_for(lambda: len(logged_losses(jobs, run["id"])) >= 25, timeout=300, what="25 logged steps")
    jobs.cancel("resumed")
    wait_for(ended(jobs, "resumed"), timeout=120, what="the stop")
    stopped = jobs.get("resumed")
    assert stopped["status"] == "stopped"
    before = logged_losses(jobs, run["id"])
    stop_step = stopped["metrics"]["stopped_at_step"]
    assert 25 <= stop_step < 80
    assert run_progress_cell(stopped, jobs) == f"stopped at {stop_step}/80"  # its row in the runs table
    assert [e["step"] for e in jobs.events(run["id"])[0] if e["type"] == "checkpoint"] == [stop_step]
    log = jobs.log_tail(run["id"], 400)  # the lines the Fine-tune tab shows: no library progress bars among them
    assert "Loading weights" not in log and "it/s]" not in log, log

    cli = subprocess.run([sys.executable, "-m", "playground", "train", "--resume", "resumed"], cwd=ROOT,
                         capture_output=True, text=True, timeout=600)  # the same run, in the foreground
    assert cli.returncode == 0 and cli.stdout.startswith("finished:"), cli.stdout + cli.stderr[-2000:]
    done = jobs.get("resumed")
    assert done["id"] == run["id"]
    assert done["status"] == "finished", done["error"]
    # the runs table shows when it first started and how long it ran in all (the time before the stop too)
    assert first_start(done) == stopped["started"] < done["started"]
    assert seconds_run(done) == pytest.approx(seconds_run(stopped) + done["finished"] - done["started"])
    progress = [e for e in jobs.events(run["id"])[0] if e["type"] == "progress"]
    assert progress[-1]["step"] == progress[-1]["max_steps"] == 80
    after = [(s, loss) for s, loss in logged_losses(jobs, run["id"]) if s > stop_step]
    assert after[0][0] == stop_step + 1  # no step trained twice, none skipped
    first, last_before = before[0][1], sum(loss for _, loss in before[-5:]) / 5
    resumed_at = sum(loss for _, loss in after[:5]) / 5
    assert first - last_before > 0.3  # it had learned something before the stop...
    assert abs(resumed_at - last_before) < abs(resumed_at - first)  # ...and goes on from there, not from the start
    # its train loss is the mean over all 80 steps, not over the resumed part only (the trainer's own number)
    every_step = logged_losses(jobs, run["id"])
    assert [s for s, _ in every_step] == list(range(1, 81))
    assert done["metrics"]["train_loss"] == pytest.approx(sum(loss for _, loss in every_step) / 80, abs=1e-3)
    assert (home.adapters_dir / "resumed" / "adapter_model.safetensors").exists()
    checkpoints = [e["step"] for e in jobs.events(run["id"])[0] if e["type"] == "checkpoint"]
    assert checkpoints == [stop_step, 80]  # and one at the end, against a crash while measuring or saving...
    assert not (Path(done["run_dir"]) / "checkpoints").exists()  # ...deleted once the result is published


def test_what_cannot_be_resumed_says_why_and_starts_nothing(home, tiny_dir):
    jobs = JobManager(home)
    with pytest.raises(PlaygroundError, match="No run 'nobody'"):
        jobs.resume("nobody")
    done = jobs.run_foreground("sft", recipe(tiny_dir, "short", 3))
    assert done["status"] == "finished"
    with pytest.raises(PlaygroundError, match="'short' finished: there is nothing to resume"):
        jobs.resume("short")
    assert jobs.get("short")["status"] == "finished"

    cli = subprocess.run([sys.executable, "-m", "playground", "train", "--resume", "nobody"], cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert cli.returncode != 0 and cli.stderr.strip().splitlines() == ["error: No run 'nobody'. `python -m playground "
                                                                       "runs list` shows them."]
