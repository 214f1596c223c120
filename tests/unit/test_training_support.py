"""Pieces of the fine-tuning path that need no training: data splits, estimates, events, store."""

import json
import sqlite3

import pytest

from playground.adapters import delete, list_adapters, rename
from playground.errors import PlaygroundError
from playground.jobs import read_events
from playground.plots import memory_figure, training_figure
from playground.store import Store
from playground.training.estimate import count_trainable, estimate_memory
from playground.training.recipes import recipe_from_dict
from playground.training.sft_data import TEMPLATES, build_splits, render


def test_splits_are_seeded_disjoint_and_templated():
    recipe = recipe_from_dict({"method": "lora", "data": "sentiment", "template": "question", "val_fraction": 0.2,
                               "test_fraction": 0.1, "split_seed": 3})
    splits = build_splits(recipe)
    assert (len(splits.train), len(splits.validation), len(splits.test)) == (33, 10, 5)  # round(48 * 0.1) = 5
    prompts = [r["prompt"] for r in splits.train + splits.validation + splits.test]
    assert len(set(prompts)) == 48 and all(p.startswith("Question: ") for p in prompts)
    assert build_splits(recipe).validation == splits.validation
    assert render("custom", "Rate: {input} ->", "x") == "Rate: x ->" and "alpaca" in TEMPLATES


def test_multitask_mix_follows_the_weights():
    recipe = recipe_from_dict({"method": "lora", "data": "sentiment", "val_fraction": 0.0, "test_fraction": 0.0,
                               "data_mix": [{"data": "sentiment", "weight": 1}, {"data": "summarization", "weight": 3}]})
    sources = [r["source"] for r in build_splits(recipe).train]
    assert sources.count("summarization") == 3 * sources.count("sentiment")


def test_trainable_counts_and_memory_order(tiny_dir):
    counts = {}
    for method in ("full", "lora", "qlora", "prompt_tuning", "ia3", "selective"):
        recipe = recipe_from_dict({"method": method, "base_model": str(tiny_dir), "data": "sentiment",
                                   "per_device_train_batch_size": 8, "max_length": 256})
        trainable, total, config = count_trainable(recipe, str(tiny_dir))
        counts[method] = (trainable, total, estimate_memory(recipe, config, trainable, total))
    assert counts["full"][0] == counts["full"][1] > 0
    assert counts["prompt_tuning"][0] == 20 * 64  # 20 virtual tokens x hidden size 64
    assert counts["lora"][0] == counts["qlora"][0] < counts["full"][0]
    full, lora, qlora = (counts[m][2] for m in ("full", "lora", "qlora"))
    assert full.optimizer > lora.optimizer and lora.weights > qlora.weights
    assert full.total > lora.total > qlora.total
    assert memory_figure({m: c[2] for m, c in counts.items()}).data


def test_events_are_read_by_byte_offset_and_skip_a_partial_line(tmp_path):
    path = tmp_path / "events.jsonl"
    path.write_text('{"type": "log", "step": 1, "loss": 2.0}\n{"type": "log", "st')
    events, offset = read_events(path)
    assert [e["step"] for e in events] == [1]
    with path.open("a") as f:
        f.write('ep": 2, "loss": 1.5}\n')
    more, offset2 = read_events(path, offset)
    assert [e["step"] for e in more] == [2] and offset2 == path.stat().st_size
    figure = training_figure(events + more, "run")
    assert list(figure.data[0].y) == [2.0, 1.5]


def test_store_is_wal_and_migrated(tmp_path):
    store = Store(tmp_path / "db.sqlite")
    store.add_run("r1", "one", "lora", "tiny", {"a": 1}, str(tmp_path))
    assert store.claim_next_queued()["id"] == "r1"
    assert store.claim_next_queued() is None  # one running at a time
    store.update_run("r1", status="finished", metrics={"loss": 1.0})
    again = Store(tmp_path / "db.sqlite")  # re-opening migrates nothing twice
    assert again.run("one")["metrics"] == {"loss": 1.0}
    db = sqlite3.connect(tmp_path / "db.sqlite")
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA user_version").fetchone()[0] == 1


def test_adapter_folder_management(tmp_path):
    folder = tmp_path / "a"
    folder.mkdir()
    (folder / "adapter_config.json").write_text(json.dumps({"base_model_name_or_path": "tiny"}))
    (folder / "run.json").write_text(json.dumps({"name": "a", "method": "lora", "base_model": "tiny", "finished": 1}))
    assert [a["name"] for a in list_adapters(tmp_path)] == ["a"]
    rename(tmp_path, "a", "b")
    assert json.loads((tmp_path / "b" / "run.json").read_text())["name"] == "b"
    with pytest.raises(PlaygroundError, match="not allowed"):
        rename(tmp_path, "b", "../c")
    with pytest.raises(PlaygroundError, match="No adapter"):
        delete(tmp_path, "a")
    delete(tmp_path, "b")
    assert list_adapters(tmp_path) == []
