"""Preference pairs for the RLHF kinds: the split (seeded, refusing sizes too small to learn or
judge from), the text a reward model reads (chat template or plain + EOS, cut from the start), and
the charts of such runs."""

import pytest

from playground import plots
from playground.errors import PlaygroundError
from playground.tiny_model import build_tokenizer
from playground.training.preference_data import MIN_HELD_OUT_PAIRS, MIN_TRAIN_PAIRS, minimum_pairs, reward_ids, reward_text, split_pairs

ROWS = [{"prompt": f"p{i}", "chosen": f"good {i}", "rejected": f"bad {i}"} for i in range(50)]


def test_the_split_is_seeded_disjoint_and_whole():
    first, again, other = split_pairs(ROWS, 0.2, 0), split_pairs(ROWS, 0.2, 0), split_pairs(ROWS, 0.2, 1)
    assert first.train == again.train and first.held_out == again.held_out
    assert first.held_out != other.held_out
    assert len(first.held_out) == 10 and sorted(r["prompt"] for r in first.train + first.held_out) == sorted(
        r["prompt"] for r in ROWS)


def test_a_pair_labeled_by_two_people_is_never_split_between_training_and_held_out():
    twice = [{"prompt": f"p{i}", "chosen": f"good {i}", "rejected": f"bad {i}"} for i in range(20)]
    twice += [{"prompt": f"p{i}", "chosen": f"bad {i}", "rejected": f"good {i}"} for i in range(20)]  # the other vote
    for seed in range(5):
        split = split_pairs(twice, 0.2, seed)
        trained = {r["prompt"] for r in split.train}
        assert len(split.held_out) == 8 and not trained & {r["prompt"] for r in split.held_out}
    assert split_pairs(ROWS, 0.2, 3).held_out == [ROWS[i] for i in _shuffled(len(ROWS), 3)[:10]]  # one-row groups: as before


def _shuffled(n: int, seed: int) -> list[int]:
    import random

    order = list(range(n))
    random.Random(seed).shuffle(order)
    return order


@pytest.mark.parametrize("fraction", [0.05, 0.2, 0.45])
def test_the_minimum_leaves_enough_on_both_sides(fraction):
    needed = minimum_pairs(fraction)
    split = split_pairs(ROWS[:needed], fraction, 0)
    assert len(split.train) >= MIN_TRAIN_PAIRS and len(split.held_out) >= MIN_HELD_OUT_PAIRS
    with pytest.raises(PlaygroundError, match=f"at least {needed} are needed"):
        split_pairs(ROWS[:needed - 1], fraction, 0)


def test_a_reward_model_reads_the_chat_turns_or_prompt_reply_and_eos():
    chat = build_tokenizer()
    text = reward_text(chat, "Hi there", "Hello!")
    assert text.index("Hi there") < text.index("Hello!") < text.index(chat.eos_token, text.index("Hello!"))
    plain = build_tokenizer()
    plain.chat_template = None
    assert reward_text(plain, "Q: ", "A") == "Q: A" + plain.eos_token


def test_long_texts_are_cut_from_the_start_so_the_reply_is_kept():
    tokenizer = build_tokenizer()
    tokenizer.chat_template = None
    ids = reward_ids(tokenizer, "word " * 400, " the final reply", 32)
    assert len(ids) == 32 and tokenizer.decode(ids).endswith(" the final reply" + tokenizer.eos_token)


def test_preference_runs_chart_accuracy_and_margin_with_one_color_per_series():
    events = [{"type": "log", "step": s, "loss": 1 / s, "accuracy": 0.5, "margin": 0.1 * s} for s in (1, 2)]
    events.append({"type": "log", "step": 2, "eval_loss": 0.6, "eval_accuracy": 0.9, "eval_margin": 0.4})
    figure = plots.training_figure(events, "rm", plots.panels_for("reward"))
    by_name = {}
    for trace in figure.data:
        by_name.setdefault(trace.name, set()).add(trace.marker.color)
    assert all(len(colors) == 1 for colors in by_name.values())  # the same series looks the same in every panel
    assert {"training batches", "held-out"} <= set(by_name)
    assert [t.name for t in figure.data if t.showlegend].count("held-out") == 1
    histogram = plots.reward_histogram_figure([1.0, 2.0], [-1.0], "x")
    assert [t.name for t in histogram.data] == ["chosen", "rejected"]


