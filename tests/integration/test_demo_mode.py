"""Demo mode through the running app's API, as an anonymous client would use it: every admin
endpoint refuses (even called by fn_index after a timer filled the pickers), the admin token
unlocks only the session that gave it, the server's files are never read (one message whether a
path exists or not), and the caps and the rate limit refuse before any work."""

from __future__ import annotations

import json
import re
import tempfile
import uuid
from pathlib import Path

import httpx
import pytest

from tests.integration import raw_api
from tests.ui.conftest import start_app, stop_app

TOKEN = "open-sesame-4821"
ADMIN_ENDPOINTS = {
    "launch_run", "stop_run", "resume_run", "remove_run", "clear_ended_runs", "rename_adapter", "merge_adapter",
    "push_adapter", "delete_adapter", "stop_evaluation", "save_guidelines", "push_labels", "import_labels",
    "train_reward_model", "train_dpo_kto", "train_ppo", "train_rloo_grpo", "stop_rlhf_run", "resume_rlhf_run",
    "score_with_another", "allow_model_code", "remove_model_code",
}
OPEN_ENDPOINTS = {
    "unlock_admin", "load_model", "load_builtin_task", "load_file", "load_hub_dataset", "run_prompts", "run_batch",
    "next_token_distribution", "generate", "stop_generation", "sample_n", "compare_adapters", "preview_training_data",
    "check_training_cost", "run_evaluation", "export_evaluation", "start_labeling", "rate_completion", "next_pair",
    "vote_left", "vote_right", "vote_tie", "vote_both_bad", "skip_pair", "undo_label", "label_stats", "export_labels",
    "count_preference_pairs", "score_reply", "health_check",
    "_check_login_status",  # Gradio's own, for the "Sign in with Hugging Face" button
}
# What a Hugging Face Space with `hf_oauth: true` sets (nothing is fetched unless someone signs in).
SPACE = {"SYSTEM": "spaces", "SPACE_ID": "someone/llm-playground", "OAUTH_CLIENT_ID": "test-client", "OAUTH_CLIENT_SECRET": "test-secret",
         "OAUTH_SCOPES": "openid profile", "OPENID_PROVIDER_URL": "https://huggingface.co"}
REFUSED = "Only an admin can"
DEMO_FILES = "This demo reads no files of its server"


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    folder = tmp_path_factory.mktemp("demo")
    adapters = folder / "adapters"
    for name in ("keep-me", "rename-me"):
        (adapters / name).mkdir(parents=True)
        (adapters / name / "adapter_config.json").write_text(json.dumps({"peft_type": "LORA", "base_model_name_or_path": "tiny"}))
    env = {"PLAYGROUND_HOME": str(folder / "home"), "PLAYGROUND_ADAPTERS": str(adapters), **SPACE,
           "PLAYGROUND_ADMIN_TOKEN": TOKEN, "PLAYGROUND_MODEL": "tiny", "PLAYGROUND_LIMIT_UPLOAD_MB": "1",
           "PLAYGROUND_LIMIT_REQUESTS_PER_MINUTE": "60"}
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("PLAYGROUND_DEMO", raising=False)  # on a Space, demo mode is on by default
        for key, value in env.items():
            patch.setenv(key, value)
        server = start_app(Path(tempfile.mkdtemp(prefix="demo-mode-")))
    try:
        yield server, folder, raw_api.config(server.url)
    finally:
        stop_app(server)


def fill_pickers(url: str, cfg: dict, session: str) -> None:
    """What the issue found: posting to the timers' fn_index fills the pickers' choices for a session."""
    for dependency in cfg["dependencies"]:
        if any(trigger == "tick" for _, trigger in dependency["targets"]):
            raw_api.call(url, dependency["id"], raw_api.defaults(cfg, dependency["id"]), session)


def status_text(message: dict) -> str:
    """The messages an event sent back, without its timings."""
    data = message.get("output", {}).get("data", [])
    return " | ".join(str(x) for x in data if isinstance(x, str)) or raw_api.texts(message)


def form(cfg: dict, api_name: str, **values_by_elem_id) -> tuple[int, list]:
    index = raw_api.fn_index(cfg, api_name)
    data = raw_api.defaults(cfg, index)
    for position, elem_id in enumerate(raw_api.input_ids(cfg, index)):
        if elem_id in values_by_elem_id:
            data[position] = values_by_elem_id[elem_id]
    return index, data


