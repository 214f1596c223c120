"""The job system is the same for every kind of run: a kind added in a test (echo_kind.py, one
registry line) is queued, stopped, re-attached after a restart and reported like fine-tuning.
Also what a run's name, its database and its folder must survive: races, damage and loss."""

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from playground.errors import PlaygroundError
from playground.jobs import JobManager
from playground.runs import META_FILE, STOP_FILE
from playground.training.recipes import recipe_from_dict
from playground.worker import publish
from tests.integration.echo_kind import EchoRecipe
from tests.integration.helpers import wait_for

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def home(echo_home):
    return echo_home


def settled(jobs, run_id, statuses=("finished", "stopped", "failed", "cancelled")):
    def check():
        jobs.refresh()
        return jobs.store.run(run_id)["status"] in statuses

    return check


def test_a_new_kind_is_queued_stopped_reattached_and_reported(home):
    jobs = JobManager(home)
    slow = jobs.submit("echo", EchoRecipe(message="slow", steps=400, delay=0.1))
    quick = jobs.submit("echo", EchoRecipe(message="quick", steps=3, delay=0.05))
    assert (slow["status"], quick["status"]) == ("running", "queued")  # one at a time, in order
    assert slow["kind"] == "echo" and slow["output"] == "result" and slow["method"] is None
    assert slow["name"] != quick["name"]  # automatic names never repeat
    wait_for(lambda: any(e["type"] == "progress" for e in jobs.events(slow["id"])[0]), what="the first step")

    restarted = JobManager(home)  # the app restarts: the run is found again
    assert restarted.store.run(slow["id"])["status"] == "running"
    assert "saves" in restarted.cancel(slow["id"])
    wait_for(settled(restarted, slow["id"]), what="the stop")
    stopped = restarted.store.run(slow["id"])
    assert stopped["status"] == "stopped" and stopped["result"]["echo"] == "slow"[:stopped["metrics"]["steps_done"]]

    wait_for(settled(restarted, quick["id"]), what="the queued run")
    done = restarted.store.run(quick["id"])
    assert done["status"] == "finished", done["error"]
    assert done["result"] == {"echo": "quick"} and done["metrics"] == {"steps_done": 3}
    assert not any(home.adapters_dir.iterdir())  # a result kind writes no folder

    env = {**os.environ, "PLAYGROUND_HOME": str(home.home), "PLAYGROUND_ADAPTERS": str(home.adapters_dir)}
    listing = subprocess.run([sys.executable, "-m", "playground", "runs", "list"], cwd=ROOT, env=env,
                             capture_output=True, text=True, timeout=120)
    assert quick["id"] in listing.stdout and "echo" in listing.stdout and "finished" in listing.stdout


def test_bad_input_of_a_kind_starts_nothing(home):
    jobs = JobManager(home)
    with pytest.raises(PlaygroundError, match="steps must be at least 1"):
        jobs.submit("echo", EchoRecipe(steps=0))
    with pytest.raises(PlaygroundError, match="Unknown run kind"):
        jobs.submit("no-such-kind", EchoRecipe())
    assert jobs.store.runs() == [] and not any((home.home / "runs").glob("*"))


def test_stop_before_start_is_a_cancel_without_a_traceback(home):
    jobs = JobManager(home)
    run = jobs.prepare("echo", EchoRecipe(steps=50), status="running")
    (Path(run["run_dir"]) / STOP_FILE).touch()
    jobs._spawn(run)
    wait_for(settled(jobs, run["id"]), what="the worker")
    ended = jobs.store.run(run["id"])
    assert ended["status"] == "cancelled" and "nothing was trained or saved" in ended["error"]
    log = jobs.log_tail(run["id"])
    assert "Traceback" not in log and "Stopped before it started" in log


def test_cancel_never_marks_a_claimed_run_cancelled(home):
    jobs = JobManager(home)
    run = jobs.prepare("echo", EchoRecipe(steps=2))
    jobs.store.claim_next_queued()  # a monitor claims it just before the cancel writes
    message = jobs.cancel(run["id"])
    assert "Stopping" in message and jobs.store.run(run["id"])["status"] == "running"


