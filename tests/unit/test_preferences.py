"""Preference labels: stored once per acknowledgement (also under concurrency and a kill -9),
undo of one's own last label only, agreement and position bias worked out by hand, a
leaderboard that recovers known strengths, and TRL / HH-RLHF data in and out."""

import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from playground.errors import PlaygroundError
from playground.preferences import analysis, formats
from playground.preferences.labels import Label, add, all_labels, counts, labeled_keys, undo_last
from playground.preferences.leaderboard import Vote, leaderboard, rating
from playground.store import Store

ROOT = Path(__file__).resolve().parents[2]
HH = ROOT.parent / "shared" / "data" / "hh-rlhf" / "harmless-base.test.jsonl.gz"


def vote(prompt="Say hi", left="Hello!", right="Go away.", left_source="lora", right_source="base", choice="left",
         annotator="ana", **extra):
    return Label(prompt=prompt, left_text=left, right_text=right, left_source=left_source, right_source=right_source,
                 choice=choice, annotator=annotator, **extra)


@pytest.fixture
def store(tmp_path):
    return Store(tmp_path / "playground.db")


@pytest.mark.parametrize("changes, message", [
    (dict(left=""), "completion is empty"), (dict(right="   "), "completion is empty"),
    (dict(prompt="x" * 1_000_000), "1,000,000 characters"), (dict(choice="maybe"), "A vote is one of"),
    (dict(annotator=" "), "annotator name"), (dict(left_source=""), "source"),
])
def test_bad_labels_are_explained(changes, message):
    with pytest.raises(PlaygroundError, match=message):
        vote(**changes)


def test_a_rating_needs_three_scores_from_one_to_five():
    ok = Label(prompt="p", left_text="a", left_source="base", annotator="ana", scores={"helpful": 5, "honest": 4, "harmless": 1})
    assert ok.kind == "rating"
    with pytest.raises(PlaygroundError, match="1 to 5"):
        Label(prompt="p", left_text="a", left_source="base", annotator="ana", scores={"helpful": 6, "honest": 4, "harmless": 1})


def test_an_acknowledged_label_is_in_the_database_with_everything_that_was_judged(store):
    text = "Grüße 👋 — 你好 \u202e"  # any unicode round-trips
    acked = add(store, vote(prompt=text, left_settings={"temperature": 0.7}, comment="friendlier"))
    (saved,) = all_labels(Store(store.path))  # a new connection, as after a restart
    assert saved.id == acked.id and saved.prompt == text and saved.left_settings == {"temperature": 0.7}
    assert (saved.left_source, saved.right_source, saved.choice, saved.annotator, saved.comment) == \
           ("lora", "base", "left", "ana", "friendlier")


def test_undo_removes_only_the_annotators_own_last_label(store):
    add(store, vote(annotator="ana"))
    mine = add(store, vote(prompt="second", annotator="ana"))
    add(store, vote(prompt="theirs", annotator="bo"))
    assert undo_last(store, "ana").id == mine.id
    assert [x.prompt for x in all_labels(store)] == ["Say hi", "theirs"]
    assert undo_last(store, "cy") is None and counts(store) == {"ana": 1, "bo": 1}


def test_a_pair_is_the_same_pair_whichever_side_it_was_shown_on(store):
    add(store, vote())
    assert vote(left="Go away.", right="Hello!", choice="right").key in labeled_keys(store, "ana")
    assert labeled_keys(store, "bo") == set()