def test_every_named_endpoint_is_classified_as_admin_or_open(demo):
    _, _, cfg = demo
    named = {d["api_name"] for d in cfg["dependencies"] if d.get("api_visibility") == "public"}
    assert named == ADMIN_ENDPOINTS | OPEN_ENDPOINTS, "a new endpoint: decide whether it needs an admin"


def test_every_admin_endpoint_refuses_an_anonymous_client_even_by_fn_index(demo):
    server, folder, cfg = demo
    session = uuid.uuid4().hex
    fill_pickers(server.url, cfg, session)
    guidelines_before = httpx.get(server.url, timeout=30).status_code  # the page answers before and after
    for api_name in sorted(ADMIN_ENDPOINTS):
        index, data = form(cfg, api_name, **{"ft-adapter-picker": "keep-me", "ft-adapter-name": "taken",
                                             "ft-confirm-delete": True, "ft-confirm-remove": True})
        message = raw_api.call(server.url, index, data, session)
        assert message["success"] and REFUSED in status_text(message), (api_name, status_text(message))
    assert (folder / "adapters" / "keep-me" / "adapter_config.json").exists()
    assert not (folder / "adapters" / "taken").exists()
    assert not list((folder / "home" / "runs").glob("*")) if (folder / "home" / "runs").exists() else True
    assert httpx.get(server.url, timeout=30).status_code == guidelines_before == 200


def test_the_admin_token_makes_only_its_own_session_an_admin(demo):
    server, folder, cfg = demo
    unlock = raw_api.fn_index(cfg, "unlock_admin")
    admin, other = uuid.uuid4().hex, uuid.uuid4().hex
    wrong = raw_api.call(server.url, unlock, ["not-it"], admin)
    assert "not the admin token" in status_text(wrong)
    assert "You are an admin" in status_text(raw_api.call(server.url, unlock, [TOKEN], admin))
    for session in (admin, other):
        fill_pickers(server.url, cfg, session)
    index, data = form(cfg, "rename_adapter", **{"ft-adapter-picker": "rename-me", "ft-adapter-name": "renamed"})
    refused = raw_api.call(server.url, index, data, other)
    assert REFUSED in status_text(refused) and (folder / "adapters" / "rename-me").is_dir()
    done = raw_api.call(server.url, index, data, admin)
    assert "✅" in status_text(done), status_text(done)
    assert (folder / "adapters" / "renamed").is_dir() and not (folder / "adapters" / "rename-me").exists()


@pytest.mark.parametrize(("api_name", "elem_id", "existing", "missing"), [
    ("load_hub_dataset", "pl-hub-id", "/etc", "/no-such-folder"),
    ("load_hub_dataset", "pl-hub-id", "assets/examples", "assets/no-such-folder"),  # Hub-id shaped, relative
    ("preview_training_data", "ft-data", "/etc/passwd", "/etc/no-such-file"),
    ("preview_training_data", "ft-data", "/etc/os-release.csv", "/etc/no-such-file.csv"),
    ("load_model", "model-picker", "/root", "/no-such-model-folder"),
    ("load_model", "model-picker", "assets", "no-such-folder-here"),
    ("run_evaluation", "ev-data", "/etc/passwd", "/etc/no-such-file"),
    ("run_evaluation", "ev-more-benchmarks", "/etc/ssl/openssl.cnf.yaml", "/etc/no-such-task.yaml"),
])
def test_a_server_path_is_refused_with_the_same_message_whether_it_exists_or_not(demo, api_name, elem_id, existing,
                                                                                     missing):
    server, _, cfg = demo
    answers = []
    for value in (existing, missing):
        index, data = form(cfg, api_name, **{"ev-data": "sentiment", elem_id: value})
        message = raw_api.call(server.url, index, data)
        answers.append(re.sub(re.escape(value), "<path>", status_text(message)))
    assert answers[0] == answers[1], answers
    assert "root:" not in answers[0] and "Traceback" not in answers[0]
    if value.startswith("/"):
        assert any(m in answers[0] for m in (DEMO_FILES, "loads no model folders", "not task files")), answers[0]


