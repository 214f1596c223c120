"""Team use through the running app's API: with team logins (PLAYGROUND_USERS) everyone logs in;
an annotator labels under their login (whatever name they type) and can't start or stop runs; an
admin's run records who started it, and only an admin stops another's run."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import pytest

from playground.preferences import analysis
from playground.preferences.labels import all_labels
from playground.store import Store
from tests.integration import raw_api
from tests.integration.helpers import api_client
from tests.ui.conftest import start_app, stop_app

USERS = "ana:pw-ana:admin, bo:pw-bo, cy:pw-cy"
TINY = "tiny (built-in, random weights)"


@pytest.fixture(scope="module")
def team(tmp_path_factory):
    folder = tmp_path_factory.mktemp("team")
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("PLAYGROUND_DEMO", raising=False)
        for key, value in {"PLAYGROUND_HOME": str(folder / "home"), "PLAYGROUND_ADAPTERS": str(folder / "adapters"),
                           "PLAYGROUND_USERS": USERS, "PLAYGROUND_MODEL": "tiny"}.items():
            patch.setenv(key, value)
        server = start_app(Path(tempfile.mkdtemp(prefix="team-mode-")))
    yield server.url, Store(folder / "home" / "playground.db")
    stop_app(server)


def login(url: str, name: str, password: str) :
    return api_client(url, auth=(name, password))


def test_the_app_asks_everyone_to_log_in(team):
    url, _ = team
    with pytest.raises(Exception):  # noqa: B017 - gradio_client's own error for a refused login
        login(url, "bo", "wrong")
    assert login(url, "bo", "pw-bo").predict(api_name="/health_check").startswith(("All checks", "Some checks"))


def test_an_annotator_labels_under_their_login_and_cannot_start_runs(team):
    url, store = team
    bo = login(url, "bo", "pw-bo")
    setup = (TINY, ["base"], ["greedy", "sampling T=1.2"], None, "Say hi.\nSay bye.", 8, "Compare two (A/B)", False)
    bo.predict("someone-else", 5, *setup, 0.0, "Prefer the better one.", api_name="/start_labeling")
    answer = bo.predict("", 5, "Prefer the better one.", api_name="/vote_left")
    assert "Saved" in str(answer)
    assert [label.annotator for label in all_labels(store)] == ["bo"]
    # a colleague who shares all of her pairs gets bo's to judge, so the two can be compared
    cy = login(url, "cy", "pw-cy")
    cy.predict("", 5, *setup, 1.0, "Prefer the better one.", api_name="/start_labeling")
    assert "Saved" in str(cy.predict("", 5, "Prefer the better one.", api_name="/vote_right"))
    first, second = all_labels(store)
    assert (first.annotator, second.annotator) == ("bo", "cy") and first.key == second.key
    assert analysis.agreement(all_labels(store))["pairs_labeled_more_than_once"] == 1
    assert "Only an admin can stop runs" in str(raw_api.predict(bo, "/stop_run"))
    assert "Only an admin can start training runs" in str(raw_api.predict(bo, "/launch_run"))


def test_a_run_records_who_started_it_and_only_an_admin_stops_anothers(team):
    url, store = team
    ana, bo = login(url, "ana", "pw-ana"), login(url, "bo", "pw-bo")
    message = raw_api.predict(ana, "/run_evaluation", Model=TINY, Data="sentiment", Examples_per_task=3)
    assert "✅" in str(message), message
    run = next(r for r in store.runs() if r["kind"] == "eval")
    assert run["created_by"] == "ana"
    for dependency in bo.config["dependencies"]:  # what the page's timers do: the run pickers get their choices
        if any(trigger == "tick" for _, trigger in dependency["targets"]):
            raw_api.call(url, dependency["id"], [None] * len(dependency["inputs"]), bo.session_hash, cookies=bo.cookies)
    refused = raw_api.predict(bo, "/stop_evaluation", Evaluation=run["id"])
    assert "Only an admin can stop runs" in str(refused), refused
    deadline = time.monotonic() + 120
    while store.run(run["id"])["status"] in ("queued", "running") and time.monotonic() < deadline:
        if "✅" in str(raw_api.predict(ana, "/stop_evaluation", Evaluation=run["id"])):
            break
        time.sleep(0.5)
    assert store.run(run["id"])["created_by"] == "ana"
