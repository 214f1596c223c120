"""Evaluation's pieces: metrics against values worked out by hand, intervals and the paired
bootstrap, the recipe's checks, the result views, benchmark task files and soft-prompt starts."""

import csv
import io
import json
import math

import numpy as np
import pytest

from playground.errors import PlaygroundError
from playground.evaluation import bootstrap, results, scores
from playground.evaluation.benchmarks import builtin_tasks, task_config
from playground.evaluation.recipe import EvalRecipe

# Worked out by hand. "the cat sat on the mat" vs "the cat is on the mat": 5 of 6 words match
# (P = R = 5/6); bigrams: "the cat", "on the", "the mat" of 5 on each side (3/5); the longest common
# subsequence "the cat on the mat" has 5 words (5/6). With the Porter stemmer "running dogs" and
# "run dog" are the same two words; without it they share none.
HAND = [
    ("the cat sat on the mat", "the cat is on the mat", {"rouge1": 5 / 6, "rouge2": 3 / 5, "rougeL": 5 / 6, "rougeLsum": 5 / 6}),
    ("running dogs", "run dog", {"rouge1": 1.0, "rouge2": 1.0, "rougeL": 1.0, "rougeLsum": 1.0}),
    ("a b c d", "d c b a", {"rouge1": 1.0, "rouge2": 0.0, "rougeL": 0.25, "rougeLsum": 0.25}),
    ("", "anything at all", {"rouge1": 0.0, "rouge2": 0.0, "rougeL": 0.0, "rougeLsum": 0.0}),
]


def test_rouge_equals_values_worked_out_by_hand():
    got = scores.rouge_per_example([p for p, _, _ in HAND], [r for _, r, _ in HAND])
    for i, (_, _, expected) in enumerate(HAND):
        for key, value in expected.items():
            assert got[key][i] == pytest.approx(value), (i, key)


def test_the_shipped_module_loads_offline_and_aggregates_like_evaluates_rouge():
    module = scores.rouge_module()  # a local folder: no Hub download (the tests run with HF_HUB_OFFLINE=1)
    one = module.compute(predictions=[HAND[0][0]], references=[HAND[0][1]], use_stemmer=True)
    assert float(one["rouge2"]) == pytest.approx(0.6)
    plain = module.compute(predictions=["running dogs"], references=["run dog"], use_stemmer=False)
    assert float(plain["rouge1"]) == 0.0


def test_the_labs_rouge_gives_the_same_numbers_as_the_module():
    from playground.metrics import rouge

    per_example = scores.rouge_per_example([p for p, _, _ in HAND], [r for _, r, _ in HAND])
    for i, (prediction, reference, _) in enumerate(HAND):
        lab = rouge(prediction, reference)
        assert all(lab[k] == pytest.approx(per_example[k][i]) for k in lab)


def test_bleu_is_sacrebleus_corpus_score_and_its_interval_matches_sacrebleus_bootstrap():
    import sacrebleu

    rng = np.random.default_rng(0)
    words = "the a cat dog sat ran on under mat rug today quickly".split()
    refs = [" ".join(rng.choice(words, 8)) for _ in range(40)]
    hyps = [" ".join(w if rng.random() < 0.7 else "zzz" for w in r.split()) for r in refs]
    stats = scores.bleu_stats(hyps, refs)
    ours = bootstrap.interval(stats, scores.METRICS["bleu"].aggregate)
    theirs = sacrebleu.BLEU().corpus_score(hyps, [refs], n_bootstrap=1000)
    assert ours.value == pytest.approx(sacrebleu.corpus_bleu(hyps, [refs]).score)
    assert ours.low < ours.value < ours.high
    assert (ours.high - ours.low) / 2 == pytest.approx(theirs._ci, rel=0.25)  # same method, other resamples


def test_perplexity_pools_tokens_across_examples():
    stats = np.array([[2.0, 1], [6.0, 3]])  # NLL 2 over 1 token, 6 over 3 tokens
    assert bootstrap.interval(stats, scores.METRICS["perplexity"].aggregate).value == pytest.approx(math.exp(8 / 4))
    assert list(scores.METRICS["perplexity"].per_example(stats)) == pytest.approx([math.exp(2), math.exp(2)])


def test_the_paired_bootstrap_tells_a_real_difference_from_noise():
    rng = np.random.default_rng(1)
    base = rng.random(60)[:, None]
    same = bootstrap.paired_difference(base, base, bootstrap.mean_aggregate)
    assert (same.diff, same.low, same.high, same.real) == (0.0, 0.0, 0.0, False)
    better = bootstrap.paired_difference(base + 0.05, base, bootstrap.mean_aggregate)  # every example a little better
    assert better.real and better.low > 0 and better.p_value < 0.01
    assert better.relative == pytest.approx(0.05 / base.mean())
    noisy = bootstrap.paired_difference(rng.random(60)[:, None], base, bootstrap.mean_aggregate)
    # an unpaired look at two independent draws: the interval is wide and spans 0
    assert noisy.low < 0 < noisy.high and not noisy.real


