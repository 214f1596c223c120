import json

import pandas as pd
import pytest

from playground import data
from playground.errors import PlaygroundError

ROWS = [{"question": f"What is {i}+{i}?", "answer": str(2 * i), "extra": "x"} for i in range(6)]


def test_builtin_sets_are_large_enough_and_clean():
    summaries = data.load_builtin("summarization")
    assert len(summaries) >= 30 and not summaries.skipped_rows
    assert all("#Person1#" in d for d in summaries.inputs)
    sentiment = data.load_builtin("sentiment")
    assert set(sentiment.references) == {"positive", "negative"} and len(sentiment) >= 30
    with pytest.raises(PlaygroundError, match="Unknown built-in task"):
        data.load_builtin("poetry")


@pytest.mark.parametrize("suffix", [".jsonl", ".csv", ".parquet", ".json"])
def test_local_files_load_with_a_column_mapping(tmp_path, suffix):
    path = tmp_path / f"qa{suffix}"
    frame = pd.DataFrame(ROWS)
    if suffix == ".jsonl":
        path.write_text("\n".join(json.dumps(r) for r in ROWS))
    elif suffix == ".json":
        path.write_text(json.dumps(ROWS))
    elif suffix == ".csv":
        frame.to_csv(path, index=False)
    else:
        frame.to_parquet(path)
    loaded = data.read_table(path)
    assert list(loaded.columns) == ["question", "answer", "extra"]
    assert data.guess_columns(list(loaded.columns)) == ("question", "answer")
    examples = data.to_examples(loaded, "question", "answer", path.name)
    assert examples.pairs()[3] == ("What is 3+3?", "6")


def test_empty_rows_are_skipped_and_reported(tmp_path):
    path = tmp_path / "gaps.csv"
    path.write_text("question,answer\nq1,a1\n,a2\nq3,\nq4,a4\n")
    examples = data.to_examples(data.read_table(path), "question", "answer", "gaps.csv")
    assert examples.inputs == ["q1", "q4"] and examples.skipped_rows == [1, 2]
    assert "Skipped 2 row(s)" in examples.notice() and "rows 2, 3, counting from 1" in examples.notice()


