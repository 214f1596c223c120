"""The Rate tab's pair writer: pairs come from another process, never one the annotator already
labeled, its errors arrive as plain messages, and it is started again when it dies."""

import os
import signal

import pytest

from playground.errors import PlaygroundError
from playground.preferences import labels as label_store
from playground.preferences.pair_writer import PairWriter
from playground.preferences.tasks import Task
from playground.store import Store
from tests.integration.helpers import drifted_lora

PROMPTS = ["Name a color.", "Name a fruit."]


@pytest.fixture(scope="module")
def drifted_adapter(settings, tiny_dir):
    drifted_lora(tiny_dir, settings.adapters_dir / "writer-drift")
    return "writer-drift"


def setup_of(adapter, model="tiny"):
    # Two greedy sources: each prompt has exactly one possible pair.
    return {"model": model, "sources": [(None, "greedy"), (adapter, "greedy")], "single": False,
            "relabel": False, "prompts": PROMPTS, "max_new_tokens": 8}


def writer_pids(writer: PairWriter) -> set[int]:
    return set(writer._pool._processes) if writer._pool else set()


def label(store: Store, task: Task) -> None:
    label_store.add(store, label_store.Label(
        prompt=task.prompt, left_text=task.left.text, right_text=task.right.text, left_source=task.left.source,
        right_source=task.right.source, left_settings=task.left.settings, right_settings=task.right.settings,
        choice="left", annotator="ana"))


def test_pairs_are_written_in_another_process_and_never_one_already_labeled(settings, drifted_adapter):
    writer, store = PairWriter(settings), Store(settings.db_path)
    try:
        first = Task.from_dict(writer.write(setup_of(drifted_adapter), "ana"))
        assert first.prompt in PROMPTS and first.left.text and first.right.text and first.left.text != first.right.text
        assert {first.left.source, first.right.source} == {"base · greedy", "writer-drift · greedy"}
        (pid,) = writer_pids(writer)
        assert pid != os.getpid()

        label(store, first)  # the writer reads ana's labels from the database: only the other prompt is left
        (other_prompt,) = set(PROMPTS) - {first.prompt}
        for _ in range(4):
            assert Task.from_dict(writer.write(setup_of(drifted_adapter), "ana")).prompt == other_prompt

        os.kill(pid, signal.SIGKILL)
        second = Task.from_dict(writer.write(setup_of(drifted_adapter), "ana"))  # started again, no error shown
        assert second.prompt == other_prompt and pid not in writer_pids(writer)
        label(store, second)
        with pytest.raises(PlaygroundError, match="No new pair to label"):
            writer.write(setup_of(drifted_adapter), "ana")
    finally:
        writer.shutdown()


def test_a_model_that_cannot_load_is_a_plain_message(settings, tiny_dir):
    writer = PairWriter(settings)
    try:
        with pytest.raises(PlaygroundError, match="neither a local model folder nor a Hub id"):
            writer.write(setup_of(None, model="../not a model"), "ana")
    finally:
        writer.shutdown()
