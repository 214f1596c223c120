import pytest

from playground.errors import PlaygroundError
from playground.prompts import PromptTemplate, build_prompt, choose_shots, fit_prompt, parse_indices, standard_variants

TEMPLATE = PromptTemplate(instruction="Summarize.", example_format="Dialogue: {input}\nSummary: {output}", separator="\n\n")
EXAMPLES = [(f"dialogue {i} " + "talk " * i, f"summary {i}") for i in range(10)]


class WordCounter:
    """A stand-in tokenizer: one token per word."""

    def count(self, text):
        return len(text.split())

    def keep_last(self, text, n):
        return " ".join(text.split()[-n:])


def test_zero_one_few_shot_prompts():
    assert build_prompt(TEMPLATE, [], "hello") == "Summarize.\n\nDialogue: hello\nSummary:"
    one = build_prompt(TEMPLATE, [("a", "b")], "hello")
    assert one == "Summarize.\n\nDialogue: a\nSummary: b\n\nDialogue: hello\nSummary:"
    assert build_prompt(PromptTemplate(example_format="{input} => {output}"), [], "x") == "x =>"


def test_shots_are_seeded_and_never_the_query():
    a = choose_shots(10, 4, query_index=2, seed=5)
    assert a == choose_shots(10, 4, query_index=2, seed=5)
    assert a != choose_shots(10, 4, query_index=2, seed=6)
    assert 2 not in a and len(set(a)) == 4
    assert choose_shots(10, 3, 0, indices=[4, 4, 1]) == [4, 1]


@pytest.mark.parametrize("kwargs, message", [
    (dict(n_examples=5, k=5, query_index=0), "only 4 other"),
    (dict(n_examples=5, k=1, query_index=9), "does not exist"),
    (dict(n_examples=5, k=1, query_index=0, indices=[0]), "can't also be a shot"),
    (dict(n_examples=5, k=1, query_index=0, indices=[7]), "out of range"),
])
def test_bad_shot_choices_are_explained(kwargs, message):
    with pytest.raises(PlaygroundError, match=message):
        choose_shots(**kwargs)


def test_parse_indices():
    assert parse_indices("3, 7 12") == [3, 7, 12]
    assert parse_indices("  ") == []
    with pytest.raises(PlaygroundError, match="whole numbers"):
        parse_indices("3, x")


@pytest.mark.parametrize("fmt, message", [
    ("Dialogue: {input}", "needs both"),
    ("{output} {input}", "must come after"),
    ("{input} {output} {speaker}", "unknown placeholders"),
])
def test_bad_example_formats_are_explained(fmt, message):
    with pytest.raises(PlaygroundError, match=message):
        PromptTemplate(example_format=fmt)


def test_standard_variants():
    names = [(v.name, v.shot_indices) for v in standard_variants([4, 2, 7])]
    assert names == [("Zero-shot", ()), ("One-shot", (4,)), ("Few-shot (k=3)", (4, 2, 7))]


def test_overflow_is_flagged_not_fixed_when_asking():
    fitted = fit_prompt(TEMPLATE, EXAMPLES, [9, 8, 7], "query", WordCounter(), budget=20, policy="ask")
    assert not fitted.fits and fitted.shot_indices == (9, 8, 7) and fitted.note == ""


def test_drop_shots_until_it_fits():
    full = fit_prompt(TEMPLATE, EXAMPLES, [1, 2, 9], "query", WordCounter(), budget=1000)
    fitted = fit_prompt(TEMPLATE, EXAMPLES, [1, 2, 9], "query", WordCounter(), budget=full.n_tokens - 1, policy="drop_shots")
    assert fitted.fits and fitted.shot_indices == (1, 2) and "dropped 1 shot" in fitted.note


def test_truncate_keeps_the_end_of_the_prompt():
    fitted = fit_prompt(TEMPLATE, EXAMPLES, [9, 8], "the query", WordCounter(), budget=10, policy="truncate")
    assert fitted.fits and fitted.n_tokens == 10 and fitted.text.endswith("Dialogue: the query\nSummary:".split()[-1])
    assert "cut the start" in fitted.note


def test_unknown_policy_and_no_budget():
    with pytest.raises(PlaygroundError, match="Unknown overflow policy"):
        fit_prompt(TEMPLATE, EXAMPLES, [], "q", WordCounter(), 10, policy="magic")
    with pytest.raises(PlaygroundError, match="no room"):
        fit_prompt(TEMPLATE, EXAMPLES, [], "q", WordCounter(), 0)
