"""What a page's 2-second timer sends: only what changed since it last sent that browser session.

A timer that sends an unchanged table, text or menu every two seconds makes the browser render it
again for nothing (a new user's idle page kept a CPU core busy), and flashes it. A value that can't
be compared cheaply (a figure, a table inside an update) is always sent."""

from __future__ import annotations

import json
import threading
from collections import OrderedDict

import gradio as gr


class ChangesOnly:
    def __init__(self, sessions: int = 2000):
        self.sessions = sessions
        self._sent: OrderedDict[str, dict] = OrderedDict()  # session -> {component id: fingerprint}
        self._lock = threading.Lock()

    def __call__(self, request: gr.Request | None, out: dict, always: tuple = ()) -> dict:
        """`out` ({component: value}) with gr.skip() for each value this session already shows, except
        the `always` components (ones other events write too: what this poll sent last is no proof
        of what the page shows now)."""
        session = getattr(request, "session_hash", None)
        if not session:
            return out
        with self._lock:
            sent = self._sent.setdefault(session, {})
            self._sent.move_to_end(session)
            while len(self._sent) > self.sessions:
                self._sent.popitem(last=False)
        changed = {}
        for component, value in out.items():
            if component in always:
                changed[component] = value
                continue
            mark = _fingerprint(value)
            if mark is not None and sent.get(component._id) == mark:
                changed[component] = gr.skip()
            else:
                sent[component._id] = mark
                changed[component] = value
        return changed


def _fingerprint(value) -> str | None:
    if isinstance(value, str):
        return value
    if hasattr(value, "to_json") and hasattr(value, "columns"):  # a pandas DataFrame
        return value.to_json()
    try:
        return json.dumps(value, sort_keys=True)
    except (TypeError, ValueError):
        return None
