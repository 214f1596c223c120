"""The app on a ZeroGPU Space, with a stand-in for the `spaces` package (zero_gpu_stand_in/): the
labs' computation runs in forked workers that get names and settings pickled and send plain
results back, as there, and gives what it gives in one process: with the default model, a model
loaded later and an adapter. Torch says a GPU is there in the app's process, as there; nothing
may try to use it."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import pytest

from pages.common import BASE_ONLY
from tests.integration import raw_api
from tests.integration.helpers import api_client, drifted_lora, wait_for
from tests.ui.conftest import start_app, stop_app

STAND_IN = Path(__file__).parent / "zero_gpu_stand_in"
PROMPT = "The capital of France is"


@pytest.fixture(scope="module")
def zero_gpu_app(tmp_path_factory, tiny_dir):
    folder = tmp_path_factory.mktemp("zero-gpu")
    calls = folder / "gpu-calls.log"
    drifted_lora(tiny_dir, folder / "adapters" / "drift")
    env = {"SPACES_ZERO_GPU": "true", "ZERO_GPU_CALLS_LOG": str(calls), "PLAYGROUND_MODEL": "tiny",
           "PLAYGROUND_HOME": str(folder / "home"), "PLAYGROUND_ADAPTERS": str(folder / "adapters"),
           "PYTHONPATH": os.pathsep.join(filter(None, [str(STAND_IN), os.environ.get("PYTHONPATH")]))}
    with pytest.MonkeyPatch.context() as patch:
        for key, value in env.items():
            patch.setenv(key, value)
        server = start_app(Path(tempfile.mkdtemp(prefix="zero-gpu-app-")))
    try:
        yield server, calls, folder
    finally:
        stop_app(server)


@pytest.fixture(scope="module")
def reference():
    """Models loaded here as the app loads them on ZeroGPU (on the CPU, in bfloat16), to compare with."""
    from playground.models import ModelManager
    from playground.settings import Settings

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SPACES_ZERO_GPU", "true")
        manager = ModelManager(Settings.from_env())
        manager.get("tiny")
        yield manager


def decoding_form(prompt: str = PROMPT, max_new: int = 12, mode: str = "Greedy") -> list:
    """The Decoding Lab's controls in order: model, adapter, prompt, chat, mode, temperature, top-k,
    top-p, repetition penalty, max new tokens, seed."""
    return ["tiny", BASE_ONLY, prompt, False, mode, 1.0, 0, 1.0, 1.0, max_new, 0]


def no_message(status) -> bool:
    return status in ("", None, {"__type__": "update"})


def test_the_labs_compute_in_gpu_workers_and_give_what_they_give_here(zero_gpu_app, reference):
    from playground.generation import DecodingParams, generate, next_token_distribution

    server, calls, folder = zero_gpu_app
    client = api_client(server.url)
    lm = reference.get("tiny")
    assert lm.dtype == "bfloat16" and lm.device == "cpu"
    here = generate(lm, PROMPT, DecodingParams(max_new_tokens=12, do_sample=False, repetition_penalty=1.0))
    first = client.predict("g1", *decoding_form(), api_name="/generate")
    again = client.predict("g2", *decoding_form(), api_name="/generate")
    assert first[0] == again[0] == here.text and first[0], (first, here.text)
    assert f"{len(here.token_ids)} tokens" in first[1] and no_message(first[3])

    chart, status = client.predict(*decoding_form(), api_name="/next_token_distribution")
    expected = next_token_distribution(lm, PROMPT, DecodingParams(do_sample=False, repetition_penalty=1.0))
    top = json.loads(chart)["data"][0]
    assert no_message(status) and max(top["x"]) == pytest.approx(expected.tokens[0].p_raw, abs=1e-4), top

    samples, diversity, status = client.predict(*decoding_form(mode="Sampling"), 3, api_name="/sample_n")
    assert no_message(status) and len(samples["data"]) == 3 and "Distinct-1" in diversity

    pids = [line.split() for line in calls.read_text().splitlines()]
    assert {name for _, name in pids} == {"_run_here", "_stream_here"}
    assert all(int(pid) != server.process.pid for pid, _ in pids)
    assert len({pid for pid, _ in pids}) < len(pids), "an idle worker is used again, as ZeroGPU does"
    assert "Traceback" not in server.log_tail()


def test_the_prompt_lab_runs_in_a_gpu_worker(zero_gpu_app):
    server, calls, folder = zero_gpu_app
    client = api_client(server.url)
    before = len(calls.read_text().splitlines())
    loaded = raw_api.predict(client, "/load_builtin_task")
    task = {"Example_format": next(v for v in loaded if isinstance(v, str) and "{input}" in v),
            "Shots_(k)_for_few-shot": 1}  # three don't fit the tiny model's window
    shown = json.dumps(raw_api.predict(client, "/run_prompts", **task), ensure_ascii=False, default=str)
    assert shown.count("ROUGE-1") >= 2 and "ZeroGPU worker error" not in shown, shown
    chart, table, csv_file, status = raw_api.predict(client, "/run_batch", **task)
    assert "Batch finished" in status and Path(csv_file).read_text(encoding="utf-8").count("\n") > 2, status
    assert len(calls.read_text().splitlines()) == before + 2


def test_a_refusal_in_a_gpu_worker_keeps_its_message(zero_gpu_app):
    """A PlaygroundError raised in the worker (here: the prompt and max new tokens overflow the
    context window) reaches the page as itself, not as `spaces`' "ZeroGPU worker error"."""
    server, _, _ = zero_gpu_app
    client = api_client(server.url)
    output, stats, _, status = client.predict("g3", *decoding_form(prompt="word " * 300, max_new=400),
                                              api_name="/generate")
    assert "more than the model's context window of 512" in status and not output, status


