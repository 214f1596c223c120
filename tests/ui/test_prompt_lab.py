"""Prompt Lab in the browser: each control used as a person would, checked by what the page shows.

The tiny model has a 512-token context window and random weights, so completions are babble:
the tests check that they appear and are scored, never what they say.
"""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

from playwright.sync_api import Page, expect

from tests.ui.helpers import (
    choose_option,
    choose_radio,
    drag_slider,
    expect_no_crash,
    fill_textbox,
    markdown,
    open_accordion,
    plot_title,
    set_number,
    textbox,
    type_in_dropdown,
    type_in_slider,
    wait_for_plot,
)

ROOT = Path(__file__).resolve().parents[2]
SUMMARIES = [json.loads(line) for line in (ROOT / "assets/examples/summarization.jsonl").read_text().splitlines()
             if line.strip()]
DROP = "Drop shots until it fits"
CUT = "Cut tokens from the start of the prompt"


def first_line(text: str) -> str:
    return text.strip().splitlines()[0]


def use_local_file(page: Page, path: Path) -> None:
    choose_radio(page, "pl-source", "Local file")
    file_input = page.locator("#pl-file input[type=file]")
    expect(file_input).to_be_attached()
    file_input.set_input_files(str(path))


# ---- the built-in set and the three prompts ----
def test_builtin_set_loads_on_page_load(app_page):
    page = app_page
    expect(markdown(page, "pl-data-status")).to_contain_text("✅ 40 examples from the built-in summarization set")
    preview = page.locator("#pl-preview")
    expect(preview.get_by_role("columnheader", name="dialogue")).to_be_visible()
    expect(preview.get_by_role("columnheader", name="summary")).to_be_visible()
    expect(preview).to_contain_text(SUMMARIES[0]["id"])
    expect(page.locator("#pl-input-col input[role=combobox]")).to_have_value("dialogue")
    expect(page.locator("#pl-ref-col input[role=combobox]")).to_have_value("summary")
    expect(textbox(page, "pl-reference")).to_have_value(SUMMARIES[0]["summary"])
    # the first screen fits the model: k=3 shots would overflow the tiny model's 512 tokens, so k opens at 2
    expect(markdown(page, "pl-data-status")).to_contain_text("Shots set to 2 so the few-shot prompt fits")
    expect(page.locator("#pl-k input[type=number]")).to_have_value("2")
    for i, name in enumerate(["Zero-shot", "One-shot", "Few-shot (k=2)"]):
        expect(markdown(page, f"pl-title-{i}")).to_have_text(name)
        expect(markdown(page, f"pl-badge-{i}")).to_contain_text("✅")
        expect(markdown(page, f"pl-badge-{i}")).to_contain_text("/ 512 tokens")
        prompt = textbox(page, f"pl-prompt-{i}")
        expect(prompt).to_have_value(
            # every prompt starts with the instruction and ends with the question, cut at {output}
            re.compile(r"^Summarize each conversation.*Summary:$", re.S)
        )
        assert first_line(SUMMARIES[0]["dialogue"]) in prompt.input_value()
    # zero-shot has no solved example; the few-shot prompt has k=2 of them plus the question
    assert textbox(page, "pl-prompt-0").input_value().count("Summary:") == 1
    assert textbox(page, "pl-prompt-2").input_value().count("Summary:") == 3
    expect(markdown(page, "pl-badge-0")).to_contain_text("% of the context window")
    # another model: the note about the tiny model's window goes, the examples stay
    from playground.settings import Settings

    type_in_dropdown(page, "model-picker", str(Settings.from_env().models_dir / "tiny-seed0"))
    expect(markdown(page, "pl-data-status")).not_to_contain_text("Shots set to")
    expect(markdown(page, "pl-data-status")).to_contain_text("✅ 40 examples from the built-in summarization set")


