"""Runs start from a launcher that has the training libraries imported (playground.launcher):
each worker is forked with its own session, folder and environment, as a fresh process would
be, and when the launcher is gone or fails, runs still start the plain way."""

import os
import signal
from pathlib import Path

import psutil
import pytest

from playground import launcher
from playground.jobs import JobManager
from playground.settings import Settings
from tests.integration.echo_kind import EchoRecipe
from tests.integration.helpers import wait_for

pytestmark = pytest.mark.skipif(not launcher.wanted(), reason="the launcher is not used on this machine")


def running_worker(jobs: JobManager, run_id: str) -> psutil.Process:
    wait_for(lambda: any(e["type"] == "progress" for e in jobs.events(run_id)[0]), what="the first step")
    return psutil.Process(jobs.store.run(run_id)["pid"])


def ended(jobs: JobManager, run_id: str) -> dict:
    def check():
        jobs.refresh()
        run = jobs.store.run(run_id)
        return run if run["status"] not in ("queued", "running") else None

    return wait_for(check, what="the run's end")


def test_a_run_is_forked_by_the_launcher_as_its_own_process(echo_home, tmp_path, monkeypatch):
    # the launcher was started for another home (as by an earlier app or test): a run must still
    # get its own environment (PLAYGROUND_HOME and the rest), not the one the launcher started with
    launcher.close_all()
    with monkeypatch.context() as elsewhere:
        elsewhere.setenv("PLAYGROUND_HOME", str(tmp_path / "another-home"))
        other = JobManager(Settings.from_env())
        other.warm_up()
    assert launcher.current().wait_until_ready()  # as an app some seconds after its start
    jobs = JobManager(echo_home)
    run = jobs.submit("echo", EchoRecipe(message="forked", steps=400, delay=0.05))
    worker = running_worker(jobs, run["id"])
    assert worker.ppid() == launcher.current().proc.pid  # forked by the launcher, not started by this process
    assert os.getsid(worker.pid) == worker.pid  # its own session: stopped and killed as a process group
    assert Path(worker.cwd()) == jobs.working_folder()
    worker.send_signal(signal.SIGTERM)  # what a stop that the STOP file missed sends: it stops cleanly
    stopped = ended(jobs, run["id"])
    # recorded by the worker in this home's database (its PLAYGROUND_HOME), with what it did
    assert stopped["status"] == "stopped" and 0 < stopped["metrics"]["steps_done"] < 400
    assert other.store.runs() == []


def test_a_run_starts_when_the_launcher_died_or_failed(echo_home, monkeypatch):
    jobs = JobManager(echo_home)
    first = jobs.submit("echo", EchoRecipe(message="one", steps=2, delay=0.01))
    assert ended(jobs, first["id"])["status"] == "finished"
    dead = launcher.current()
    dead.proc.kill()  # e.g. killed by the system for memory
    dead.proc.wait()
    second = jobs.submit("echo", EchoRecipe(message="two", steps=2, delay=0.01))
    assert ended(jobs, second["id"])["result"] == {"echo": "two"}  # started while a new launcher imports
    assert launcher.current().wait_until_ready()
    third = jobs.submit("echo", EchoRecipe(message="three", steps=400, delay=0.05))
    assert running_worker(jobs, third["id"]).ppid() == launcher.current().proc.pid  # by the new launcher
    jobs.cancel(third["id"])
    assert ended(jobs, third["id"])["status"] == "stopped"

    def unavailable(*args, **kwargs):
        raise launcher.LauncherUnavailable("no answer")

    monkeypatch.setattr(launcher, "start_worker", unavailable)
    fourth = jobs.submit("echo", EchoRecipe(message="four", steps=400, delay=0.05))
    worker = running_worker(jobs, fourth["id"])
    assert worker.ppid() == os.getpid()  # started the plain way, by this process
    jobs.cancel(fourth["id"])
    assert ended(jobs, fourth["id"])["status"] == "stopped"


def test_the_launcher_is_not_used_when_turned_off_or_for_several_processes(monkeypatch):
    assert not launcher.wanted(processes=2)  # `accelerate launch` starts those
    monkeypatch.setenv("PLAYGROUND_PRELOAD_WORKERS", "0")
    assert not launcher.wanted()
