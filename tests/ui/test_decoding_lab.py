"""Decoding Lab in the browser: the next-token chart follows the sliders, generation streams,
seeds reproduce, and every mistake a person can make gives a plain message.

Bad temperature / top-p values can't be reached with the sliders (their ranges exclude them);
the unit tests cover those."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.ui.helpers import (
    TINY,
    choose_option,
    choose_radio,
    drag_slider,
    expect_no_crash,
    fill_textbox,
    markdown,
    open_accordion,
    open_tab,
    plot_title,
    plot_traces,
    record_textbox_values,
    recorded_textbox_values,
    remember_plot,
    textbox,
    type_in_dropdown,
    type_in_slider,
    wait_for_plot,
    wait_for_plot_change,
)

KEPT = re.compile(r"the sampler can pick ([\d,]+) of 2,048 tokens")
FINAL_STATS = re.compile(r"^\s*(\d+) tokens · [\d.]+ tokens/s · [\d.]+ s · (reached max new tokens|the model ended its answer)\s*$")


def open_decoding_lab(page: Page, sampling: bool = True) -> None:
    """Open the tab (its sliders open at the model's own settings: greedy for the tiny model), then
    switch to sampling, which most tests explore."""
    open_tab(page, "Decoding Lab")
    expect(markdown(page, "dec-defaults")).to_contain_text("own settings")
    expect(page.locator("#dec-chart .gtitle")).to_contain_text("the sampler can pick")
    if sampling:
        choose_radio(page, "dec-mode", "Sampling")
        expect_kept(page, 50)


def kept(page: Page) -> int:
    match = KEPT.search(plot_title(page, "dec-chart"))
    assert match, plot_title(page, "dec-chart")
    return int(match.group(1).replace(",", ""))


def expect_kept(page: Page, n: int) -> None:
    expect(page.locator("#dec-chart .gtitle")).to_contain_text(f"the sampler can pick {n:,} of 2,048 tokens")


def generate(page: Page) -> str:
    """Press Generate and wait for the finished completion; returns its text."""
    page.locator("#dec-generate").click()
    expect(markdown(page, "dec-stats")).to_have_text(FINAL_STATS, timeout=60_000)
    return textbox(page, "dec-output").input_value()


def test_chart_renders_on_tab_open(app_page):
    page = app_page
    open_decoding_lab(page, sampling=False)
    # the tiny model's generation_config sets no sampling: transformers' defaults, greedy
    expect(markdown(page, "dec-defaults")).to_contain_text(
        "greedy, temperature 1, top-k 50, top-p 1, repetition penalty 1")
    expect(page.locator("#dec-mode").get_by_label("Greedy", exact=True)).to_be_checked()
    expect_kept(page, 1)
    choose_radio(page, "dec-mode", "Sampling")
    expect_kept(page, 50)  # top-k 50 and top-p 1: transformers' defaults
    page.locator("#dec-reset").click()  # back to the model's own settings: greedy again, and the chart with them
    expect(page.locator("#dec-mode").get_by_label("Greedy", exact=True)).to_be_checked()
    expect_kept(page, 1)
    choose_radio(page, "dec-mode", "Sampling")
    expect_kept(page, 50)
    traces = wait_for_plot(page, "dec-chart", n_traces=2)
    assert [t["name"] for t in traces] == ["model (raw logits)", "after your settings"]
    raw, final = traces
    assert len(raw["x"]) == len(final["x"]) == 20  # the 20 most likely tokens
    assert raw["x"] == sorted(raw["x"], reverse=True)
    assert 0 < sum(raw["x"]) <= 1.0001
    expect(markdown(page, "dec-status")).to_have_text("")


def test_sliders_and_greedy_redraw_the_chart(app_page):
    page = app_page
    open_decoding_lab(page)
    raw_before = plot_traces(page, "dec-chart")[0]

    # top-p off: only top-k 50 is left
    drag_slider(page, "dec-top-p", 1)
    expect_kept(page, 50)

    # top-k 5: five tokens left, and the bars show five non-zero probabilities
    drag_slider(page, "dec-top-k", 5)
    expect_kept(page, 5)
    final = plot_traces(page, "dec-chart")[1]
    assert sum(1 for p in final["x"] if p > 0) == 5
    assert abs(sum(final["x"]) - 1.0) < 1e-4

    # top-k off: the whole vocabulary
    drag_slider(page, "dec-top-k", 0)
    expect_kept(page, 2048)

    # top-p 0.5: the nucleus is a part of it
    drag_slider(page, "dec-top-p", 0.5)
    expect(page.locator("#dec-chart .gtitle")).not_to_contain_text("pick 2,048 of")
    assert 1 <= kept(page) < 2048

    # temperature reshapes the kept probabilities without running the model again
    remember_plot(page, "dec-chart")
    drag_slider(page, "dec-temperature", 1.8)
    raw_after, final_after = wait_for_plot_change(page, "dec-chart")
    assert raw_after["x"] == raw_before["x"]  # the model's own distribution never moves
    assert final_after["x"] != final["x"]

    # greedy: one token left, the most likely one, at 100%
    choose_radio(page, "dec-mode", "Greedy")
    expect_kept(page, 1)
    greedy = plot_traces(page, "dec-chart")[1]
    assert greedy["x"][0] == 1.0 and all(p == 0 for p in greedy["x"][1:])
    choose_radio(page, "dec-mode", "Sampling")
    expect(page.locator("#dec-chart .gtitle")).not_to_contain_text("pick 1 of")
    expect(markdown(page, "dec-status")).to_have_text("")


def test_generate_streams_text_and_tokens_per_second(app_page):
    page = app_page
    open_decoding_lab(page)
    # long enough to stream for a while: the page redraws at most ~20 times a second
    drag_slider(page, "dec-max-new", 200)
    record_textbox_values(page, "dec-output")
    page.locator("#dec-generate").click()
    stats = markdown(page, "dec-stats")
    expect(stats).to_have_text(FINAL_STATS, timeout=60_000)
    text = textbox(page, "dec-output").input_value()
    assert text.strip()
    seen = [v for v in recorded_textbox_values(page) if v]
    # the text grew in steps on the page before it was complete
    assert len(seen) >= 2, seen
    assert len(seen[0]) < len(text), seen
    assert int(FINAL_STATS.match(stats.inner_text()).group(1)) <= 200
    expect(markdown(page, "dec-status")).to_have_text("")
    expect_no_crash(page)


def test_same_seed_gives_the_same_text(app_page):
    page = app_page
    open_decoding_lab(page)
    drag_slider(page, "dec-max-new", 16)
    seed = page.locator("#dec-seed input")
    seed.fill("3")
    first = generate(page)
    seed.fill("4")
    output = textbox(page, "dec-output")
    page.locator("#dec-generate").click()
    expect(output).not_to_have_value(first, timeout=60_000)
    expect(markdown(page, "dec-stats")).to_have_text(FINAL_STATS, timeout=60_000)
    other = output.input_value()
    seed.fill("3")
    page.locator("#dec-generate").click()
    expect(output).to_have_value(first, timeout=60_000)
    expect(markdown(page, "dec-stats")).to_have_text(FINAL_STATS)
    assert other != first


def test_shading_shows_each_token_with_its_probability(app_page):
    page = app_page
    open_decoding_lab(page)
    drag_slider(page, "dec-max-new", 12)
    generate(page)
    n_tokens = int(FINAL_STATS.match(markdown(page, "dec-stats").inner_text()).group(1))
    expect(page.locator("#dec-heatmap")).to_have_count(0)  # hidden until asked for
    page.locator("#dec-shade").get_by_label("Shade each token by its probability").check()
    tokens = page.locator("#dec-heatmap span.tok")
    expect(tokens).to_have_count(n_tokens)
    for title in tokens.evaluate_all("spans => spans.map(s => s.title)"):
        assert re.fullmatch(r"p = (0|1)\.\d{3}", title), title
    expect(page.locator("#dec-heatmap")).to_contain_text("unlikely")
    page.locator("#dec-shade").get_by_label("Shade each token by its probability").uncheck()
    expect(page.locator("#dec-heatmap span.tok")).to_have_count(0)


def test_sample_n_shows_rows_and_distinct_n(app_page):
    page = app_page
    open_decoding_lab(page)
    drag_slider(page, "dec-max-new", 12)
    open_accordion(page, "dec-sample-n-acc")
    drag_slider(page, "dec-n", 3)
    page.locator("#dec-sample-n").click()
    diversity = markdown(page, "dec-diversity")
    expect(diversity).to_have_text(re.compile(r"Distinct-1 [01]\.\d\d · Distinct-2 [01]\.\d\d\s*$"), timeout=60_000)
    samples = page.locator("#dec-samples")
    expect(samples.locator("[role=grid]")).to_have_attribute("aria-rowcount", "4")  # header + 3
    for column in ("seed", "completion", "tokens"):
        expect(samples.get_by_role("columnheader", name=column, exact=True)).to_be_visible()
    rows = samples.locator("[role=row]")
    expect(rows).to_have_count(4)
    seeds = [rows.nth(i).locator("[role=gridcell], td").first.inner_text().strip() for i in range(1, 4)]
    assert seeds == ["0", "1", "2"]
    expect(markdown(page, "dec-status")).to_have_text("")


# ---- mistakes get plain messages ----
def test_max_new_tokens_beyond_the_window_shows_a_message(app_page):
    page = app_page
    open_decoding_lab(page)
    type_in_slider(page, "dec-max-new", 512)
    page.locator("#dec-generate").click()
    status = markdown(page, "dec-status")
    expect(status).to_contain_text("⚠️ The prompt has")
    expect(status).to_contain_text("512 more were asked for")
    expect(status).to_contain_text("the model's context window of 512")
    expect(textbox(page, "dec-output")).to_have_value("")
    expect_no_crash(page)


def test_empty_or_too_long_prompt_shows_a_message(app_page):
    page = app_page
    open_decoding_lab(page)
    status = markdown(page, "dec-status")
    generate(page)  # a completion and its stats on screen, then the prompt is emptied
    fill_textbox(page, "dec-prompt", "")
    expect(status).to_contain_text("⚠️ The prompt is empty. Type some text for the model to continue.")
    # the chart no longer shows the previous prompt's distribution
    expect(page.locator("#dec-chart .gtitle")).to_contain_text("none to show")
    page.locator("#dec-generate").click()
    expect(status).to_contain_text("⚠️ The prompt is empty")
    expect(textbox(page, "dec-output")).to_have_value("")
    expect(markdown(page, "dec-stats")).to_have_text("")  # not stuck on "Generating…"
    expect_no_crash(page)
    # ~600 words: more tokens than the whole context window
    fill_textbox(page, "dec-prompt", " ".join(["word"] * 600))
    expect(status).to_contain_text("more than the model's context window of 512")
    expect(status).to_contain_text("Shorten the prompt or lower max new tokens")
    page.locator("#dec-generate").click()
    expect(status).to_contain_text("64 more were asked for")  # Generate checks prompt + max new tokens
    expect(status).to_contain_text("more than the model's context window of 512")
    expect(textbox(page, "dec-output")).to_have_value("")
    expect_no_crash(page)


def test_stop_ends_the_stream_and_says_so(app_page):
    page = app_page
    open_decoding_lab(page)
    type_in_slider(page, "dec-max-new", 440)
    box = page.locator("#dec-seed input")
    box.fill("1")  # with this seed the tiny model writes all 440 tokens (about 2 s) without ending its answer
    box.press("Enter")
    page.locator("#dec-generate").click()
    expect(markdown(page, "dec-stats")).to_contain_text("tokens/s", timeout=30_000)
    # force: the growing completion keeps moving the page, and Playwright would wait for the button to hold still
    page.locator("#dec-stop").click(force=True)
    stats = markdown(page, "dec-stats")
    expect(stats).to_contain_text("stopped by you", timeout=30_000)
    n_tokens = int(stats.inner_text().split("tokens", 1)[0].strip())
    assert 0 <= n_tokens < 440
    expect(markdown(page, "dec-status")).to_have_text("")
    expect_no_crash(page)


def test_a_seed_out_of_range_is_explained(app_page):
    page = app_page
    open_decoding_lab(page)
    box = page.locator("#dec-seed input")
    box.fill("1e30")
    box.press("Enter")
    page.locator("#dec-generate").click()
    status = markdown(page, "dec-status")
    expect(status).to_contain_text("⚠️")
    expect(status).to_contain_text("Seed must be a whole number from 0 to 9,223,372,036,854,775,807")
    expect_no_crash(page)


def test_unknown_model_id_shows_a_plain_message(app_page):
    page = app_page
    type_in_dropdown(page, "model-picker", "nobody/does-not-exist")
    page.locator("#load-model").click()
    status = markdown(page, "model-status")
    expect(status).to_contain_text("⚠️ 'nobody/does-not-exist' is not downloaded yet")
    expect(status).to_contain_text("offline")
    expect_no_crash(page)
    # back to the tiny model: it loads and says what it is
    choose_option(page, "model-picker", TINY)
    page.locator("#load-model").click()
    expect(status).to_contain_text(f"✅ {TINY}")
    expect(status).to_contain_text("context window 512 tokens")


def test_an_encoder_decoder_model_loads_and_writes(app_page, tmp_path):
    """FLAN-T5's architecture (tiny, random weights), typed as a folder: the page says what it is,
    draws its first reply token's distribution and streams a reply from its decoder."""
    from playground.tiny_model import build_tiny_seq2seq

    folder = build_tiny_seq2seq(tmp_path / "tiny-t5")
    page = app_page
    type_in_dropdown(page, "model-picker", str(folder))
    page.locator("#load-model").click()
    expect(markdown(page, "model-status")).to_contain_text("encoder-decoder, prompts up to 512 tokens", timeout=60_000)
    open_decoding_lab(page)
    assert len(plot_traces(page, "dec-chart")[0]["x"]) == 20
    drag_slider(page, "dec-max-new", 12)
    assert generate(page).strip()
    expect(markdown(page, "dec-status")).to_have_text("")
    expect_no_crash(page)
