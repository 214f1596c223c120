"""The RLHF tab as a person uses it: from the Rate tab's labels to a reward model (trained in the
background, watched, then read: its held-out histogram and a score for any reply), then DPO and KTO
from the same labels, and PPO and GRPO against the reward model with their replies before and after. Bad
input gets a plain message and starts nothing."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.integration.preference_synth import marker_pairs
from tests.ui.helpers import (
    choose_radio,
    expect_no_crash,
    fill_textbox,
    markdown,
    open_accordion,
    open_tab,
    set_number,
    type_in_slider,
    wait_for_plot,
)

RUN_TIMEOUT = 240_000


@pytest.fixture(scope="module")
def labels(app_server):
    """200 decisive votes in the app's database, as the Rate tab stores them: the reply with the marker word won."""
    from playground.preferences.labels import Label, add_many
    from playground.settings import Settings
    from playground.store import Store

    rows = marker_pairs(200, seed=3)
    add_many(Store(Settings.from_env().home / "playground.db"),
             [Label(prompt=r["prompt"], left_text=r["rejected"], right_text=r["chosen"], left_source="base",
                    right_source="lora", choice="right", annotator="ui-rlhf") for r in rows])
    return rows


def wait_until_finished(page: Page, name: str) -> None:
    """Until the page shows `name` finished: its own chart first (the picker changes at launch, while
    the progress of the run shown before, perhaps finished, stays until the next poll)."""
    expect(page.locator("#rl-run-picker input")).to_have_value(re.compile(re.escape(name)), timeout=30_000)
    page.wait_for_function("name => { const div = document.querySelector('#rl-chart .js-plotly-plot');"
                           " return !!(div && div.layout && div.layout.title && String(div.layout.title.text).startsWith(name)); }",
                           arg=name, timeout=60_000)
    expect(page.locator("#rl-progress")).to_contain_text("finished", timeout=RUN_TIMEOUT)