def test_kto_reads_single_replies_from_the_labels_and_from_a_file(tmp_path):
    """'both bad' votes and clear ratings become KTO rows, beside both sides of decisive votes; a
    file's TRL unpaired lines are read as they are, its pairs as two rows, and bad lines are reported."""
    from playground.preferences.labels import Label, add_many
    from playground.settings import Settings
    from playground.store import Store
    from playground.training.preference_data import load_pairs

    settings = Settings(home=tmp_path / "home", adapters_dir=tmp_path / "adapters", default_model="tiny", hub_offline=True,
                        host="127.0.0.1", port=0)
    settings.ensure_dirs()
    vote = dict(left_source="x", right_source="y", annotator="ana")
    add_many(Store(settings.home / "playground.db"), [
        Label(prompt="p1", left_text="good", right_text="bad", choice="left", **vote),
        Label(prompt="p2", left_text="meh", right_text="worse", choice="both_bad", **vote),
        Label(prompt="p3", left_text="same", right_text="same too", choice="tie", **vote),
        Label(prompt="p4", left_text="kind", left_source="base", annotator="ana", scores={"helpful": 5, "honest": 4, "harmless": 5}),
        Label(prompt="p5", left_text="so-so", left_source="base", annotator="ana", scores={"helpful": 3, "honest": 3, "harmless": 3}),
    ])
    rows, described = load_pairs("labels", settings, unpaired=True)
    assert sorted((r["prompt"], r["completion"], r["label"]) for r in rows) == [
        ("p1", "bad", False), ("p1", "good", True), ("p2", "meh", False), ("p2", "worse", False), ("p4", "kind", True)]
    assert described == "5 labeled replies from the Rate tab's labels"
    assert len(load_pairs("labels", settings)[0]) == 1  # as pairs: only the decisive vote

    file = tmp_path / "mixed.jsonl"
    file.write_text('{"prompt": "q", "completion": "yes", "label": true}\n'
                    '{"prompt": "q", "chosen": "a", "rejected": "b"}\n'
                    '{"prompt": "q", "completion": "", "label": false}\n'
                    '{"prompt": "q", "completion": "no", "label": 0}\n', encoding="utf-8")
    rows, described = load_pairs(str(file), settings, unpaired=True)
    assert [(r["completion"], r["label"]) for r in rows] == [("yes", True), ("a", True), ("b", False)]
    assert "line 3: the prompt or the completion is empty" in described and "line 4: label must be true or false" in described


def test_the_reward_kl_chart_has_a_point_per_measured_policy_run_with_its_interval():
    from playground.training.policy_eval import reward_kl_points

    measured = {"kl": 1.5, "kl_train": 0.1, "reward_change": 0.8, "reward_change_low": 0.3, "reward_change_high": 1.2}
    runs = [{"name": "p1", "kind": "ppo", "metrics": measured, "recipe": {"reward_model": "rm", "kl_coef": 0.05}},
            {"name": "g1", "kind": "grpo", "metrics": measured | {"kl": 0.5}, "recipe": {"reward_model": "rm2", "beta": 0.04}},
            {"name": "d1", "kind": "dpo", "metrics": {"eval_margin": 1.0}, "recipe": {}},
            {"name": "old", "kind": "rloo", "metrics": {"kl": 3.0, "reward_change": 1.0}, "recipe": {}}]  # no held-out KL
    points = reward_kl_points(runs)
    assert [(p["name"], p["weight"]) for p in points] == [("p1", 0.05), ("g1", 0.04)]
    figure = plots.reward_kl_figure(points)
    by_name = {t.name: t for t in figure.data}
    assert set(by_name) == {"PPO", "GRPO"}
    assert list(by_name["PPO"].error_y.arrayminus) == [pytest.approx(0.5)] and list(by_name["PPO"].error_y.array) == [pytest.approx(0.4)]
    assert by_name["PPO"].marker.symbol != by_name["GRPO"].marker.symbol  # two reward models, two symbols
    assert "No finished" in plots.reward_kl_figure([]).layout.annotations[0].text


