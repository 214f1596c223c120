"""The Fine-tune tab as a person uses it: check the cost, launch, watch the curves, stop, reuse
the adapter in the labs, and come back after the app restarted."""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.ui.conftest import start_app, stop_app
from tests.ui.helpers import (
    choose_option,
    choose_radio,
    expect_no_crash,
    fill_textbox,
    markdown,
    open_accordion,
    open_tab,
    set_number,
    type_in_dropdown,
    wait_for_plot,
)

RUN_TIMEOUT = 180_000


def fill_run(page: Page, name: str, steps: int, lr: float = 0.003, method: str = "LoRA") -> None:
    open_tab(page, "Fine-tune")
    page.locator("#ft-method").get_by_label(method, exact=True).check()
    set_number(page, "ft-max-steps", steps)
    set_number(page, "ft-lr", lr)
    fill_textbox(page, "ft-output-name", name)


def launch(page: Page) -> None:
    page.locator("#ft-launch").click()
    expect(markdown(page, "ft-status")).to_contain_text(re.compile("started|queued"), timeout=60_000)


def test_check_launch_watch_and_reuse(app_page: Page):
    page = app_page
    fill_run(page, "ui-lora", 30)
    page.locator("#ft-check").click()
    expect(markdown(page, "ft-params")).to_contain_text("trainable parameters", timeout=60_000)
    expect(markdown(page, "ft-params")).to_contain_text("Estimated peak memory for LoRA")
    traces = wait_for_plot(page, "ft-memory", n_traces=5)  # weights, gradients, optimizer, activations; the totals
    assert [t.get("name") for t in traces[:4]] == ["weights", "gradients", "optimizer", "activations"]
    assert traces[4]["y"] == pytest.approx([sum(parts) for parts in zip(*(t["y"] for t in traces[:4]))])
    open_accordion(page, "ft-command-acc")
    expect(page.locator("#ft-yaml")).to_contain_text("method: lora")
    expect(page.locator("#ft-command")).to_contain_text("python -m playground train")

    launch(page)
    expect(page.locator("#ft-progress")).to_contain_text("finished", timeout=RUN_TIMEOUT)
    # the finished run's chart: the training loss of every step (30), and the validation loss
    names = [t.get("name") for t in wait_for_plot(page, "ft-chart", trace_name="training loss", up_to_x=30)]
    assert "validation loss" in names
    expect(page.locator("#ft-runs")).to_contain_text("ui-lora")
    expect(page.locator("#ft-adapters")).to_contain_text("ui-lora", timeout=10_000)
    # the log's newest line is in view, not below a box scrolled to its top
    log = page.locator("#ft-log textarea")
    expect(log).to_have_value(re.compile(r"\S"), timeout=10_000)
    assert log.evaluate("el => el.scrollTop + el.clientHeight >= el.scrollHeight - 2"), log.input_value()

    # reuse: the adapter on the base model in the Decoding Lab, then side by side with the base
    open_tab(page, "Decoding Lab")
    choose_option(page, "dec-adapter", "ui-lora")
    page.locator("#dec-generate").click()
    expect(markdown(page, "dec-stats")).to_contain_text("tokens/s", timeout=30_000)
    open_accordion(page, "dec-compare-acc")
    box = page.locator("#dec-compare-adapters input[role=combobox]")
    box.click()
    page.locator("#dec-compare-adapters [role=option]").filter(has_text="ui-lora").first.click()
    page.keyboard.press("Escape")
    page.locator("#dec-compare").click()
    table = page.locator("#dec-comparison")
    expect(table).to_contain_text("none (base model)", timeout=60_000)
    expect(table).to_contain_text("ui-lora")

    # merge: a background run of its own, whose full model lands in the adapters list
    open_tab(page, "Fine-tune")
    choose_option(page, "ft-adapter-picker", "ui-lora")
    page.locator("#ft-merge").click()
    expect(markdown(page, "ft-adapter-status")).to_contain_text("Merging 'ui-lora' into its base in the background")
    expect(page.locator("#ft-runs")).to_contain_text("ui-lora-merged")
    expect(page.locator("#ft-adapters")).to_contain_text("ui-lora-merged", timeout=RUN_TIMEOUT)

    # removing ended runs: asked to confirm, then gone from the list (their adapters stay)
    page.locator("#ft-clear-runs").click()
    expect(markdown(page, "ft-status")).to_contain_text("Tick 'Yes, remove' first")
    page.locator("#ft-confirm-remove input").check()
    page.locator("#ft-clear-runs").click()
    expect(markdown(page, "ft-status")).to_contain_text("✅ Removed")
    expect(page.locator("#ft-runs")).not_to_contain_text("ui-lora-merged")
    expect(page.locator("#ft-adapters")).to_contain_text("ui-lora-merged")

    # delete the merged model; the picker then holds nothing, and the buttons say so plainly
    choose_option(page, "ft-adapter-picker", "ui-lora-merged")
    page.locator("#ft-confirm-delete input").check()
    page.locator("#ft-delete").click()
    status = markdown(page, "ft-adapter-status")
    expect(status).to_contain_text("✅ Deleted 'ui-lora-merged'")
    expect(page.locator("#ft-adapters")).not_to_contain_text("ui-lora-merged")
    page.locator("#ft-rename").click()
    expect(status).to_contain_text("⚠️ Choose an adapter first.")
    expect_no_crash(page)