def test_concurrent_writers_store_every_label_exactly_once(store):
    def annotator(n):
        for i in range(50):
            add(Store(store.path), vote(prompt=f"prompt {n}-{i}", annotator=f"a{n}"))

    threads = [threading.Thread(target=annotator, args=(n,)) for n in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stored = all_labels(store)
    assert len(stored) == 1000 and len({x.prompt for x in stored}) == 1000


WRITER = """
import sys
from playground.store import Store
from playground.preferences.labels import Label, add
store = Store(sys.argv[1])
i = 0
while True:
    label = add(store, Label(prompt=f"p{i}", left_text="a", right_text="b", left_source="x", right_source="y",
                             choice="left", annotator="ana"))
    print(label.id, flush=True)  # the acknowledgement, after the commit
    i += 1
"""


def test_labels_acknowledged_before_a_kill_9_are_all_there_after_a_restart(tmp_path):
    path = tmp_path / "playground.db"
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE, text=True, cwd=ROOT,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    acked = [int(proc.stdout.readline()) for _ in range(200)]
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    stored = {x.id for x in all_labels(Store(path))}
    assert set(acked) <= stored


def test_agreement_and_position_bias_worked_out_by_hand():
    # two annotators on four pairs (sides swapped for bo on two of them): they agree on 3 of 4.
    # Outcomes (ana, bo): (first, first), (second, second), (tie, tie), (first, second).
    # Cohen's kappa: observed 3/4; chance = P(first)=(2/4)(1/4) + P(second)=(1/4)(2/4) + P(tie)=(1/4)(1/4) = 5/16
    # kappa = (12/16 - 5/16) / (11/16) = 7/11.
    labels = [vote(prompt="1", left="a", right="b", choice="left", annotator="ana"),
              vote(prompt="1", left="b", right="a", choice="right", annotator="bo"),
              vote(prompt="2", left="a", right="b", choice="right", annotator="ana"),
              vote(prompt="2", left="a", right="b", choice="right", annotator="bo"),
              vote(prompt="3", left="a", right="b", choice="tie", annotator="ana"),
              vote(prompt="3", left="a", right="b", choice="tie", annotator="bo"),
              vote(prompt="4", left="a", right="b", choice="left", annotator="ana"),
              vote(prompt="4", left="a", right="b", choice="right", annotator="bo")]
    result = analysis.agreement(labels)
    assert result["pairs_labeled_more_than_once"] == 4
    assert result["percent_agreement"] == pytest.approx(3 / 4)
    assert result["cohen_kappa"] == pytest.approx(7 / 11)
    assert -1 <= result["krippendorff_alpha"] <= 1
    bias = analysis.position_bias(labels)  # decisive votes: the left side won 1-ana and 4-ana, 2 of 6
    assert bias["decisive_votes"] == 6 and bias["left_wins"] == pytest.approx(2 / 6)


def test_the_leaderboard_recovers_known_strengths_and_its_intervals_cover_them():
    true = {"a": -0.75, "b": -0.25, "c": 0.25, "d": 0.75}
    names = list(true)
    covered = total = 0
    for sim in range(12):
        rng = np.random.default_rng(sim)
        votes = []
        for _ in range(600):
            i, j = rng.choice(4, 2, replace=False)
            p = 1 / (1 + np.exp(-(true[names[i]] - true[names[j]])))
            votes.append(Vote(names[i], names[j], float(rng.random() < p)))
        board = leaderboard(votes, resamples=100, seed=sim)
        assert [s.source for s in board] == ["d", "c", "b", "a"]
        for s in board:
            total += 1
            covered += s.low <= rating(true[s.source]) <= s.high
    assert 0.8 <= covered / total <= 1.0  # about the stated 95%


def test_ties_count_half_and_a_source_that_never_won_is_still_rated():
    board = leaderboard([Vote("x", "y", 1.0)] * 5 + [Vote("x", "y", 0.5)] * 2, resamples=20)
    assert [s.source for s in board] == ["x", "y"] and np.isfinite(board[1].rating)
    assert board[0].win_rate == pytest.approx(6 / 7)


def test_export_in_trls_formats(store, tmp_path):
    for label in [vote(), vote(prompt="q", choice="right"), vote(prompt="t", choice="tie"),
                  vote(prompt="bad", choice="both_bad"),
                  Label(prompt="r", left_text="fine", left_source="base", annotator="ana",
                        scores={"helpful": 5, "honest": 4, "harmless": 5})]:
        add(store, label)
    labels = all_labels(store)
    assert formats.preference_rows(labels) == [{"prompt": "Say hi", "chosen": "Hello!", "rejected": "Go away."},
                                               {"prompt": "q", "chosen": "Go away.", "rejected": "Hello!"}]
    conversational = formats.preference_rows(labels, conversational=True)[0]
    assert conversational["chosen"] == [{"role": "assistant", "content": "Hello!"}]
    kto = formats.kto_rows(labels)
    assert [(r["prompt"], r["label"]) for r in kto] == [("Say hi", True), ("Say hi", False), ("q", True), ("q", False),
                                                       ("bad", False), ("bad", False), ("r", True)]
    assert formats.export(labels, tmp_path / "p.parquet", "parquet") == 2
    # the two votes that made no row are accounted for
    assert formats.left_out_note(labels, "parquet").startswith("Left out: 1 tie and 1 'both bad' vote (a pair needs")
    assert formats.left_out_note(labels, "kto").startswith("Left out: 1 tie (KTO needs")
    import pandas as pd

    assert list(pd.read_parquet(tmp_path / "p.parquet").columns) == ["prompt", "chosen", "rejected"]


def test_import_reports_bad_lines_by_number_and_keeps_the_good_ones_only_when_confirmed(store, tmp_path):
    path = tmp_path / "prefs.jsonl"
    path.write_text("\n".join([
        json.dumps({"prompt": "p", "chosen": "good", "rejected": "bad"}),
        "{broken json",
        json.dumps({"question": "wrong columns"}),
        json.dumps({"prompt": [{"role": "user", "content": "hi"}], "chosen": [{"role": "assistant", "content": "hello"}],
                    "rejected": [{"role": "assistant", "content": "go"}]}),
    ]) + "\n")
    with pytest.raises(PlaygroundError, match="line 2: .*line 3: needs prompt/chosen/rejected"):
        formats.import_file(store, path)
    assert all_labels(store) == []  # nothing stored without confirmation
    report = formats.import_file(store, path, confirm=True)
    assert len(report.labels) == 2 and report.format == "trl"
    assert [(x.prompt, x.winner()) for x in all_labels(store)] == [("p", ("good", "bad")), ("hi", ("hello", "go"))]
    assert analysis.votes(all_labels(store)) == []  # imported pairs have no sources: not in the leaderboard


def test_hh_rlhf_conversations_are_split_at_the_last_assistant_turn(store):
    if not HH.exists():
        pytest.skip(f"reference data not present at {HH}")
    report = formats.read_file(HH)
    assert report.format == "hh-rlhf" and len(report.labels) > 2000
    first = report.labels[0]
    assert first.prompt.startswith("\n\nHuman:") and first.prompt.endswith("\n\nAssistant:")
    assert "\n\nHuman:" not in first.left_text and first.left_text != first.right_text
    assert all(e.startswith("line ") for e in report.errors)


def test_the_cli_adds_exports_imports_and_prints_stats(tmp_path):
    env = {**os.environ, "PLAYGROUND_HOME": str(tmp_path / "home")}

    def cli(*args):
        return subprocess.run([sys.executable, "-m", "playground", "prefs", *args], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=120)

    for choice, annotator in (("left", "ana"), ("left", "bo"), ("right", "cy")):
        assert cli("add", "--prompt", "hi", "--left", "hello", "--left-source", "lora", "--right", "go",
                   "--right-source", "base", "--choice", choice, "--annotator", annotator).returncode == 0
    stats = json.loads(cli("stats", "--json").stdout)
    assert stats["labels"] == 3 and stats["agreement"]["pairs_labeled_more_than_once"] == 1
    assert [s["source"] for s in stats["leaderboard"]] == ["lora", "base"]
    out = cli("export", str(tmp_path / "out.jsonl"))
    assert out.returncode == 0 and len((tmp_path / "out.jsonl").read_text().splitlines()) == 3
    bad = cli("add", "--prompt", "hi", "--left", "", "--left-source", "x", "--scores", "4,4,4", "--annotator", "ana")
    assert bad.returncode == 2 and bad.stderr.startswith("error:") and bad.stderr.count("\n") == 1
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"prompt": "p", "chosen": "a", "rejected": "b"}\nnot json\n')
    refused = cli("import", str(broken))
    assert refused.returncode == 2 and "line 2" in refused.stderr and refused.stderr.count("\n") == 1
    assert cli("import", str(broken), "--yes").stdout.startswith("imported 1 pairs")
    no_token = subprocess.run([sys.executable, "-m", "playground", "prefs", "export", "me/prefs", "--hub"], cwd=ROOT,
                              env={k: v for k, v in env.items() if k != "HF_TOKEN"}, capture_output=True, text=True,
                              timeout=120)
    assert no_token.returncode == 2 and "HF_TOKEN" in no_token.stderr


