"""The Evaluate tab as a person uses it: pick an adapter, run an evaluation in the background,
watch it finish, and read the scores, the change against the base, the charts and each example;
export the results. Bad input gets a plain message and starts nothing."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.ui.helpers import choose_radio, expect_no_crash, fill_textbox, markdown, open_tab, set_number, type_in_slider, wait_for_plot

RUN_TIMEOUT = 180_000
ADAPTER = "ui-eval-lora"


@pytest.fixture(scope="module")
def trained_adapter(app_server, tiny_dir):
    """A LoRA trained on the built-in summarization set (10 of its 40 examples held out), through
    the job system the app shares with the tests (same PLAYGROUND_HOME)."""
    from playground.jobs import JobManager
    from playground.settings import Settings
    from playground.training.recipes import recipe_from_dict

    recipe = recipe_from_dict({"method": "lora", "base_model": str(tiny_dir), "data": "summarization", "max_steps": 60,
                               "learning_rate": 3e-3, "per_device_train_batch_size": 8, "max_length": 384,
                               "val_fraction": 0.1, "test_fraction": 0.25, "output_name": ADAPTER})
    run = JobManager(Settings.from_env()).run_foreground("sft", recipe, overwrite=True)
    assert run["status"] == "finished", run["error"]
    return ADAPTER


def pick_adapter(page: Page, name: str) -> None:
    box = page.locator("#ev-adapters input[role=combobox]")
    box.click()
    page.locator("#ev-adapters [role=option]").filter(has_text=name).first.click()
    page.keyboard.press("Escape")
    expect(page.locator("#ev-adapters")).to_contain_text(name)


def test_run_watch_and_read_an_evaluation(app_page: Page, trained_adapter, tmp_path):
    page = app_page
    open_tab(page, "Evaluate")
    pick_adapter(page, trained_adapter)
    set_number(page, "ev-max-examples", 10)
    type_in_slider(page, "ev-max-new-tokens", 16)
    fill_textbox(page, "ev-name", "ui-eval")
    page.locator("#ev-launch").click()
    expect(markdown(page, "ev-status")).to_contain_text(re.compile("Evaluation \\*?\\*?ui-eval|ui-eval"), timeout=60_000)
    expect(markdown(page, "ev-status")).to_contain_text(re.compile("started|queued"))
    expect(page.locator("#ev-progress")).to_contain_text("finished", timeout=RUN_TIMEOUT)
    expect(page.locator("#ev-runs")).to_contain_text("ui-eval")

    # the table: each model with every metric as value [95% interval]
    scores = page.locator("#ev-scores")
    expect(scores.get_by_role("columnheader", name="base", exact=True)).to_be_visible(timeout=30_000)
    expect(scores.get_by_role("columnheader", name=trained_adapter, exact=True)).to_be_visible()
    expect(scores.get_by_role("row").filter(has_text="Perplexity")).to_contain_text(re.compile(r"\d \[\d"))
    expect(markdown(page, "ev-note")).to_contain_text("held-out test split of ui-eval-lora, 10 examples")
    expect(markdown(page, "ev-note")).to_contain_text("The base model's outputs were the same")

    # the change vs the base: the references became far more likely after tuning, and the page says it is real
    changes = page.locator("#ev-changes")
    row = changes.get_by_role("row").filter(has_text="Perplexity")
    expect(row).to_contain_text("real improvement")

    # the charts: one bar per model and metric, with intervals
    traces = wait_for_plot(page, "ev-scores-chart", n_traces=16)
    assert {t["x"][0] for t in traces} == {"base", trained_adapter}
    assert wait_for_plot(page, "ev-changes-chart", n_traces=8)

    # each example: input, reference, both outputs and scores, biggest disagreement first
    examples = page.locator("#ev-examples")
    for column in ("input", "reference", "base output", f"{trained_adapter} output", f"{trained_adapter} rougeL"):
        expect(examples.get_by_role("columnheader", name=column, exact=True)).to_be_visible()
    expect(examples.locator("[role=grid]")).to_have_attribute("aria-rowcount", "11")
    # the input and the outputs it is compared by are in view, not scrolled off the table's right edge
    right_edge = examples.bounding_box()["x"] + examples.bounding_box()["width"]
    for column in ("input", f"{trained_adapter} output"):
        assert examples.get_by_role("columnheader", name=column, exact=True).bounding_box()["x"] < right_edge
    expect(page.locator("#ev-sort")).to_be_visible()  # two models: sorting by their disagreement is offered

    # export: the files hold what the page shows
    page.locator("#ev-export").click()
    expect(markdown(page, "ev-status")).to_contain_text("Exported")
    links = page.locator("#ev-export-files a[download]")
    expect(links).to_have_count(3)
    with page.expect_download() as info:
        page.locator('#ev-export-files a[download$=".json"]').click()
    saved = json.loads(Path(info.value.path()).read_text(encoding="utf-8"))
    assert set(saved["tasks"]["main"]["scores"]) == {"base", trained_adapter}
    with page.expect_download() as info:
        page.locator('#ev-export-files a[download$="-examples.csv"]').click()
    with Path(info.value.path()).open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 20 and {r["model"] for r in rows} == {"base", trained_adapter}
    expect_no_crash(page)


def test_an_evaluation_without_data_or_adapter_is_explained(app_page: Page):
    page = app_page
    open_tab(page, "Evaluate")
    # greedy decoding: the sampling settings can't be touched until Sampling is chosen
    expect(page.locator("#ev-temperature input[type=range]")).to_be_disabled()
    choose_radio(page, "ev-mode", "Sampling")
    expect(page.locator("#ev-temperature input[type=range]")).to_be_enabled()
    page.locator("#ev-launch").click()
    expect(markdown(page, "ev-status")).to_contain_text("Choose data to evaluate on")
    fill_textbox(page, "ev-data", "sumarization")
    page.locator("#ev-launch").click()
    expect(markdown(page, "ev-status")).to_contain_text("Did you mean the built-in set 'summarization'?")
    expect_no_crash(page)
