import pytest

from playground.generation import NextTokenDistribution, TokenProb
from playground.plots import (
    eval_scores_figure,
    next_token_figure,
    rouge_bar_figure,
    token_heatmap_html,
    training_figure,
    visible_token,
)


def test_next_token_figure_marks_cut_tokens_and_keeps_duplicate_labels_apart():
    dist = NextTokenDistribution(
        tokens=[TokenProb(1, " the", 0.5, 0.7), TokenProb(2, "a", 0.3, 0.3), TokenProb(3, "a", 0.2, 0.0)],
        kept=2, vocab_size=100,
    )
    figure = next_token_figure(dist)
    raw, final = figure.data
    assert list(raw.y) == ["␣the", "a (#2)", "a (#3)"]
    assert list(final.x) == [0.7, 0.3, 0.0]
    assert list(final.text)[-1] == "cut"
    assert "can pick 2 of 100 tokens" in figure.layout.title.text


def test_rouge_bar_figure_has_error_bars_per_metric():
    rows = [{"variant": v, "metric": m, "mean": 0.3, "low": 0.2, "high": 0.5} for v in ("Zero-shot", "Few-shot") for m in ("rouge1", "rougeL")]
    figure = rouge_bar_figure(rows)
    assert [t.name for t in figure.data] == ["rouge1", "rougeL"]
    assert list(figure.data[0].error_y.array) == [0.2, 0.2]


def test_heatmap_escapes_text_and_shows_probabilities():
    html = token_heatmap_html([("<b>", 0.9), (" x", 0.05)])
    assert "&lt;b&gt;" in html and 'title="p = 0.900"' in html and 'title="p = 0.050"' in html
    assert visible_token("\n") == "↵" and visible_token("") == "∅"


def test_a_legend_only_where_a_panel_draws_several_series():
    """GRPO's six panels draw one series each: a legend naming only its loss ("training loss") sat
    beside the Reward panel and read as that chart's. Fine-tuning's loss panel draws two."""
    from playground.plots import GROUP_PANELS, TRAINING_PANELS, training_figure

    logs = [{"type": "log", "step": s, "loss": 1.0 / s, "eval_loss": 1.2 / s, "reward": 0.1 * s, "kl": 0.01, "entropy": 2.0}
            for s in (1, 2, 3)]
    grpo = training_figure(logs, "grpo", GROUP_PANELS)
    assert len(grpo.data) == 4 and not [t.name for t in grpo.data if t.showlegend]
    tuned = training_figure(logs, "lora", TRAINING_PANELS)
    assert sorted(t.name for t in tuned.data if t.showlegend) == ["training loss", "validation loss"]


def test_scores_that_span_orders_of_magnitude_get_a_log_axis():
    interval = lambda v: {"value": v, "low": v * 0.9, "high": v * 1.1}  # noqa: E731
    task = {"name": "test split", "n": 10, "scores": {
        "base": {"perplexity": interval(6.9e17), "rougeL": interval(0.01)},
        "tuned": {"perplexity": interval(2.0e7), "rougeL": interval(0.3)}}}
    figure = eval_scores_figure(task, ["rougeL", "perplexity"], {"rougeL": "ROUGE-L", "perplexity": "Perplexity"})
    titles = [a.text for a in figure.layout.annotations]
    assert titles == ["ROUGE-L", "Perplexity (log scale)"]
    assert figure.layout.yaxis.type != "log" and figure.layout.yaxis2.type == "log"  # 30x apart: linear; 3e10x: log


def test_score_axes_of_metrics_that_cannot_go_below_zero_start_at_zero():
    """Every model scoring 0 (a random model's exact match) drew an axis from -1 to 1."""
    zero = {"value": 0.0, "low": 0.0, "high": 0.0}
    task = {"name": "test split", "n": 10, "scores": {"base": {"exact_match": zero, "rougeL": zero},
                                                      "tuned": {"exact_match": zero, "rougeL": zero}}}
    figure = eval_scores_figure(task, ["exact_match", "rougeL"], {})
    assert figure.layout.yaxis.rangemode == "nonnegative" and figure.layout.yaxis2.rangemode == "nonnegative"


def test_scores_whose_intervals_span_orders_of_magnitude_get_a_log_axis():
    """Two perplexities 25x apart, but intervals from 1e2 to 1e16: on a linear axis one bar vanished."""
    task = {"name": "test split", "n": 10, "scores": {
        "base": {"perplexity": {"value": 5e14, "low": 1e12, "high": 1e16}},
        "tuned": {"perplexity": {"value": 2e13, "low": 1e2, "high": 4e14}}}}
    figure = eval_scores_figure(task, ["perplexity"], {"perplexity": "Perplexity"})
    assert figure.layout.yaxis.type == "log"


def test_training_panels_that_cannot_go_below_zero_start_at_zero():
    logs = [{"type": "log", "step": s, "loss": 3.0 - s / 10, "eval_mean_token_accuracy": 0.0, "margin": s - 2.0}
            for s in range(1, 5)]
    figure = training_figure(logs, "", [("Loss", ("loss",)), ("Accuracy", ("eval_mean_token_accuracy",)),
                                        ("Margin", ("margin",))])
    assert figure.layout.yaxis.rangemode == figure.layout.yaxis2.rangemode == "nonnegative"
    assert figure.layout.yaxis3.rangemode is None  # a margin below zero keeps its own range


def test_the_memory_bars_labels_share_one_unit():
    from playground.plots import gib_texts

    assert gib_texts([0.102, 0.0974]) == ["0.102 GiB", "0.0974 GiB"]  # not "99.7 MiB" beside "0.102 GiB"
    assert gib_texts([0.05, 0.01]) == ["51.2 MiB", "10.2 MiB"]
    assert gib_texts([12.34, 0.4]) == ["12.3 GiB", "0.4 GiB"]


def test_changes_orders_of_magnitude_apart_are_drawn_as_shares_of_the_base():
    """A random base's perplexity falling by 1e16 beside a fall of 10: on one linear axis the second
    bar is nothing; as relative changes both show, with their intervals scaled alike."""
    from playground.plots import eval_changes_figure

    def change(diff, relative):
        return {"diff": diff, "low": diff * 1.5, "high": diff * 0.5, "relative": relative, "p_value": 0.01, "real": True}

    task = {"changes": {"big": {"perplexity": change(-1e16, -0.9999)}, "small": {"perplexity": change(-10.0, -0.25)},
                        }}
    figure = eval_changes_figure(task, ["perplexity"], {"perplexity": "Perplexity"}, {"perplexity": -1})
    bars = {b.x[0]: b for b in figure.data}
    assert bars["big"].y[0] == pytest.approx(-0.9999) and bars["small"].y[0] == pytest.approx(-0.25)
    assert bars["small"].error_y.array[0] == pytest.approx(0.125)  # (high - diff) / |base| = 5 / 40
    assert "(relative change)" in figure.layout.annotations[0].text
    near = {"a": {"perplexity": change(-10.0, -0.25)}, "b": {"perplexity": change(-20.0, -0.5)}}
    plain = eval_changes_figure({"changes": near}, ["perplexity"], {"perplexity": "Perplexity"}, {"perplexity": -1})
    assert [b.y[0] for b in plain.data] == [-10.0, -20.0] and "relative" not in plain.layout.annotations[0].text