@pytest.mark.parametrize("name, content, message", [
    ("notes.txt", "hello", "not a supported file type"),
    ("empty.jsonl", "", "is empty"),
    ("broken.jsonl", '{"a": 1}\n\n{"a": 2}\n{oops\n{"a": 3}', "line 4 is not JSON"),  # a line, not a byte position
    ("broken.parquet", "not parquet", "Could not read"),
    ("header.csv", "question,answer\n", "no rows"),
])
def test_unreadable_files_are_explained(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(PlaygroundError, match=message):
        data.read_table(path)


def test_missing_file_too_large_and_too_many_rows(tmp_path, monkeypatch):
    with pytest.raises(PlaygroundError, match="File not found"):
        data.read_table(tmp_path / "nope.csv")
    path = tmp_path / "big.csv"
    path.write_text("question,answer\n" + "q,a\n" * 300_000)  # 1.2 MB
    monkeypatch.setenv("PLAYGROUND_LIMIT_UPLOAD_MB", "1")
    with pytest.raises(PlaygroundError, match="is 1.1 MB; the limit is 1 MB"):
        data.read_table(path)
    monkeypatch.delenv("PLAYGROUND_LIMIT_UPLOAD_MB")
    with pytest.raises(PlaygroundError, match="300,000 rows; the limit is 10"):
        data.read_table(path, max_rows=10)


def test_a_parquet_file_that_unpacks_too_big_is_refused_while_it_is_read(tmp_path, monkeypatch):
    path = tmp_path / "packed.parquet"
    pd.DataFrame({"question": ["the same long question " * 50] * 20_000, "answer": ["a"] * 20_000}).to_parquet(path)
    assert path.stat().st_size < 2**20  # under 1 MB on disk, ~23 MB of rows
    with pytest.raises(PlaygroundError, match="20,000 rows; the limit is 100"):
        data.read_table(path, max_rows=100)  # from the footer, before any row is decoded
    monkeypatch.setenv("PLAYGROUND_LIMIT_UPLOAD_MB", "1")
    with pytest.raises(PlaygroundError, match="more than 10 MB of data once uncompressed"):
        data.read_table(path, max_rows=None)
    monkeypatch.setenv("PLAYGROUND_LIMIT_UPLOAD_MB", "5")
    assert len(data.read_table(path, max_rows=None)) == 20_000


@pytest.mark.parametrize("inp, ref, message", [
    ("prompt", "answer", "Column 'prompt' is not in"),
    ("question", "", "Choose which column"),
    ("question", "question", "must be different"),
])
def test_bad_column_mappings_are_explained(inp, ref, message):
    with pytest.raises(PlaygroundError, match=message):
        data.to_examples(pd.DataFrame(ROWS), inp, ref, "qa.csv")


def test_all_rows_empty_is_an_error():
    frame = pd.DataFrame({"question": ["", None], "answer": ["a", "b"]})
    with pytest.raises(PlaygroundError, match="Every row"):
        data.to_examples(frame, "question", "answer", "blank.csv")


def test_hub_dataset_offline_is_explained_at_once():
    import time

    started = time.time()
    with pytest.raises(PlaygroundError, match="the Hugging Face Hub can't be reached"):
        data.read_hub("nobody/no-such-dataset")
    assert time.time() - started < 5
    with pytest.raises(PlaygroundError, match="Type a Hub dataset id"):
        data.read_hub("  ")


def test_a_hub_dataset_that_takes_too_long_is_given_up(monkeypatch):
    import time

    import datasets

    import playground.models

    monkeypatch.setattr(playground.models, "hub_reachable", lambda settings, timeout=2.0: True)
    monkeypatch.setattr(datasets, "load_dataset", lambda *args, **kwargs: time.sleep(5))
    started = time.time()
    with pytest.raises(PlaygroundError, match="took more than 1 s, so it was given up"):
        data.read_hub("someone/slow-dataset", time_limit_s=1.0)
    assert time.time() - started < 3


def test_cells_holding_lists_are_refused_not_turned_into_repr():
    import pandas as pd

    frame = pd.DataFrame({"prompt": [[{"role": "user", "content": "hi"}], ["x"]], "completion": ["a", "b"]})
    with pytest.raises(PlaygroundError, match="Column 'prompt' of chat.jsonl holds lists, not text"):
        data.to_examples(frame, "prompt", "completion", "chat.jsonl")


def test_real_dialogsum_file_loads(dialogsum_dev):
    examples = data.to_examples(data.read_table(dialogsum_dev), "dialogue", "summary", "DialogSum dev")
    assert len(examples) == 500


def test_a_local_dataset_folder_is_read_offline_for_fine_tuning(tmp_path, monkeypatch):
    """A folder `datasets` reads (its train/test files) needs no Hub: offline it is read, not refused."""
    from playground.training.sft_data import load_pairs

    folder = tmp_path / "someone" / "dialogues"
    folder.mkdir(parents=True)
    (folder / "train.jsonl").write_text("".join(json.dumps({"prompt": f"p{i}", "completion": f"c{i}"}) + "\n"
                                                for i in range(5)))
    monkeypatch.chdir(tmp_path)
    assert load_pairs("someone/dialogues") == [(f"p{i}", f"c{i}") for i in range(5)]
    with pytest.raises(PlaygroundError, match="the Hugging Face Hub can't be reached"):
        load_pairs("someone/elsewhere")  # no such folder: a Hub id, and the Hub is offline


def test_alpaca_and_chat_files_map_without_choosing_columns(tmp_path):
    """Alpaca's instruction/input/output and a conversation (TRL's messages, ShareGPT's
    conversations) are read as inputs and references with nothing to map, and the notice says how."""
    from playground.training.sft_data import load_examples

    alpaca = tmp_path / "alpaca.jsonl"
    alpaca.write_text("\n".join(json.dumps(r) for r in [
        {"instruction": "Translate to French.", "input": "cat", "output": "chat"},
        {"instruction": "Name a colour.", "input": "", "output": "blue"}]))
    examples = load_examples(str(alpaca))
    assert examples.pairs() == [("Translate to French.\n\ncat", "chat"), ("Name a colour.", "blue")]
    assert "Alpaca format" in examples.notice()
    chat = tmp_path / "chat.jsonl"
    chat.write_text("\n".join(json.dumps(r) for r in [
        {"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}]},
        {"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "2+2?"},
                      {"role": "assistant", "content": "4"}, {"role": "user", "content": "3+3?"},
                      {"role": "assistant", "content": "6"}]},
        {"messages": [{"role": "user", "content": "no reply yet"}]}]))
    examples = load_examples(str(chat))
    assert examples.pairs() == [("Hi", "Hello!"), ("system: Be brief.\nuser: 2+2?\nassistant: 4\nuser: 3+3?", "6")]
    assert examples.skipped_rows == [2] and "last assistant turn is the reference" in examples.notice()
    sharegpt = tmp_path / "sharegpt.jsonl"
    sharegpt.write_text(json.dumps({"conversations": [{"from": "human", "value": "Q"}, {"from": "gpt", "value": "A"}]}))
    assert load_examples(str(sharegpt)).pairs() == [("Q", "A")]
    # a column chosen by hand is read as it is, with no format note
    raw = load_examples(str(alpaca), "instruction", "output")
    assert raw.inputs == ["Translate to French.", "Name a colour."] and not raw.format_note


def test_a_semicolon_csv_and_a_relative_path_are_explained(tmp_path, monkeypatch):
    (tmp_path / "semi.csv").write_text("prompt;completion\nhi;hello\n")
    with pytest.raises(PlaygroundError, match="separated by semicolons"):
        data.read_table(tmp_path / "semi.csv")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(PlaygroundError, match=f"looked for it from {tmp_path}"):
        data.read_table("missing.jsonl")


def test_a_recipes_relative_data_path_names_a_file_beside_the_recipe(tmp_path, monkeypatch):
    from playground.training.recipes import read_recipe_values

    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "fr.jsonl").write_text('{"prompt": "cat", "completion": "chat"}\n')
    (folder / "recipe.yaml").write_text("method: lora\ndata: fr.jsonl\ndata_mix:\n- {data: sentiment, weight: 1}\n")
    monkeypatch.chdir(tmp_path)  # run from elsewhere
    values = read_recipe_values(folder / "recipe.yaml")
    assert values["data"] == str(folder / "fr.jsonl") and values["data_mix"][0]["data"] == "sentiment"