def test_from_labels_to_a_reward_model_then_dpo_ppo_and_grpo(app_page: Page, labels):
    page = app_page
    open_tab(page, "RLHF")
    page.locator("#rl-count").click()  # answered under the button, a line per sort of data the methods learn from
    counted = markdown(page, "rl-count-status")
    expect(counted).to_contain_text(re.compile(r"pairs from the Rate tab's labels: [\d,]+ to train on, [\d,]+ held out"),
                                    timeout=30_000)
    expect(counted).to_contain_text(re.compile(r"Distinct prompts \(PPO, RLOO, GRPO\): [\d,]+ distinct prompts"))
    expect(counted).to_contain_text(re.compile(r"Labeled replies \(KTO\): [\d,]+ labeled replies"))
    open_accordion(page, "rl-settings-acc")
    set_number(page, "rl-epochs", 3)
    type_in_slider(page, "rl-batch", 8)
    type_in_slider(page, "rl-max-len", 64)
    set_number(page, "rl-reward-lr", 0.003)
    fill_textbox(page, "rl-reward-name", "ui-rm")
    page.locator("#rl-train-reward").click()
    expect(markdown(page, "rl-status")).to_contain_text(re.compile("Reward model run .*ui-rm.* (started|queued)"),
                                                        timeout=60_000)
    expect(markdown(page, "rl-reward-note")).to_contain_text("ui-rm launched: follow it under Runs below")
    wait_until_finished(page, "ui-rm")
    traces = wait_for_plot(page, "rl-chart", trace_name="held-out", timeout=30_000)
    assert any(t["name"] == "training loss" and len(t["y"]) >= 5 for t in traces)

    # the reward model just trained is chosen wherever a reward model is asked for
    for picker in ("rl-reward-picker", "rl-ppo-reward"):  # (and GRPO's, checked when its section is opened)
        expect(page.locator(f"#{picker} input[role=combobox]")).to_have_value("ui-rm", timeout=30_000)
    summary = markdown(page, "rl-reward-summary")
    expect(summary).to_contain_text("ranks the chosen reply first", timeout=30_000)
    right, total = map(int, re.search(r"in (\d+) of (\d+) held-out pairs", summary.inner_text()).groups())
    # Chance is 0.5. On ~40 held-out pairs one standard deviation is ~7 points (and other tabs' tests add
    # labels of their own to this database): 0.7 failed a clean-clone run at 28 of 41; 27 of 41 or more
    # happens by chance with p < 0.03.
    assert right >= 0.65 * total
    histogram = wait_for_plot(page, "rl-reward-hist", n_traces=2)
    assert {t["name"] for t in histogram} == {"chosen", "rejected"}

    scores = []
    pair = labels[0]
    fill_textbox(page, "rl-score-prompt", pair["prompt"])
    for reply in (pair["chosen"], pair["rejected"]):
        fill_textbox(page, "rl-score-reply", reply)
        previous = markdown(page, "rl-score-out").inner_text()
        page.locator("#rl-score").click()
        expect(markdown(page, "rl-score-out")).not_to_have_text(previous, timeout=30_000)
        expect(markdown(page, "rl-score-out")).to_contain_text("Reward from ui-rm")
        scores.append(float(re.search(r"([+-]\d+\.\d+)", markdown(page, "rl-score-out").inner_text()).group(1)))
    # The page shows the reward model's own scores; the model prefers the marker word across the labels
    # (one pair alone can go either way: the held-out accuracy above is about 0.8).
    from playground.settings import Settings
    from playground.training.reward import RewardModel

    model = RewardModel(Settings.from_env().adapters_dir / "ui-rm", Settings.from_env())
    assert scores == pytest.approx(model.score([(pair["prompt"], pair["chosen"]), (pair["prompt"], pair["rejected"])]),
                                   abs=1e-3)
    chosen = model.score([(r["prompt"], r["chosen"]) for r in labels])
    rejected = model.score([(r["prompt"], r["rejected"]) for r in labels])
    assert sum(c > r for c, r in zip(chosen, rejected)) >= 0.75 * len(labels)

    set_number(page, "rl-dpo-lr", 0.003)
    type_in_slider(page, "rl-beta", 0.1)
    fill_textbox(page, "rl-dpo-name", "ui-dpo")
    page.locator("#rl-train-dpo").click()
    expect(markdown(page, "rl-status")).to_contain_text(re.compile("DPO run .*ui-dpo"), timeout=60_000)
    expect(markdown(page, "rl-direct-note")).to_contain_text("ui-dpo launched")
    expect(page.locator("#rl-reward-note")).not_to_contain_text("ui-rm")  # the other button's note is over
    wait_until_finished(page, "ui-dpo")
    traces = wait_for_plot(page, "rl-chart", trace_name="chosen / good", timeout=30_000)
    assert any(t["name"] == "held-out" for t in traces)

    # KTO from the same labels, read as single replies marked good or bad
    choose_radio(page, "rl-direct-method", "KTO")
    expect(page.locator("#rl-train-dpo")).to_have_text("Train with KTO")
    expect(page.locator("#rl-desirable-weight")).to_be_visible()
    expect(page.locator("#rl-loss")).to_be_hidden()
    fill_textbox(page, "rl-dpo-name", "ui-kto")
    page.locator("#rl-train-dpo").click()
    expect(markdown(page, "rl-status")).to_contain_text(re.compile("KTO run .*ui-kto"), timeout=60_000)
    wait_until_finished(page, "ui-kto")
    traces = wait_for_plot(page, "rl-chart", trace_name="chosen / good", timeout=30_000)
    assert any(t["name"] == "rejected / bad" for t in traces)

    # PPO against the reward model just trained, and what changed on held-out prompts
    type_in_slider(page, "rl-resp-len", 8)
    set_number(page, "rl-episodes", 64)
    type_in_slider(page, "rl-ppo-epochs", 1)
    set_number(page, "rl-ppo-lr", 0.001)
    fill_textbox(page, "rl-ppo-name", "ui-ppo")
    page.locator("#rl-train-ppo").click()
    expect(markdown(page, "rl-status")).to_contain_text(re.compile("PPO run .*ui-ppo"), timeout=60_000)
    expect(markdown(page, "rl-status")).to_contain_text("PPO: 64 episodes, in 8 batches of 8 replies")
    wait_until_finished(page, "ui-ppo")
    expect(markdown(page, "rl-status")).to_contain_text("PPO run ui-ppo finished.", timeout=10_000)  # not "started"
    expect(markdown(page, "rl-status")).to_contain_text("PPO: 64 episodes")  # the launch's notes stay
    traces = wait_for_plot(page, "rl-chart", n_traces=6, timeout=30_000)
    assert all(len(t["y"]) >= 8 for t in traces)  # 64 episodes in batches of 8: a point per update in each chart
    expect(markdown(page, "rl-ppo-summary")).to_contain_text(re.compile(r"before [+-]\d\.\d+ .* after [+-]\d\.\d+"))
    expect(markdown(page, "rl-ppo-summary")).to_contain_text("KL to the reference")
    expect(page.locator("#rl-ppo-samples")).to_be_visible()
    expect(page.locator("#rl-ppo-samples")).to_contain_text("Tell me about the")  # the held-out prompts and replies
    expect(page.locator("#rl-train-samples")).to_contain_text("Tell me about the")  # what it wrote while training

    # GRPO from the same reward model; its KL weight is shown and set (TRL's GRPO default is 0)
    open_accordion(page, "rl-group-acc")
    expect(page.locator("#rl-group-reward input[role=combobox]")).to_have_value("ui-rm")
    choose_radio(page, "rl-group-method", "RLOO")
    expect(page.locator("#rl-group-beta input[type=number]")).to_have_value("0.05")
    choose_radio(page, "rl-group-method", "GRPO")
    expect(page.locator("#rl-group-beta input[type=number]")).to_have_value("0.04")
    expect(page.locator("#rl-train-group")).to_have_text("Train with GRPO")
    set_number(page, "rl-group-steps", 6)
    type_in_slider(page, "rl-group-len", 8)
    fill_textbox(page, "rl-group-name", "ui-grpo")
    page.locator("#rl-train-group").click()
    expect(markdown(page, "rl-status")).to_contain_text(re.compile("GRPO run .*ui-grpo"), timeout=60_000)
    wait_until_finished(page, "ui-grpo")
    traces = wait_for_plot(page, "rl-chart", n_traces=4, timeout=30_000)
    assert any(len(t["y"]) >= 6 for t in traces)
    expect(markdown(page, "rl-ppo-summary")).to_contain_text("Held-out prompts, mean reward")

    # the same replies judged by another scorer (here the reward model itself: any reward model or classifier)
    open_accordion(page, "rl-rescore-acc")
    page.locator("#rl-other-scorer input[role=combobox]").click()
    page.locator("#rl-other-scorer [role=option]").filter(has_text="ui-rm").first.click()
    page.locator("#rl-rescore").click()
    expect(markdown(page, "rl-rescore-status")).to_contain_text(re.compile(r"Scored by ui-rm: before [+-]\d"), timeout=60_000)
    expect(markdown(page, "rl-ppo-summary")).to_contain_text("Also scored by ui-rm")

    # every policy run on one reward-vs-KL chart, to compare what each bought its reward with
    page.locator("#rl-reward-kl").scroll_into_view_if_needed()
    traces = wait_for_plot(page, "rl-reward-kl", n_traces=2, trace_name="GRPO", timeout=30_000)
    assert {t["name"] for t in traces} == {"PPO", "GRPO"} and all(len(t["x"]) == 1 for t in traces)
    expect_no_crash(page)


