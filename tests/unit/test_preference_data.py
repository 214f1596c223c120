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