def test_stop_a_running_run_and_resume_it(app_page: Page):
    page = app_page
    fill_run(page, "ui-stop", 300, lr=0.0001, method="Full fine-tuning")
    launch(page)
    expect(page.locator("#ft-progress")).to_contain_text("step", timeout=RUN_TIMEOUT)
    page.locator("#ft-stop").click()
    expect(markdown(page, "ft-status")).to_contain_text("Stopping")
    expect(page.locator("#ft-progress")).to_contain_text("stopped", timeout=60_000)
    expect(markdown(page, "ft-status")).to_contain_text("Run ui-stop stopped.", timeout=10_000)  # no "Stopping" left
    expect(page.locator("#ft-adapters")).to_contain_text("ui-stop", timeout=10_000)
    expect(page.locator("#ft-runs")).to_contain_text(re.compile(r"stopped at \d+/300"), timeout=10_000)
    stopped_at = int(re.search(r"step ([\d,]+)", page.locator("#ft-progress").inner_text()).group(1).replace(",", ""))
    assert stopped_at < 300

    page.locator("#ft-resume").click()  # the same run goes on from its checkpoint, not from step 0
    expect(markdown(page, "ft-status")).to_contain_text("from its last checkpoint", timeout=30_000)
    page.wait_for_function("n => { const m = document.querySelector('#ft-progress').innerText.match(/step ([\\d,]+) of 300/);"
                           " return m && Number(m[1].replace(/,/g, '')) > n; }", arg=stopped_at, timeout=RUN_TIMEOUT)
    expect(page.locator("#ft-progress")).to_contain_text("finished", timeout=RUN_TIMEOUT)
    expect(markdown(page, "ft-status")).to_contain_text("Run ui-stop finished.", timeout=10_000)
    # the adapter saved at the stop is saved again at the end: its row says so without a reload
    row = page.locator("#ft-adapters").get_by_role("row").filter(has_text="ui-stop")  # a <tr> or, in a long table, a div
    expect(row).to_contain_text("finished", timeout=10_000)


@pytest.mark.parametrize("change, message", [
    ({"ft-lr": 0}, "'Learning rate' must be above 0"),  # the field's name, not the recipe key
    ({"ft-output-name": "../escape"}, "is not allowed"),
    ({"ft-data": "no/such-file.jsonl"}, "File not found"),
    ({"ft-optimizer": "paged_adamw_8bit"}, "paged_adamw_8bit needs a CUDA GPU"),  # the plan, on a machine without one
])
def test_bad_input_starts_nothing(app_page: Page, change, message):
    page = app_page
    fill_run(page, "ui-bad", 5)
    for elem_id, value in change.items():
        if elem_id in ("ft-output-name", "ft-data"):
            fill_textbox(page, elem_id, str(value))
        elif elem_id == "ft-optimizer":
            choose_radio(page, elem_id, value)
        else:
            set_number(page, elem_id, value)
    page.locator("#ft-launch").click()
    expect(markdown(page, "ft-status")).to_contain_text(message, timeout=30_000)
    expect(markdown(page, "ft-status")).to_contain_text("⚠️")
    # What the app recorded (it shares the tests' PLAYGROUND_HOME), not a table that may not have refreshed yet.
    from playground.store import Store

    assert not [r for r in Store(Path(os.environ["PLAYGROUND_HOME"]) / "playground.db").runs() if r["name"] == "ui-bad"]


