"""The Rate tab as annotators use it: label with the mouse and the keyboard, see the sources
revealed after each vote, undo, read the leaderboard, export. Every acknowledged label is in
the database the app shares with the tests."""

from __future__ import annotations

import json
import re
from pathlib import Path

from playwright.sync_api import Page, expect

from tests.ui.helpers import expect_no_crash, fill_textbox, markdown, open_tab, textbox, wait_for_plot


def labels_of(annotator: str):
    from playground.preferences.labels import all_labels
    from playground.settings import Settings
    from playground.store import Store

    return all_labels(Store(Settings.from_env().home / "playground.db"), annotator=annotator)


def comparable(text: str) -> str:
    """Text as stored and as a textarea shows it differ where the tiny model's byte-level output is not
    valid text (U+FFFD, control characters, CR that the browser turns into LF): compare what is printable."""
    return re.sub(r"[^\x20-\x7e]", "", text)


def start(page: Page, name: str) -> None:
    open_tab(page, "Rate")
    fill_textbox(page, "rate-annotator", name)
    fill_textbox(page, "rate-typed", "Say hello.\nName a colour.\nCount to three.\nGive a tip for sleeping well.")
    page.locator("#rate-start").click()
    expect(markdown(page, "rate-status")).to_contain_text(f"Labeling as {name}", timeout=60_000)
    expect(textbox(page, "rate-left")).not_to_have_value("")


def shown_pair(page: Page) -> str:
    return textbox(page, "rate-left").input_value() + "\n---\n" + textbox(page, "rate-right").input_value()


def next_pair_shown(page: Page, previous: str) -> str:
    """Wait until the pair after a vote is on the page (it follows the acknowledgement); return it.
    One side is sampled with a fresh seed, so two pairs in a row are never the same text."""
    page.wait_for_function(
        """prev => { const a = document.querySelector('#rate-left textarea'), b = document.querySelector('#rate-right textarea');
                    return a && b && (a.value + '\\n---\\n' + b.value) !== prev; }""", arg=previous, timeout=60_000)
    return shown_pair(page)


def test_label_with_mouse_and_keyboard_undo_and_read_the_leaderboard(app_page: Page, tmp_path):
    page = app_page
    start(page, "ui-ana")
    first_prompt = markdown(page, "rate-prompt").inner_text()
    a_text = textbox(page, "rate-left").input_value()
    first_pair = shown_pair(page)

    page.locator("#rate-a").click()  # the mouse
    expect(markdown(page, "rate-reveal")).to_contain_text(re.compile(r"you chose A is better\. A was base · \S+"),
                                                          timeout=60_000)
    expect(markdown(page, "rate-progress")).to_contain_text("ui-ana: 1 labeled")
    (saved,) = labels_of("ui-ana")
    assert saved.choice == "left" and comparable(saved.left_text) == comparable(a_text) and saved.prompt in first_prompt
    assert saved.left_source != saved.right_source  # two different sources, named only after the vote

    shown_a = next_pair_shown(page, first_pair)
    page.locator("body").click(position={"x": 5, "y": 5})  # focus out of any field, then the keys
    page.keyboard.press("2")
    expect(markdown(page, "rate-progress")).to_contain_text("ui-ana: 2 labeled", timeout=60_000)
    expect(markdown(page, "rate-reveal")).to_contain_text("you chose B is better")
    shown_a = next_pair_shown(page, shown_a)
    page.keyboard.press("3")
    expect(markdown(page, "rate-progress")).to_contain_text("ui-ana: 3 labeled", timeout=60_000)
    assert [x.choice for x in labels_of("ui-ana")] == ["left", "right", "tie"]
    tied = shown_a
    fourth = next_pair_shown(page, shown_a)

    page.keyboard.press("u")  # undo: only my own last label goes, and its pair is back to label again
    expect(markdown(page, "rate-reveal")).to_contain_text("Removed your last label (a tie")
    assert [x.choice for x in labels_of("ui-ana")] == ["left", "right"]
    assert next_pair_shown(page, fourth) == tied
    page.keyboard.press("s")  # skip: nothing saved; the pair that was showing before the undo comes back
    expect(markdown(page, "rate-reveal")).to_contain_text("Skipped")
    assert next_pair_shown(page, tied) == fourth
    assert len(labels_of("ui-ana")) == 2

    page.get_by_role("tab", name="Results").click()  # read afresh when opened: no Refresh needed
    expect(page.locator("#rate-board")).to_contain_text("base · ", timeout=30_000)
    assert wait_for_plot(page, "rate-board-chart")
    stats = markdown(page, "rate-stats")
    expect(stats).to_contain_text("labels")
    expect(stats).to_contain_text(re.compile(r"by choice: .*A better \d"))  # the words of the buttons, not left/right
    counted = int(stats.inner_text().split(" label", 1)[0].replace(",", ""))  # everyone's: the app is shared by the tests
    assert counted >= 2
    expect(page.locator("#rate-labels")).to_contain_text("ui-ana")

    page.get_by_role("tab", name="Label").click()  # one more vote, then the results again
    page.locator("#rate-a").click()
    expect(markdown(page, "rate-progress")).to_contain_text("ui-ana: 3 labeled", timeout=60_000)
    page.get_by_role("tab", name="Results").click()
    page.wait_for_function(  # more than before: read afresh (other tests' sessions may label meanwhile)
        """n => { const m = (document.querySelector('#rate-stats') || {}).innerText?.match(/([\\d,]+) labels?/);
                  return m && parseInt(m[1].replace(/,/g, '')) > n; }""", arg=counted, timeout=30_000)
    page.get_by_role("tab", name="Label").click()
    page.locator("body").click(position={"x": 5, "y": 5})
    page.keyboard.press("u")  # and undone: the later tests train on this shared database (the RLHF tab's)
    expect(markdown(page, "rate-reveal")).to_contain_text("Removed your last label")
    assert [x.choice for x in labels_of("ui-ana")] == ["left", "right"]
    page.get_by_role("tab", name="Results").click()

    page.locator("#rate-export").click()
    expect(markdown(page, "rate-data-status")).to_contain_text("Exported")
    with page.expect_download() as info:
        page.locator("#rate-export-file a[download]").first.click()
    rows = [json.loads(line) for line in Path(info.value.path()).read_text(encoding="utf-8").splitlines()]
    assert rows and set(rows[0]) == {"prompt", "chosen", "rejected"}
    page.locator("#rate-push").click()  # no repo typed: the answer is under these buttons, on screen
    expect(markdown(page, "rate-data-status")).to_contain_text("Type the Hub dataset repo")
    assert markdown(page, "rate-data-status").is_visible() and markdown(page, "rate-data-status").bounding_box()["y"] > \
        page.locator("#rate-push").bounding_box()["y"]
    expect_no_crash(page)


