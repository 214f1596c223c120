"""The pages' timers send each browser session only what changed."""

from types import SimpleNamespace

import gradio as gr
import pandas as pd

from pages.polling import ChangesOnly


def test_a_timer_sends_a_session_only_what_changed():
    with gr.Blocks():
        text, table, chart = gr.Markdown(), gr.Dataframe(), gr.Plot()
    changes = ChangesOnly()
    page, other_page = SimpleNamespace(session_hash="a"), SimpleNamespace(session_hash="b")
    figure = object()  # can't be compared cheaply: always sent
    first = {text: "running", table: pd.DataFrame({"run": ["x"]}), chart: figure}
    assert changes(page, first) == first
    again = changes(page, {text: "running", table: pd.DataFrame({"run": ["x"]}), chart: figure})
    assert again[text] == gr.skip() and again[table] == gr.skip() and again[chart] is figure
    assert changes(other_page, {text: "running"})[text] == "running"
    assert changes(page, {text: "finished"})[text] == "finished"
    assert changes(page, {table: pd.DataFrame({"run": ["x", "y"]})})[table].shape == (2, 1)