def test_a_task_pairs_two_different_sources_on_a_prompt_and_never_repeats_a_labeled_pair(lm):
    import random

    from playground.preferences.tasks import load_prompts, make_task, sources

    choices = sources(["base"], ["greedy", "sampling T=1.2"])
    assert [s.name for s in choices] == ["base · greedy", "base · sampling T=1.2"]
    rng = random.Random(0)
    seen, sides = set(), set()
    for _ in range(6):
        task = make_task(lm, ["Say hello.", "Name a colour."], choices, seen, rng, max_new_tokens=8, chat=True)
        assert task.key not in seen and task.left.source != task.right.source
        assert task.left.text and task.right.text
        seen.add(task.key)
        sides.add(task.left.source)
    assert len(sides) == 2  # either source is shown on the left, at random
    with pytest.raises(PlaygroundError, match="at least two sources"):
        sources(["base"], ["greedy"])
    assert load_prompts(typed=" a \n\n b ") == ["a", "b"] and len(load_prompts()) == 30


def test_two_rated_completions_of_a_prompt_become_a_preference_pair():
    rated = [Label(prompt="p", left_text=text, left_source="base", annotator="ana",
                   scores={"helpful": h, "honest": h, "harmless": h}) for text, h in (("good", 5), ("poor", 2), ("same", 2))]
    assert sorted(formats.rated_pairs(rated)) == [("p", "good", "poor"), ("p", "good", "same")]  # equal means: no pair
    assert {"prompt": "p", "chosen": "good", "rejected": "poor"} in formats.preference_rows(rated)