def test_too_long_prompt_asks_then_drop_shots_fits_and_runs(app_page):
    page = app_page
    drag_slider(page, "pl-max-new", 8)
    # k=3 summarization shots overflow the tiny model's 512-token window
    type_in_slider(page, "pl-k", 3)
    badge = markdown(page, "pl-badge-2")
    expect(badge).to_contain_text("too long")
    expect(badge).to_contain_text("/ 512 tokens")
    expect(badge).to_contain_text("only 504 fit")  # 512 minus the 8 kept for the answer
    status = markdown(page, "pl-status")
    expect(status).to_contain_text("Too long for the context window")
    expect(status).to_contain_text("Choose 'Drop shots until it fits' or 'Cut tokens from the start of the prompt'")

    # Run all three while one overflows: what fits runs, the too-long one is flagged and not run
    page.locator("#pl-run").click()
    for i in range(2):
        expect(markdown(page, f"pl-scores-{i}")).to_contain_text("ROUGE-1", timeout=60_000)
        expect(markdown(page, f"pl-scores-{i}")).to_contain_text("random weights")  # why its scores are near 0
    expect(markdown(page, "pl-scores-2")).to_contain_text("⛔ Not run: too long")
    expect(textbox(page, "pl-completion-2")).to_have_value("")
    expect(status).to_contain_text("Too long for the context window")
    expect_no_crash(page)

    # the person chooses to drop shots: the few-shot prompt fits, the warning goes
    choose_radio(page, "pl-policy", DROP)
    expect(badge).to_contain_text("✅")
    expect(badge).to_contain_text("dropped")
    expect(badge).to_contain_text("to fit")
    n_tokens = int(badge.inner_text().split("✅", 1)[1].split("/", 1)[0].strip().replace(",", ""))
    assert n_tokens <= 504
    expect(status).to_have_text("")

    # the title says the shots the prompt really has
    expect(markdown(page, "pl-title-2")).to_have_text(re.compile(r"Few-shot \(k=[012] of 3 asked\)"))
    # Run all three: three completions, each scored
    page.locator("#pl-run").click()
    for i in range(3):
        scores = markdown(page, f"pl-scores-{i}")
        expect(scores).to_contain_text("ROUGE-1", timeout=60_000)
        expect(scores).to_contain_text("ROUGE-2")
        expect(scores).to_contain_text("ROUGE-L")
    expect(status).to_have_text("")
    expect_no_crash(page)

    # the other choice: cut the start of the prompt to exactly the budget
    choose_radio(page, "pl-policy", CUT)
    expect(badge).to_contain_text("cut the start of the prompt to fit")
    expect(badge).to_contain_text("504 / 512 tokens")
    assert not textbox(page, "pl-prompt-2").input_value().startswith("Summarize each conversation")


def test_switching_the_builtin_task_changes_the_prompt(app_page):
    page = app_page
    choose_option(page, "pl-builtin", "Review sentiment (48 reviews)")
    expect(markdown(page, "pl-data-status")).to_contain_text("48 examples from the built-in sentiment set")
    expect(textbox(page, "pl-instruction")).to_have_value(
        "Classify the sentiment of each review as positive or negative.")
    expect(textbox(page, "pl-format")).to_have_value("Review: {input}\nSentiment: {output}")
    expect(page.locator("#pl-input-col input[role=combobox]")).to_have_value("review")
    expect(page.locator("#pl-ref-col input[role=combobox]")).to_have_value("label")
    expect(page.locator("#pl-preview").get_by_role("columnheader", name="review")).to_be_visible()
    prompt = textbox(page, "pl-prompt-2")
    expect(prompt).to_have_value(re.compile(r"^Classify the sentiment.*Sentiment:$", re.S))
    assert "Summarize" not in prompt.input_value()
    expect(textbox(page, "pl-reference")).to_have_value(re.compile(r"^(positive|negative)$"))
    # short reviews: every prompt fits, nothing to choose
    for i in range(3):
        expect(markdown(page, f"pl-badge-{i}")).to_contain_text("✅")
    expect(markdown(page, "pl-status")).to_have_text("")


def test_shots_by_index_are_the_ones_in_the_prompt(app_page):
    page = app_page
    choose_radio(page, "pl-shot-mode", "By index")
    fill_textbox(page, "pl-indices", "1, 2")
    expect(markdown(page, "pl-title-2")).to_have_text("Few-shot (k=2)")
    few = textbox(page, "pl-prompt-2")
    one = textbox(page, "pl-prompt-1")
    expect(few).to_have_value(re.compile(re.escape(SUMMARIES[2]["summary"])))
    text = few.input_value()
    # shots in the order given, then the question (example #0)
    shot1, shot2 = text.index(SUMMARIES[1]["summary"]), text.index(SUMMARIES[2]["summary"])
    question = text.index(first_line(SUMMARIES[0]["dialogue"]))
    assert shot1 < shot2 < question
    one_text = one.input_value()
    assert SUMMARIES[1]["summary"] in one_text and SUMMARIES[2]["summary"] not in one_text


