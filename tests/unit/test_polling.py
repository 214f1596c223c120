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


def test_a_line_other_events_write_too_is_sent_again_even_if_the_poll_sent_it_before():
    """Stop -> 'stopped', Resume (writes the line itself), Stop again -> 'stopped' again: the second
    must reach the page, or 'Stopping ...' stays there for good."""
    from pages.common import settled_status

    with gr.Blocks():
        status = gr.Markdown()
    changes, page = ChangesOnly(), SimpleNamespace(session_hash="a")
    run = {"name": "x", "status": "stopped", "kind": "sft"}
    first = settled_status("✅ Stopping 'x': it saves what it has learned so far", run)
    assert first == "⏹️ Run **x** stopped."
    assert changes(page, {status: first}, always=(status,))[status] == first
    again = settled_status("✅ Stopping 'x': it saves what it has learned so far", run)
    assert changes(page, {status: again}, always=(status,))[status] == again
    assert settled_status(first, run) is None  # a line that already says how it ended is left alone