def test_few_examples_that_all_improve_are_not_called_real_the_permutation_test_says_why():
    """5 paired examples that all improve: the bootstrap's interval excludes 0 (every resample of
    them improves), but only 2 of the 32 ways to swap them between the models give a difference as
    large, so p = 0.0625; with 8 it is 2/256."""
    from playground.evaluation.results import verdict

    five = np.array([1.0, 2.0, 3.0, 1.0, 2.0])[:, None]
    small = bootstrap.paired_difference(five, np.zeros((5, 1)), bootstrap.mean_aggregate)
    assert small.low > 0 and small.p_value == pytest.approx(2 / 32) and not small.real
    assert verdict("rouge1", small.to_dict()) == "could be noise (p ≥ 0.05: too few examples to tell)"
    eight = bootstrap.paired_difference(np.ones((8, 1)), np.zeros((8, 1)), bootstrap.mean_aggregate)
    assert eight.p_value == pytest.approx(2 / 256) and eight.real
    assert verdict("rouge1", eight.to_dict()) == "real improvement"
    # a corpus statistic (perplexity: exp of summed NLL over summed tokens) is swapped row by row too
    nll_tokens = np.array([[4.0, 2.0], [6.0, 3.0], [2.0, 1.0], [8.0, 4.0], [4.0, 2.0], [6.0, 3.0]])
    lower = bootstrap.paired_difference(nll_tokens * [0.5, 1], nll_tokens, scores.METRICS["perplexity"].aggregate)
    assert lower.diff < 0 and lower.p_value == pytest.approx(2 / 64)
    # no value to compare (a metric undefined on these examples): nothing is called real
    undefined = bootstrap.paired_difference(np.full((6, 1), np.nan), np.zeros((6, 1)), bootstrap.mean_aggregate)
    assert undefined.p_value == 1.0 and not undefined.real
    # above EXACT_UP_TO examples, random swaps: 40 that all improve are far beyond chance
    many = bootstrap.paired_difference(np.ones((40, 1)), np.zeros((40, 1)), bootstrap.mean_aggregate)
    assert many.p_value == pytest.approx(1 / 1001) and many.real


def test_a_missing_metric_package_is_named_with_the_install_command(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "sacrebleu" else real(name, *a))
    with pytest.raises(PlaygroundError, match="pip install sacrebleu"):
        scores.check_metrics(["rougeL", "bleu"])
    assert scores.check_metrics(["rougeL", "exact_match"]) == ["rougeL", "exact_match"]


@pytest.mark.parametrize("values, message", [
    ({"metrics": ["rougeL", "meteor"]}, "Unknown metric"),
    ({"metrics": []}, "at least one metric"),
    ({"adapters": ["base"]}, "names the base model"),
    ({"adapters": ["a", "a"]}, "listed twice"),
    ({"adapters": []}, "no adapter there is no held-out split"),
    ({"max_examples": 0}, "max_examples"),
    ({"decoding": {"max_new_tokens": 0}}, "max_new_tokens"),
    ({"decoding": {"beams": 4}}, "Unknown decoding"),
    ({"decoding": {"do_sample": True, "temperature": 0}}, "Temperature"),
    ({"other_task": {"data": ""}}, "needs data of its own"),
    ({"other_task": None}, None),
    ({"colour": "blue"}, "Unknown evaluation keys"),
])
def test_recipe_checks(values, message):
    values = {"adapters": ["a"], **values}
    if message is None:
        assert EvalRecipe.from_dict(values).other_task is None
        return
    with pytest.raises(PlaygroundError, match=message):
        EvalRecipe.from_dict(values)


def test_a_recipe_round_trips_and_makes_local_files_absolute(tmp_path, monkeypatch):
    (tmp_path / "set.jsonl").write_text('{"prompt": "a", "completion": "b"}\n')
    monkeypatch.chdir(tmp_path)
    recipe = EvalRecipe(adapters=["x"], task="set.jsonl", other_task="sentiment", metrics=["rougeL", "length"])
    assert recipe.task.data == str(tmp_path / "set.jsonl")
    again = EvalRecipe.from_dict(json.loads(json.dumps(recipe.to_dict())))
    assert again == recipe and again.primary_metric == "rougeL"


def _task():
    stats = {"base": {"rougeL": np.array([[0.1], [0.5], [0.2]])}, "lora": {"rougeL": np.array([[0.9], [0.5], [0.3]])}}
    outputs = {"base": ["x", "y", "z"], "lora": ["X", "Y", "Z"]}
    return results.summarize_task("toy", ["p0", "p1", "p2"], ["r0", "r1", "r2"], outputs, stats)


def test_the_example_view_puts_the_biggest_disagreement_first():
    rows = results.example_rows(_task(), "rougeL")
    assert [r["#"] for r in rows] == [0, 2, 1]
    assert rows[0]["spread"] == pytest.approx(0.8)
    assert list(rows[0])[:4] == ["#", "spread", "input", "reference"]  # the input first, where it is seen
    assert rows[0]["lora output"] == "X" and rows[0]["base rougeL"] == pytest.approx(0.1)
    assert [r["#"] for r in results.example_rows(_task(), "rougeL", sort="order")] == [0, 1, 2]