def test_simultaneous_launches_of_one_name_record_one_run(home, tiny_dir):
    jobs = JobManager(home)
    recipe = recipe_from_dict({"method": "lora", "base_model": str(tiny_dir), "data": "sentiment", "max_steps": 2,
                               "output_name": "twin"})
    outcomes, barrier = [], threading.Barrier(4)

    def launch():
        barrier.wait()
        try:
            outcomes.append(JobManager(home).prepare("sft", recipe)["id"])
        except PlaygroundError as err:
            outcomes.append(str(err))

    threads = [threading.Thread(target=launch) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    recorded = [r for r in jobs.store.runs() if r["name"] == "twin"]
    assert len(recorded) == 1, outcomes
    assert sum("already queued" in o for o in outcomes) == 3


def test_renaming_an_adapter_to_a_queued_runs_name_is_refused(home):
    from playground import adapters

    jobs = JobManager(home)
    recipe = EchoRecipe(output_name="future")
    jobs.store.add_run({"id": "q1", "name": "future", "kind": "sft", "output": "adapter", "status": "queued",
                        "recipe": recipe.to_dict(), "run_dir": str(home.home / "runs" / "q1")})
    (home.adapters_dir / "existing").mkdir()
    (home.adapters_dir / "existing" / "adapter_config.json").write_text("{}")
    with pytest.raises(PlaygroundError, match="queued run will write its result as 'future'"):
        adapters.rename(home.adapters_dir, "existing", "future", store=jobs.store)
    assert (home.adapters_dir / "existing").is_dir() and not (home.adapters_dir / "future").exists()


def test_a_result_never_lands_inside_another_folder(tmp_path):
    adapters_dir = tmp_path / "adapters"
    (adapters_dir / "taken").mkdir(parents=True)
    (adapters_dir / "taken" / "someone-else.txt").write_text("keep me")
    output = tmp_path / "run" / "output"
    output.mkdir(parents=True)
    (output / "adapter_model.safetensors").write_text("weights")
    final = publish(output, adapters_dir, "taken", overwrite=False, run_id="20261127-000000-abcdef")
    assert final.name == "taken-abcdef" and (final / "adapter_model.safetensors").exists()
    assert sorted(p.name for p in (adapters_dir / "taken").iterdir()) == ["someone-else.txt"]


def test_names_with_a_line_break_are_refused(home, tiny_dir):
    with pytest.raises(PlaygroundError, match="not allowed"):
        recipe_from_dict({"method": "lora", "base_model": str(tiny_dir), "data": "sentiment", "output_name": "abc\n"})
    from playground import adapters

    (home.adapters_dir / "a").mkdir()
    with pytest.raises(PlaygroundError, match="not allowed"):
        adapters.rename(home.adapters_dir, "a", "b\n")


def test_an_emptied_database_is_rebuilt_from_the_run_folders(home):
    jobs = JobManager(home)
    run = jobs.submit("echo", EchoRecipe(message="kept", steps=2, delay=0.01))
    wait_for(settled(jobs, run["id"]), what="the run")
    db = home.home / "playground.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    db.write_bytes(b"")  # emptied
    again = JobManager(home)
    assert again.recovered == 1
    found = again.store.run(run["id"])
    assert found["name"] == run["name"] and found["kind"] == "echo" and found["status"] == "finished"
    assert json.loads((Path(run["run_dir"]) / META_FILE).read_text())["id"] == run["id"]


def test_a_damaged_database_stops_the_app_with_one_line(home):
    (home.home / "playground.db").write_bytes(b"garbage" * 1000)
    env = {**os.environ, "PLAYGROUND_HOME": str(home.home), "PLAYGROUND_ADAPTERS": str(home.adapters_dir),
           "GRADIO_SERVER_PORT": "0"}
    out = subprocess.run([sys.executable, "app.py"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert "playground.db" in out.stderr and "mv" in out.stderr


def test_a_damaged_event_line_does_not_hide_the_run(home):
    jobs = JobManager(home)
    run = jobs.submit("echo", EchoRecipe(steps=3, delay=0.01))
    wait_for(settled(jobs, run["id"]), what="the run")
    with open(Path(run["run_dir"]) / "events.jsonl", "a") as f:
        f.write("{broken\n")
    env = {**os.environ, "PLAYGROUND_HOME": str(home.home), "PLAYGROUND_ADAPTERS": str(home.adapters_dir)}
    out = subprocess.run([sys.executable, "-m", "playground", "runs", "show", run["id"]], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    shown = json.loads(out.stdout)
    assert shown["status"] == "finished" and "damaged line" in shown["warnings"][0]


def test_ended_runs_can_be_removed_but_not_active_ones(home):
    jobs = JobManager(home)
    done = jobs.submit("echo", EchoRecipe(steps=1, delay=0.01))
    wait_for(settled(jobs, done["id"]), what="the run")
    active = jobs.submit("echo", EchoRecipe(steps=400, delay=0.1))
    with pytest.raises(PlaygroundError, match="still queued or running"):
        jobs.delete([active["id"]])
    assert [r["id"] for r in jobs.clear_ended()] == [done["id"]]
    assert jobs.store.run(done["id"]) is None and not Path(done["run_dir"]).exists()
    assert jobs.store.run(active["id"])["status"] == "running"
    jobs.cancel(active["id"])
    wait_for(settled(jobs, active["id"]), what="the stop")