def test_bad_shot_indices_show_a_plain_message(app_page):
    page = app_page
    choose_radio(page, "pl-shot-mode", "By index")
    status = markdown(page, "pl-status")
    for indices, message in [
        ("abc", "Shot indices must be whole numbers separated by commas, e.g. '3, 7, 12' (got 'abc')"),
        ("999", "Shot indices [999] are out of range: pick from 0 to 39"),
        ("0, 3", "Example #0 is the one being tested, so it can't also be a shot"),
    ]:
        fill_textbox(page, "pl-indices", indices)
        expect(status).to_contain_text(message)
        expect(status).to_contain_text("⚠️")
        expect_no_crash(page)
    # a good list clears the message
    fill_textbox(page, "pl-indices", "3")
    expect(markdown(page, "pl-title-2")).to_have_text("Few-shot (k=1)")
    expect(status).not_to_contain_text("⚠️")


def test_an_example_that_does_not_exist_clears_the_prompts_and_says_so_beside_them(app_page):
    page = app_page
    expect(textbox(page, "pl-prompt-0")).not_to_have_value("", timeout=30_000)
    set_number(page, "pl-query", 999)
    message = "Example #999 does not exist: pick 0 to 39."
    expect(markdown(page, "pl-status")).to_contain_text(message)
    expect(markdown(page, "pl-badge-0")).to_contain_text(message)  # where the prompts are, not only below them
    for i in range(3):
        expect(textbox(page, f"pl-prompt-{i}")).to_have_value("")  # no prompt of example 0 left as if it were #999's
    expect(textbox(page, "pl-reference")).to_have_value("")
    set_number(page, "pl-query", 2)
    expect(textbox(page, "pl-prompt-0")).not_to_have_value("")
    expect(markdown(page, "pl-status")).not_to_contain_text("⚠️")
    expect_no_crash(page)


def test_example_format_without_output_shows_a_message(app_page):
    page = app_page
    fill_textbox(page, "pl-format", "Dialogue:\n{input}\nSummary:")
    status = markdown(page, "pl-status")
    expect(status).to_contain_text("⚠️ The example format needs both {input} and {output}")
    expect_no_crash(page)


# ---- local files ----
def test_upload_csv_with_custom_columns(app_page, tmp_path):
    page = app_page
    path = tmp_path / "quiz.csv"
    path.write_text(
        "q_text,gold,notes\n"
        "What is 2+2?,4,easy\n"
        "Capital of France?,Paris,geo\n"
        "Color of the sky?,blue,\n"
        "Largest planet?,Jupiter,space\n",
        encoding="utf-8",
    )
    use_local_file(page, path)
    preview = page.locator("#pl-preview")
    for column in ("q_text", "gold", "notes"):
        expect(preview.get_by_role("columnheader", name=column)).to_be_visible()
    expect(preview).to_contain_text("Capital of France?")
    # no column name to guess from: first column as input, last as reference
    expect(page.locator("#pl-input-col input[role=combobox]")).to_have_value("q_text")
    expect(page.locator("#pl-ref-col input[role=combobox]")).to_have_value("notes")
    data_status = markdown(page, "pl-data-status")
    expect(data_status).to_contain_text("✅ 3 examples from 'quiz.csv'")
    expect(data_status).to_contain_text("Skipped 1 row(s)")
    # the person picks the real reference column
    choose_option(page, "pl-ref-col", "gold")
    expect(data_status).to_contain_text("✅ 4 examples")
    expect(textbox(page, "pl-reference")).to_have_value("4")
    few = textbox(page, "pl-prompt-2")
    expect(few).to_have_value(re.compile(r"What is 2\+2\?"))
    assert "Jupiter" in few.input_value() or "Paris" in few.input_value() or "blue" in few.input_value()
    expect(markdown(page, "pl-status")).to_have_text("")
    # the built-in task's instruction is not kept for this file: a template named after its own columns
    expect(textbox(page, "pl-instruction")).not_to_have_value(re.compile("Summarize"))
    expect(textbox(page, "pl-format")).to_have_value("q_text: {input}\nnotes: {output}")

    # back to Built-in: the built-in examples are in use again, not the file
    choose_radio(page, "pl-source", "Built-in")
    expect(data_status).to_contain_text("✅ 40 examples from the built-in summarization set")
    expect(textbox(page, "pl-instruction")).to_have_value(re.compile("^Summarize each conversation"))
    expect(textbox(page, "pl-reference")).to_have_value(SUMMARIES[0]["summary"])


