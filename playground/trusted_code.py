"""Models whose own Python code may run (transformers' `trust_remote_code`): off for every model
unless a person turns it on for that model, in the Settings tab or with `playground trust`."""

from __future__ import annotations

import time

from playground.errors import PlaygroundError
from playground.store import Store

EXPLAINED = ("Some models ship their own Python code (an architecture transformers doesn't have yet). Loading one runs "
             "that code on this server with its full rights: allow it only for a model whose authors you trust.")


def trusted_models(store: Store) -> list[dict]:
    with store.reading() as db:
        return [dict(row) for row in db.execute("SELECT model, allowed_by, created FROM trusted_models ORDER BY model")]


def is_trusted(store: Store, model: str) -> bool:
    with store.reading() as db:
        return db.execute("SELECT 1 FROM trusted_models WHERE model = ?", (model,)).fetchone() is not None


def trust(store: Store, model: str, allowed_by: str) -> str:
    model = (model or "").strip() if isinstance(model, str) else ""
    if not model or len(model) > 200 or any(ord(ch) < 32 for ch in model):
        raise PlaygroundError("Name the model to allow as it is typed in the model picker (a Hub id like owner/name).")
    with store.transaction() as db:
        db.execute("INSERT OR REPLACE INTO trusted_models (model, allowed_by, created) VALUES (?, ?, ?)",
                   (model, allowed_by or "unknown", time.time()))
    return f"'{model}' may now run its own code when it is loaded (reload it if it is loaded)."


def distrust(store: Store, model: str) -> str:
    with store.transaction() as db:
        gone = db.execute("DELETE FROM trusted_models WHERE model = ?", (str(model or "").strip(),)).rowcount
    if not gone:
        raise PlaygroundError(f"'{model}' was not allowed to run its own code.")
    return f"'{model}' no longer runs its own code (from its next load)."