def test_a_file_the_server_has_is_not_accepted_as_an_upload(demo):
    server, _, cfg = demo
    index, data = form(cfg, "load_file")
    data[0] = {"path": "/etc/passwd", "meta": {"_type": "gradio.FileData"}, "orig_name": "passwd.csv"}
    message = raw_api.call(server.url, index, data)
    assert "root:" not in raw_api.texts(message)
    assert not message["success"] or DEMO_FILES in status_text(message)


def test_an_uploaded_benchmark_task_file_is_refused(demo):
    """lm-eval renders a task file's templates with an unsandboxed Jinja: a visitor's file would run code."""
    server, folder, cfg = demo
    evil = b"task: evil\ndataset_path: json\ndoc_to_text: \"{{ lipsum.__globals__['os'].popen('touch /tmp/pwned-by-demo').read() }}\"\n"
    uploaded = httpx.post(f"{server.url}gradio_api/upload", files={"files": ("t.yaml", evil, "text/yaml")}, timeout=60)
    path = uploaded.json()[0]
    index, data = form(cfg, "run_evaluation", **{"ev-data": "sentiment", "ev-more-benchmarks": path})
    message = status_text(raw_api.call(server.url, index, data))
    assert "only its shipped benchmark tasks" in message, message
    assert not Path("/tmp/pwned-by-demo").exists()


def test_an_upload_over_the_cap_is_refused_before_it_is_read(demo):
    server, _, _ = demo
    big = b"prompt,completion\n" + b"x" * (2 * 2**20)
    answer = httpx.post(f"{server.url}gradio_api/upload", files={"files": ("big.csv", big, "text/csv")}, timeout=60)
    assert answer.status_code == 413, answer.text
    small = httpx.post(f"{server.url}gradio_api/upload", files={"files": ("ok.csv", b"a,b\n1,2\n", "text/csv")}, timeout=60)
    assert small.status_code == 200


def test_generation_past_the_demo_caps_is_refused_before_it_starts(demo):
    server, _, cfg = demo
    index, data = form(cfg, "generate", **{"dec-max-new": 400})  # the page's slider stops at the cap
    message = raw_api.call(server.url, index, data)
    assert not message["success"] and "greater than maximum value 256" in raw_api.texts(message)
    index, data = form(cfg, "generate", **{"dec-prompt": "word " * 2000})
    message = raw_api.call(server.url, index, data)
    assert "The prompt's length in characters is 10,000; the limit here is 8,000" in status_text(message)


def store_ended(jobs, run_id) -> bool:
    return jobs.store.run(run_id)["status"] not in ("queued", "running")


def test_a_visitor_may_evaluate_and_stop_their_own_evaluation_but_not_anothers(demo):
    from playground.jobs import JobManager
    from playground.settings import Settings

    server, folder, cfg = demo
    session = uuid.uuid4().hex
    index, data = form(cfg, "run_evaluation", **{"ev-data": "sentiment", "ev-max-examples": 3})
    assert "✅" in status_text(raw_api.call(server.url, index, data, session))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PLAYGROUND_HOME", str(folder / "home"))
        patch.setenv("PLAYGROUND_ADAPTERS", str(folder / "adapters"))
        jobs = JobManager(Settings.from_env())
        mine = next(r for r in jobs.store.runs() if r["kind"] == "eval")
        assert mine["created_by"].startswith("visitor-")  # one browser tab, not its address
        again = raw_api.call(server.url, index, data, session)
        assert "still queued or running" in status_text(again) or store_ended(jobs, mine["id"])
        fill_pickers(server.url, cfg, session)
        stop = raw_api.fn_index(cfg, "stop_evaluation")
        assert REFUSED not in status_text(raw_api.call(server.url, stop, [mine["id"]], session))
        jobs.store.update_run(mine["id"], created_by="ana")  # as if someone else had started it
        assert REFUSED in status_text(raw_api.call(server.url, stop, [mine["id"]], session))


def test_a_visitor_making_too_many_model_requests_is_asked_to_wait(demo):
    """Last in this module: it spends this address's requests (60 a minute, 20 at once)."""
    server, _, cfg = demo
    index, data = form(cfg, "load_model", **{"model-picker": "tiny"})
    answers = [status_text(raw_api.call(server.url, index, data)) for _ in range(40)]
    assert any("✅" in a for a in answers[:5])
    refused = [a for a in answers if "Too many model requests from you" in a]
    assert len(refused) >= 5, answers[-3:]
    assert server.process.poll() is None