def test_the_ppo_launch_note_counts_rounds_of_updates_as_trl_does_and_says_when_that_is_few():
    from playground.training.ppo import ppo_plan
    from playground.training.preference_recipes import PPORecipe

    short = ppo_plan(PPORecipe(reward_model="rm"), n_prompts=12)  # TRL: 12 episodes, batches of 4
    assert short.startswith("PPO: 12 episodes (12 training prompts × 1 epoch), in 3 batches of 4 replies, each learned from 4 times.")
    assert "set Episodes to 200" in short
    long = ppo_plan(PPORecipe(reward_model="rm", total_episodes=64, per_device_train_batch_size=8, num_ppo_epochs=1),
                    n_prompts=12)
    assert long == "PPO: 64 episodes, in 8 batches of 8 replies, each learned from 1 time. That is a short run: for 50 rounds of updates, set Episodes to 400."
    enough = ppo_plan(PPORecipe(reward_model="rm", num_train_epochs=2, gradient_accumulation_steps=2), n_prompts=90)
    assert enough == "PPO: 180 episodes (90 training prompts × 2 epochs), in 23 batches of 8 replies, each learned from 4 times."


def _settings(tmp_path):
    from playground.settings import Settings

    settings = Settings(home=tmp_path / "home", adapters_dir=tmp_path / "adapters", default_model="tiny", hub_offline=True,
                        host="127.0.0.1", port=0)
    settings.ensure_dirs()
    return settings


def test_a_hub_data_set_of_conversations_with_an_implicit_prompt_is_read_as_pairs(tmp_path, monkeypatch):
    """A Hub id (owner/name) is read with `datasets` (here from a local folder of that name: tests never
    download), its list-of-messages columns as TRL writes them, e.g. trl-lib/ultrafeedback_binarized."""
    import json

    import playground.models
    from playground.training.preference_data import load_pairs

    folder = tmp_path / "someone" / "prefs"
    folder.mkdir(parents=True)
    user = [{"role": "user", "content": "Name a colour."}]
    lines = [{"chosen": user + [{"role": "assistant", "content": f"Blue {i}."}],
              "rejected": user + [{"role": "assistant", "content": f"Seven {i}."}], "score_chosen": 8.0} for i in range(3)]
    lines.append({"chosen": user + [{"role": "assistant", "content": "Red."}],
                  "rejected": [{"role": "user", "content": "Another question."}, {"role": "assistant", "content": "No."}],
                  "score_chosen": 1.0})
    (folder / "test.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(playground.models, "hub_reachable", lambda settings, timeout=2.0: True)

    rows, described = load_pairs("someone/prefs", _settings(tmp_path), split="test")
    assert rows[:2] == [{"prompt": "Name a colour.", "chosen": "Blue 0.", "rejected": "Seven 0."},
                        {"prompt": "Name a colour.", "chosen": "Blue 1.", "rejected": "Seven 1."}]
    assert len(rows) == 3
    assert described.startswith("3 pairs from someone/prefs (test split) (trl-implicit-prompt); rows left out: row 4: "
                                "chosen and rejected conversations do not share")
    kto, _ = load_pairs("someone/prefs", _settings(tmp_path), unpaired=True, split="test")
    assert [(r["completion"], r["label"]) for r in kto[:2]] == [("Blue 0.", True), ("Seven 0.", False)]


def test_a_hub_id_offline_or_a_missing_file_is_refused_with_what_to_use(tmp_path):
    from playground.training.preference_data import load_pairs

    with pytest.raises(PlaygroundError, match="Hub can't be reached .offline.: use the Rate tab's labels or a preference file"):
        load_pairs("trl-lib/ultrafeedback_binarized", _settings(tmp_path))
    with pytest.raises(PlaygroundError, match="neither 'labels'"):
        load_pairs("someone/prefs.jsonl", _settings(tmp_path))  # a file's name, not an id: no Hub is asked