UNUSABLE = [
    ("one_column.csv", "text\nhello\nworld\n", "The input and reference columns must be different"),
    ("blank_cells.csv", "question,answer\nhi,\n,there\n", "Every row of 'blank_cells.csv' has an empty"),
    ("header_only.csv", "question,answer\n", "'header_only.csv' has no rows"),
    ("empty.csv", "", "'empty.csv' is empty"),
]


def test_unusable_csv_files_show_a_message(app_page, tmp_path):
    page = app_page
    choose_radio(page, "pl-source", "Local file")
    data_status = markdown(page, "pl-data-status")
    for name, content, message in UNUSABLE:
        path = tmp_path / name
        path.write_text(content, encoding="utf-8")
        file_input = page.locator("#pl-file input[type=file]")
        expect(file_input).to_be_attached()
        file_input.set_input_files(str(path))
        expect(data_status).to_contain_text(message)
        expect(data_status).to_contain_text("⚠️")
        expect_no_crash(page)
        # remove the file (the x above it); the box is empty again for the next one
        page.locator("#pl-file button[aria-label=Clear]").click()
        expect(data_status).to_contain_text("Choose a file to upload.")


def test_txt_file_message_in_data_status(app_page, tmp_path):
    page = app_page
    path = tmp_path / "notes.txt"
    path.write_text("just some notes\n", encoding="utf-8")
    use_local_file(page, path)
    expect(markdown(page, "pl-data-status")).to_contain_text("not a supported file type")
    # and nothing runs on the examples loaded before: step 1 must be done again
    page.locator("#pl-run").click()
    expect(markdown(page, "pl-status")).to_contain_text("Load a set of examples first")


# ---- batch ----
def test_batch_shows_chart_table_and_csv(app_page):
    page = app_page
    drag_slider(page, "pl-max-new", 8)
    type_in_slider(page, "pl-k", 3)
    choose_radio(page, "pl-policy", DROP)
    expect(markdown(page, "pl-badge-2")).to_contain_text("dropped")
    open_accordion(page, "pl-batch-acc")
    drag_slider(page, "pl-n", 3)
    page.locator("#pl-batch-run").click()
    expect(markdown(page, "pl-status")).to_contain_text("✅ Batch finished: 9 completions", timeout=90_000)
    # the chart: mean ROUGE per prompt, one trace per metric over the three prompts
    chart = page.locator("#pl-batch-chart .js-plotly-plot")
    expect(chart).to_be_visible()
    assert "Mean ROUGE per prompt" in plot_title(page, "pl-batch-chart")
    traces = wait_for_plot(page, "pl-batch-chart", n_traces=3)
    assert [t["name"] for t in traces] == ["rouge1", "rouge2", "rougeL"]
    assert traces[0]["x"][:2] == ["Zero-shot", "One-shot"]
    few_label = traces[0]["x"][2]
    # the table: 3 examples x 3 prompts (+ the header row)
    table = page.locator("#pl-batch-table")
    expect(table.locator("[role=grid]")).to_have_attribute("aria-rowcount", "10")
    for column in ("example", "variant", "completion", "reference", "rouge1"):
        expect(table.get_by_role("columnheader", name=column, exact=True)).to_be_visible()
    # the CSV download
    link = page.locator("#pl-batch-csv a[download]")
    expect(link).to_have_attribute("download", "prompt_lab_batch.csv")
    with page.expect_download() as info:
        link.click()
    with Path(info.value.path()).open(encoding="utf-8", newline="") as saved:
        rows = list(csv.DictReader(saved))
    assert len(rows) == 9
    assert {r["variant"] for r in rows} == {"Zero-shot", "One-shot", few_label}
    # the label says the shots really used after dropping some to fit, not the 3 asked
    used = sorted({len(r["shots"].split()) for r in rows if r["variant"] == few_label})
    assert used[-1] < 3
    assert few_label == (f"Few-shot (k={used[0]})" if len(used) == 1 else f"Few-shot (k={used[0]}–{used[-1]})")
    assert {r["example"] for r in rows} == {"0", "1", "2"}
    assert all(0.0 <= float(r["rougeL"]) <= 1.0 for r in rows)
    expect_no_crash(page)