def test_page_reattaches_after_an_app_restart(page: Page):
    """Launch in one app process, stop that process, start another: the run went on and the new
    page shows it, its progress and its curves."""
    log_dir = Path(tempfile.mkdtemp(prefix="playground-ui-restart-"))
    first = start_app(log_dir)
    try:
        page.goto(first.url)
        fill_run(page, "ui-survivor", 5000, lr=0.0001, method="Full fine-tuning")
        launch(page)
        expect(page.locator("#ft-progress")).to_contain_text("step", timeout=RUN_TIMEOUT)
    finally:
        stop_app(first)
    second = start_app(log_dir)
    try:
        page.goto(second.url)
        open_tab(page, "Fine-tune")
        choose_option(page, "ft-run-picker", "ui-survivor (running)")
        expect(page.locator("#ft-progress")).to_contain_text(re.compile(r"running · step \d+"), timeout=30_000)
        wait_for_plot(page, "ft-chart", trace_name="training loss")
        page.locator("#ft-stop").click()
        expect(page.locator("#ft-progress")).to_contain_text("stopped", timeout=60_000)
    finally:
        stop_app(second)


def test_an_encoder_decoder_model_is_costed_and_prompt_tuned(app_page: Page, tmp_path):
    """FLAN-T5's architecture (tiny, random), typed as a folder: the cost check compares every
    method, and a prompt-tuning run (a soft prompt before the encoder's input) finishes."""
    from playground.tiny_model import build_tiny_seq2seq

    page = app_page
    folder = build_tiny_seq2seq(tmp_path / "tiny-t5")
    type_in_dropdown(page, "model-picker", str(folder))
    page.locator("#load-model").click()
    expect(markdown(page, "model-status")).to_contain_text("encoder-decoder", timeout=60_000)
    fill_run(page, "ui-t5", 6)
    page.locator("#ft-check").click()
    expect(markdown(page, "ft-params")).to_contain_text("Estimated peak memory for LoRA", timeout=60_000)
    assert wait_for_plot(page, "ft-memory", n_traces=5)[0]["x"] == ["Full fine-tuning", "LoRA", "QLoRA (4-bit base)",
                                                                    "Prompt tuning (soft prompt)", "Selective", "(IA)³"]
    # Selective's "Last N blocks" reaches this model's blocks, no further
    page.locator("#ft-method").get_by_label("Selective", exact=True).check()
    expect(page.locator("#ft-selective-last-n-blocks")).to_contain_text("2 and 2 blocks (encoder and decoder)")
    expect(page.locator("#ft-selective-last-n-blocks input[type=range]")).to_have_attribute("max", "2")
    page.locator("#ft-method").get_by_label("Prompt tuning (soft prompt)", exact=True).check()
    # the soft prompt starts from the data's task (the default data, sentiment), not summarization's
    expect(page.locator("#ft-prompt_tuning-prompt-tuning-init-text textarea")).to_have_value(
        "Classify the sentiment of each review as positive or negative.")
    launch(page)
    expect(page.locator("#ft-progress")).to_contain_text("finished", timeout=RUN_TIMEOUT)
    expect(page.locator("#ft-adapters").get_by_role("row").filter(has_text="ui-t5")).to_contain_text("finished",
                                                                                                    timeout=10_000)


def test_a_file_of_ones_own_is_previewed_as_the_trainer_reads_it(app_page: Page, tmp_path):
    """An Alpaca-format upload needs no column mapping and keeps its instruction; the notes sit under
    the Preview button; a file that can't be read leaves no rows of the previous one."""
    import json

    page = app_page
    open_tab(page, "Fine-tune")
    alpaca = tmp_path / "alpaca.jsonl"
    alpaca.write_text("\n".join(json.dumps({"instruction": "Translate to French.", "input": f"word {i}",
                                            "output": f"mot {i}" if i != 2 else ""}) for i in range(30)))
    page.locator("#ft-file input[type=file]").set_input_files(str(alpaca))
    expect(markdown(page, "ft-preview-note")).to_contain_text("Using the uploaded alpaca.jsonl", timeout=15_000)
    page.locator("#ft-preview-btn").click()
    note = markdown(page, "ft-preview-note")
    expect(note).to_contain_text("Alpaca format", timeout=30_000)
    expect(note).to_contain_text("Skipped 1 row(s) of alpaca.jsonl")  # the empty output, said before any launch
    expect(page.locator("#ft-preview")).to_contain_text("Translate to French.")
    expect(page.locator("#ft-preview")).to_contain_text("alpaca.jsonl")  # the file's name, not the upload's temporary path
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"prompt": "a", "completion": "b"}\n{"prompt": "a", oops\n')
    page.locator("#ft-file").get_by_role("button", name="Clear").click()  # the upload removed: its note goes
    expect(markdown(page, "ft-preview-note")).not_to_contain_text("Using the uploaded")
    fill_textbox(page, "ft-data", str(broken))
    page.locator("#ft-preview-btn").click()
    expect(note).to_contain_text("line 2 is not JSON", timeout=30_000)
    expect(page.locator("#ft-preview")).not_to_contain_text("Translate to French.")