def test_rating_without_a_name_or_with_one_source_is_explained(app_page: Page):
    page = app_page
    open_tab(page, "Rate")
    page.locator("#rate-start").click()
    expect(markdown(page, "rate-status")).to_contain_text("Type your name first")
    expect(page.locator(".toast-body.warning")).to_contain_text("Type your name first")  # also where one looks
    fill_textbox(page, "rate-annotator", "ui-bo")
    target = page.locator("#rate-target input")
    target.fill("-5")
    target.press("Tab")
    page.locator("#rate-start").click()
    expect(markdown(page, "rate-status")).to_contain_text("Your target must be a whole number of labels, at least 1")
    target.fill("50")
    target.press("Tab")
    page.locator("#rate-presets").get_by_label("sampling T=1.2", exact=True).uncheck()
    page.locator("#rate-start").click()
    expect(markdown(page, "rate-status")).to_contain_text("Choose at least two sources")
    page.keyboard.press("1")  # no pair yet: nothing happens, nothing is stored
    assert labels_of("ui-bo") == []
    expect_no_crash(page)


def test_rate_one_completion_on_helpful_honest_harmless(app_page: Page):
    from tests.ui.helpers import choose_radio, drag_slider

    page = app_page
    open_tab(page, "Rate")
    fill_textbox(page, "rate-annotator", "ui-cy")
    choose_radio(page, "rate-mode", "Rate one (helpful, honest, harmless)")
    page.locator("#rate-start").click()
    expect(page.locator("#rate-submit-rating")).to_be_visible(timeout=60_000)
    expect(page.locator("#rate-right")).to_have_count(0)  # one completion, no B
    expect(page.locator("#rate-a")).to_have_count(0)
    drag_slider(page, "rate-helpful", 5)
    drag_slider(page, "rate-harmless", 4)
    page.locator("#rate-submit-rating").click()
    expect(markdown(page, "rate-reveal")).to_contain_text("helpful 5, honest 3, harmless 4. It was written by base ·",
                                                          timeout=60_000)
    (saved,) = labels_of("ui-cy")
    assert saved.kind == "rating" and saved.scores == {"helpful": 5, "honest": 3, "harmless": 4}
    expect_no_crash(page)
