import csv
import io

import pytest

from playground import icl
from playground.data import BUILTIN_TASKS, load_builtin
from playground.errors import PlaygroundError
from playground.generation import DecodingParams


@pytest.fixture(scope="module")
def summaries():
    return load_builtin("summarization")


def setup(policy="ask", k=3, **kw):
    return icl.Setup(template=BUILTIN_TASKS["summarization"].template, k=k, policy=policy, **kw)


def test_three_variants_with_token_counts_against_the_window(lm, summaries):
    prompts = icl.build_variant_prompts(summaries, setup(), 0, lm.tokenizer, lm.context_window, 32)
    assert [p.name for p in prompts] == ["Zero-shot", "One-shot", "Few-shot (k=3)"]
    counts = [p.fitted.n_tokens for p in prompts]
    assert counts[0] < counts[1] < counts[2]
    assert prompts[2].fitted.budget == 512 - 32
    assert summaries.inputs[0] in prompts[0].fitted.text
    assert summaries.references[0] not in prompts[2].fitted.text  # the answer is never among the shots


def test_what_fits_runs_and_what_overflows_is_flagged_not_run(lm, summaries):
    prompts = icl.build_variant_prompts(summaries, setup(k=4), 0, lm.tokenizer, lm.context_window, 32)
    assert [p.fitted.fits for p in prompts] == [True, True, False]
    message = icl.overflow_message(prompts)
    assert "Few-shot (k=4)" in message and "Drop shots" in message
    results = icl.run_variants(lm, prompts, summaries.references[0], DecodingParams(max_new_tokens=4), chat=True)
    assert [r.ran for r in results] == [True, True, False]
    assert results[2].completion is None and results[2].scores is None


@pytest.mark.parametrize("policy, note", [("drop_shots", "dropped"), ("truncate", "cut the start")])
def test_overflow_policies_make_it_fit(lm, summaries, policy, note):
    prompts = icl.build_variant_prompts(summaries, setup(policy, k=4), 0, lm.tokenizer, lm.context_window, 32)
    assert all(p.fitted.fits for p in prompts)
    assert note in prompts[2].fitted.note
    if policy == "drop_shots":  # the title says the shots it really has
        used = len(prompts[2].fitted.shot_indices)
        assert used < 4 and prompts[2].name == f"Few-shot (k={used} of 4 asked)"


def test_run_variants_scores_each_completion(lm, summaries):
    prompts = icl.build_variant_prompts(summaries, setup(k=1), 1, lm.tokenizer, lm.context_window, 8)
    results = icl.run_variants(lm, prompts, summaries.references[1], DecodingParams(max_new_tokens=8), chat=True)
    assert len(results) == 3
    for r in results:
        assert set(r.scores) == {"rouge1", "rouge2", "rougeL"} and all(0 <= v <= 1 for v in r.scores.values())


def test_batch_summary_and_csv(lm, summaries):
    seen = []
    result = icl.run_batch(lm, summaries, setup("drop_shots", k=2), DecodingParams(max_new_tokens=4), 3,
                           progress=lambda f, m: seen.append(f))
    assert len(result.rows) == 9 and len(result.summary) == 9
    assert all(list(row) == icl.BATCH_COLUMNS for row in result.rows)  # the page's table headers
    assert seen[-1] == 1.0 and seen == sorted(seen)
    rows = list(csv.DictReader(io.StringIO(result.to_csv())))
    assert len(rows) == 9 and {"example", "variant", "completion", "reference", "rouge1"} <= set(rows[0])
    for s in result.summary:
        assert s["low"] <= s["mean"] <= s["high"]
    with pytest.raises(PlaygroundError, match="between 1 and"):
        icl.run_batch(lm, summaries, setup(), DecodingParams(max_new_tokens=4), 0)