def test_csv_export_has_a_row_per_example_and_model_and_a_summary_of_the_headline_numbers():
    record = {"metrics": ["rougeL"], "tasks": {"main": _task()}}
    lines = results.to_csv(record).strip().splitlines()
    assert lines[0].startswith("task,example,model,input,reference,output,rougeL")
    assert len(lines) == 1 + 3 * 2
    summary = list(csv.DictReader(io.StringIO(results.summary_csv(record))))
    assert [(r["model"], r["metric"]) for r in summary] == [("base", "rougeL"), ("lora", "rougeL")]
    assert float(summary[1]["change vs base"]) == pytest.approx(0.3) and summary[0]["verdict"] == ""
    assert json.loads(results.to_json(record))["tasks"]["main"]["changes"]["lora"]["rougeL"]["diff"] == pytest.approx(0.3)


def test_no_change_at_all_is_called_no_difference():
    assert results.verdict("rougeL", {"diff": 0.0, "low": 0.0, "high": 0.0, "real": False}) == "no difference"
    assert results.verdict("perplexity", {"diff": -3.0, "low": -4.0, "high": -1.0, "real": True}) == "real improvement"
    assert results.verdict("length", {"diff": 2.0, "low": 1.0, "high": 3.0, "real": True}) == "real change"


def test_a_base_only_evaluation_has_no_spread_column():
    task = results.summarize_task("toy", ["p"], ["r"], {"base": ["x"]}, {"base": {"rougeL": np.array([[0.5]])}})
    assert "spread" not in results.example_rows(task, "rougeL")[0] and task["changes"] == {}


def test_forgetting_points_pair_the_own_task_gain_with_the_other_task_change():
    main, other = _task(), _task()
    other["changes"]["lora"]["rougeL"] = {"diff": -0.2, "low": -0.3, "high": -0.1}
    points = results.forgetting_points({"tasks": {"main": main, "other": other}}, "rougeL")
    assert points == [pytest.approx({"model": "lora", "own_task_change": 0.3, "own_low": main["changes"]["lora"]["rougeL"]["low"],
                                     "own_high": main["changes"]["lora"]["rougeL"]["high"], "other_task_change": -0.2,
                                     "other_low": -0.3, "other_high": -0.1})]
    assert results.forgetting_points({"tasks": {"main": main}}, "rougeL") == []


def test_the_shipped_benchmark_task_reads_its_data_next_to_it():
    assert "playground_mc" in builtin_tasks()
    config = task_config("playground_mc")
    data = config["dataset_kwargs"]["data_files"]["test"]
    assert data.endswith("playground_mc.jsonl") and len(open(data).read().splitlines()) == 20


def test_a_shipped_benchmark_runs_without_indexing_lm_evals_registry(lm, monkeypatch):
    """lm-eval's TaskManager() indexes ~15,000 task names (~16 s here) at every call it is not given one:
    a shipped task or task file is a whole config and needs none of it."""
    import lm_eval.tasks

    from playground.evaluation import benchmarks

    indexed = []
    real = lm_eval.tasks.TaskManager.__init__

    def counting(self, *args, include_defaults=True, **kwargs):
        indexed.append(include_defaults)
        real(self, *args, include_defaults=include_defaults, **kwargs)

    monkeypatch.setattr(lm_eval.tasks.TaskManager, "__init__", counting)
    benchmarks._registry.cache_clear()  # a registry built earlier in this process would hide a new one
    scores = benchmarks.evaluate_model(lm, None, ["playground_mc"], limit=4)
    assert 0 <= scores["playground_mc"]["acc"]["value"] <= 1
    assert indexed == [False]  # one index, of nothing


@pytest.mark.parametrize("text, message", [("task: [\n", "not valid YAML"), ("- just\n- a list\n", "must be a mapping"),
                                           ("task: x\ndataset_path: json\n", "lacks output_type")])
def test_a_benchmark_task_file_that_does_not_parse_is_explained(tmp_path, text, message):
    path = tmp_path / "task.yaml"
    path.write_text(text)
    with pytest.raises(PlaygroundError, match=message):
        task_config(str(path))


def test_soft_prompts_start_where_peft_starts_them(tiny_dir):
    import torch
    from peft import PromptTuningConfig, PromptTuningInit, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from playground.evaluation.soft_prompts import initial_token_ids

    tokenizer = AutoTokenizer.from_pretrained(tiny_dir)
    model = AutoModelForCausalLM.from_pretrained(tiny_dir)
    config = PromptTuningConfig(task_type="CAUSAL_LM", num_virtual_tokens=7, prompt_tuning_init=PromptTuningInit.TEXT,
                                prompt_tuning_init_text="Summarize this", tokenizer_name_or_path=str(tiny_dir))
    peft_model = get_peft_model(model, config)
    ids = initial_token_ids(tokenizer, "Summarize this", 7)
    expected = model.get_input_embeddings().weight[ids].detach()
    assert torch.allclose(peft_model.prompt_encoder["default"].embedding.weight.detach(), expected)