def test_a_share_of_pairs_comes_from_colleagues_so_agreement_can_be_measured(store):
    """A pair ana labeled is offered to bo (sides drawn again), never to ana again, not once two
    people labeled it, and only under the same prompts and sources; then the agreement is measured."""
    import random

    from playground.preferences.overlap import shared_task

    setup = {"sources": [(None, "greedy"), (None, "sampling T=1.2")], "prompts": ["p1", "p2"], "single": False}
    pair = dict(prompt="p1", left_text="one", right_text="two", left_source="base · greedy",
                right_source="base · sampling T=1.2")
    add(store, Label(**pair, choice="left", annotator="ana"))
    add(store, Label(**pair | {"prompt": "elsewhere"}, choice="left", annotator="ana"))  # another prompt set
    add(store, Label(**pair | {"right_source": "my-lora · greedy"}, choice="left", annotator="ana"))  # another source
    assert shared_task(store, "ana", setup) is None  # her own pairs are never hers to share
    sides = set()
    for seed in range(8):
        task = shared_task(store, "bo", setup, random.Random(seed))
        assert task["prompt"] == "p1" and {task["left"]["text"], task["right"]["text"]} == {"one", "two"}
        sides.add(task["left"]["text"])
    assert sides == {"one", "two"}  # shown either way round
    assert shared_task(store, "bo", setup | {"single": True}) is None  # ratings: agreement is measured on votes
    add(store, Label(prompt="p1", left_text="two", right_text="one", left_source=pair["right_source"],
                     right_source=pair["left_source"], choice="right", annotator="bo"))
    assert shared_task(store, "cy", setup) is None  # labeled twice already
    agreement = analysis.agreement(all_labels(store))
    assert agreement["pairs_labeled_more_than_once"] == 1 and agreement["percent_agreement"] == 1.0


def test_a_file_of_the_wrong_kind_is_told_once_per_problem(store, tmp_path):
    path = tmp_path / "sft.jsonl"
    path.write_text("".join(json.dumps({"prompt": f"p{i}", "completion": "c"}) + "\n" for i in range(3)))
    with pytest.raises(PlaygroundError) as refused:
        formats.import_file(store, path)
    assert "lines 1, 2, 3: needs prompt/chosen/rejected" in str(refused.value)
    assert str(refused.value).count("needs prompt/chosen/rejected") == 1


def test_a_prompts_file_gives_the_column_fine_tuning_would_take_as_input(tmp_path):
    """A CSV read by pandas 3 has 'str' columns, not object ones: the question column is found."""
    from playground.preferences.tasks import load_prompts

    (tmp_path / "qa.csv").write_text("id,question,answer\n1,What is 2+2?,4\n2,Name a colour.,blue\n")
    assert load_prompts(str(tmp_path / "qa.csv")) == ["What is 2+2?", "Name a colour."]
    (tmp_path / "notes.csv").write_text("n,note\n1,Say hello.\n")
    assert load_prompts(str(tmp_path / "notes.csv")) == ["Say hello."]  # no known name: the first column of text