def test_a_model_loaded_later_and_an_adapter_run_in_gpu_workers(zero_gpu_app, reference, tmp_path):
    """Loaded in the app's handler threads (where ZeroGPU's patched torch can't place a model on
    its GPU), then used in a worker forked before they were loaded."""
    from playground.generation import DecodingParams, generate
    from playground.tiny_model import build_tiny_model

    server, calls, folder = zero_gpu_app
    client = api_client(server.url)
    other = build_tiny_model(tmp_path / "other-tiny", seed=1)
    here = reference
    greedy = DecodingParams(max_new_tokens=12, do_sample=False, repetition_penalty=1.0)

    client.predict("g4", *decoding_form(), api_name="/generate")  # a worker forked before the next loads
    assert "✅" in client.predict(str(other), api_name="/load_model")
    form = decoding_form()
    form[0] = str(other)
    output = client.predict("g5", *form, api_name="/generate")[0]
    assert output == generate(here.get(str(other)), PROMPT, greedy).text

    table, status = client.predict(*decoding_form(), ["drift"], api_name="/compare_adapters")
    with_drift = here.get("tiny", adapters=(str(folder / "adapters" / "drift"),))
    expected = [generate(with_drift, PROMPT, greedy, adapter=name).text for name in (None, "drift")]
    assert "data" in table, status
    assert [row[1] for row in table["data"]] == expected and expected[0] != expected[1], table
    assert no_message(status) and "Traceback" not in server.log_tail()


def test_stop_ends_a_generation_running_in_a_gpu_worker(zero_gpu_app):
    server, _, _ = zero_gpu_app
    client = api_client(server.url)
    job = client.submit("g-stop", *decoding_form(max_new=480), api_name="/generate")
    wait_for(lambda: len(job.outputs()) > 1, timeout=60, what="the first tokens")  # (the first output clears the page)
    client.predict("g-stop", api_name="/stop_generation")
    output, stats, _, status = job.result(timeout=60)
    assert "stopped by you" in stats and no_message(status), stats
    assert 0 < int(stats.split()[0]) < 480


def test_a_page_stays_responsive_after_gpu_calls(zero_gpu_app):
    """In a browser: a generation (GPU calls fork workers from the app), then a button of another tab
    answers at once. A worker that kept copies of the web server's sockets (spaces closes them; the
    stand-in did not) held the browser's connections open, and the click waited a minute."""
    from playwright.sync_api import expect, sync_playwright

    from tests.ui.conftest import CHROMIUM, CHROMIUM_ARGS

    server, _, _ = zero_gpu_app
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.goto(server.url)
            page.wait_for_timeout(4000)  # the page's own start-up events and timers open their connections
            page.get_by_role("tab", name="Decoding Lab").click()
            page.wait_for_timeout(3000)
            page.locator("#dec-generate").click()
            expect(page.locator("#dec-stats")).to_contain_text("tokens/s ·", timeout=60_000)
            page.wait_for_timeout(3000)
            page.get_by_role("tab", name="RLHF").click()
            page.wait_for_timeout(2000)
            page.locator("#rl-train-reward").click()
            expect(page.locator(".toast-body.warning")).to_contain_text("Too few preference pairs", timeout=10_000)
        finally:
            browser.close()
