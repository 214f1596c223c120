import pytest

from playground.metrics import bootstrap_ci, distinct_n, rouge


def test_rouge_identical_empty_and_known_values():
    assert rouge("the cat sat", "the cat sat") == {"rouge1": 1.0, "rouge2": 1.0, "rougeL": 1.0}
    assert rouge("", "the cat sat") == {"rouge1": 0.0, "rouge2": 0.0, "rougeL": 0.0}
    # Worked by hand: tokens (lower-cased, stemmed) person1 is buy jacket vs person1 buy a jacket in green.
    # Unigrams shared: person1, buy, jacket: P 3/4, R 3/6, F 0.6; no shared bigram; LCS 3 words: F 0.6.
    scores = rouge("#Person1# is buying jackets", "#Person1# buys a jacket in green")
    assert scores == pytest.approx({"rouge1": 0.6, "rouge2": 0.0, "rougeL": 0.6})
    assert rouge("jackets", "jacket")["rouge1"] == 1.0  # stemming, as evaluate's rouge with use_stemmer=True


def test_bootstrap_interval_brackets_the_mean_and_is_seeded():
    values = [0.1, 0.4, 0.35, 0.8, 0.5, 0.2, 0.9, 0.3]
    mean, low, high = bootstrap_ci(values)
    assert low < mean < high and mean == pytest.approx(sum(values) / len(values))
    assert bootstrap_ci(values) == (mean, low, high)
    assert bootstrap_ci([0.5]) == (0.5, 0.5, 0.5)
    narrow = bootstrap_ci(values * 20)
    assert narrow[2] - narrow[1] < high - low  # more data, tighter interval


def test_distinct_n():
    assert distinct_n(["a b c", "a b c"], 1) == 0.5
    assert distinct_n(["a b c", "d e f"], 2) == 1.0
    assert distinct_n(["", "a"], 2) == 0.0