def test_bad_input_gets_a_plain_message_and_starts_nothing(app_page: Page):
    page = app_page
    open_tab(page, "RLHF")
    expect(page.locator("#rl-data-file")).to_be_hidden()  # each source shows its own fields only
    choose_radio(page, "rl-data-choice", "A preference file (upload)")
    expect(page.locator("#rl-data-file")).to_be_visible()
    page.locator("#rl-train-reward").click()
    # under the button that was clicked, not under Runs a long way below, and as a pop-up
    expect(markdown(page, "rl-reward-note")).to_contain_text("Upload a preference file", timeout=30_000)
    expect(page.locator(".toast-body.warning")).to_contain_text("Upload a preference file")
    note, button = (page.locator(f"#{e}").bounding_box() for e in ("rl-reward-note", "rl-train-reward"))
    assert 0 <= note["y"] - (button["y"] + button["height"]) < 100
    assert "Upload" not in page.locator("#rl-status").inner_text()

    choose_radio(page, "rl-data-choice", "A Hub data set")
    expect(page.locator("#rl-data-file")).to_be_hidden()
    page.locator("#rl-count").click()
    expect(markdown(page, "rl-count-status")).to_contain_text("Type a Hub data set id", timeout=30_000)
    fill_textbox(page, "rl-hub-id", "trl-lib/ultrafeedback_binarized")
    page.locator("#rl-count").click()
    expect(markdown(page, "rl-count-status")).to_contain_text("the Hugging Face Hub can't be reached", timeout=30_000)
    fill_textbox(page, "rl-hub-split", "train; rm -rf")
    page.locator("#rl-train-reward").click()
    expect(markdown(page, "rl-reward-note")).to_contain_text("'Split' must be a split name like train or test",
                                                             timeout=30_000)
    page.locator("#rl-score").click()
    expect(markdown(page, "rl-score-out")).to_contain_text("Choose a reward model first")
    expect_no_crash(page)
