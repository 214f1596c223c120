"""The Evaluate tab's form read into a recipe, without a browser."""

import time

import pytest

from pages.evaluate import EvalForm
from playground.errors import PlaygroundError


def form(**changes):
    values = dict(model="tiny", adapters=["my-lora"], data="", data_file=None, split="test", input_column="",
                  output_column="", template="plain", chat="on", other_data="", max_examples=10, metrics=["rougeL", "perplexity"],
                  mode="Greedy", max_new_tokens=24, temperature=0.7, top_k=50, top_p=0.9, repetition_penalty=1.0,
                  seed=3, batch_size=8, benchmarks=[], more_benchmarks="", benchmark_limit=100, output_name="")
    return EvalForm(**(values | changes))


def test_greedy_leaves_the_sampling_settings_out_and_sampling_keeps_them():
    greedy = form().recipe()
    assert greedy.decoding == {"max_new_tokens": 24, "do_sample": False, "repetition_penalty": 1.0, "seed": 3}
    sampling = form(mode="Sampling").recipe()
    assert sampling.decoding == {**greedy.decoding, "do_sample": True, "temperature": 0.7, "top_k": 50, "top_p": 0.9}


def test_an_upload_wins_over_the_typed_data_and_a_second_task_is_optional(tmp_path):
    upload = tmp_path / "mine.jsonl"
    upload.write_text('{"prompt": "a", "completion": "b"}\n')
    recipe = form(data="summarization", data_file=str(upload), other_data=" sentiment ").recipe()
    assert recipe.task.data == str(upload) and recipe.other_task.data == "sentiment"
    assert form().recipe().other_task is None


def test_more_benchmarks_are_split_and_added_to_the_ticked_ones():
    recipe = form(benchmarks=["playground_mc"], more_benchmarks="hellaswag,\narc_easy").recipe()
    assert recipe.benchmarks == ["playground_mc", "hellaswag", "arc_easy"]


@pytest.mark.parametrize("changes, message", [(dict(max_examples=float("nan")), "Examples per task"),
                                              (dict(seed=1.5), "Seed"), (dict(metrics=[]), "at least one metric"),
                                              (dict(adapters=[], data=""), "Choose data"),
                                              (dict(template="nope"), "Unknown template 'nope'"),
                                              # the held-out split is templated already: a template has nothing to do
                                              (dict(template="alpaca"), "'alpaca' template is for data you name")])
def test_bad_values_are_explained(changes, message):
    with pytest.raises(PlaygroundError, match=message):
        form(**changes).recipe()


def test_evaluations_that_share_a_name_are_told_apart_in_the_run_picker():
    from pages.evaluate import _choices

    stamp = time.mktime((2026, 12, 7, 22, 40, 5, 0, 0, -1))
    runs = [{"id": "a", "name": "ev-t5", "status": "finished", "created": stamp},
            {"id": "b", "name": "ev-t5", "status": "running", "created": stamp + 65},
            {"id": "c", "name": "other", "status": "finished", "created": stamp}]
    assert _choices(None, runs) == [("ev-t5 · 12-07 22:40:05 (finished)", "a"), ("ev-t5 · 12-07 22:41:10 (running)", "b"),
                                    ("other (finished)", "c")]


def test_a_template_with_a_held_out_split_is_the_second_tasks():
    recipe = form(template="alpaca", other_data="sentiment").recipe()
    assert recipe.task.template == "plain" and recipe.other_task.template == "alpaca"