def test_known_formats_are_read_only_where_they_are_meant(tmp_path):
    """An instruction column beside a known input column is not Alpaca; a chat file written with
    both key styles (Parquet fills the missing keys with None) or with content parts still reads;
    a file that is one JSON object is named as such, not blamed on its first line."""
    plain = data.with_standard_columns(pd.DataFrame({"instruction": ["i"], "dialogue": ["d"], "summary": ["s"]}))
    assert data.guess_columns(list(plain.columns)) == ("dialogue", "summary") and "format_note" not in plain.attrs
    dolly = data.with_standard_columns(pd.DataFrame({"instruction": ["Sum up."], "context": ["A text."], "response": ["Short."]}))
    assert dolly[data.ALPACA_INPUT].tolist() == ["Sum up.\n\nA text."]
    turns = [[{"from": "human", "value": "Q"}, {"from": "gpt", "value": "A"}],
             [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]]
    pd.DataFrame({"messages": turns}).to_parquet(tmp_path / "chat.parquet")
    chat = data.with_standard_columns(data.read_table(tmp_path / "chat.parquet"))
    assert chat[["messages_prompt", "messages_reply"]].values.tolist() == [["Q", "A"], ["hi", "yo"]]
    (tmp_path / "parts.jsonl").write_text(json.dumps({"messages": [
        {"role": "user", "content": [{"type": "text", "text": "hi"}]}, {"role": "assistant", "content": "yo"}]}))
    parts = data.with_standard_columns(data.read_table(tmp_path / "parts.jsonl"))
    assert parts[["messages_prompt", "messages_reply"]].values.tolist() == [["hi", "yo"]]
    (tmp_path / "one.json").write_text('{\n  "prompt": "a"\n}\n')
    with pytest.raises(PlaygroundError, match="holds one JSON object, not rows"):
        data.read_table(tmp_path / "one.json")
