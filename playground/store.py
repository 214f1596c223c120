"""The app's SQLite database under PLAYGROUND_HOME: runs now; preferences and evaluation results
later. WAL mode (readers never block the writer), one short transaction per write, and numbered
migrations in PRAGMA user_version."""

from __future__ import annotations

import json
import sqlite3
import time
from contextlib import contextmanager
from pathlib import Path

MIGRATIONS = [
    """
    CREATE TABLE runs (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        kind TEXT NOT NULL DEFAULT 'train',
        method TEXT NOT NULL,
        base_model TEXT NOT NULL,
        status TEXT NOT NULL,            -- queued, running, finished, stopped, failed, cancelled
        recipe TEXT NOT NULL,            -- JSON
        run_dir TEXT NOT NULL,
        output_dir TEXT,
        pid INTEGER,
        pid_started REAL,                -- the process's start time, so a reused pid is not mistaken for it
        created REAL NOT NULL,
        started REAL,
        finished REAL,
        stop_requested REAL,
        error TEXT,
        metrics TEXT                     -- JSON
    );
    CREATE INDEX runs_status ON runs(status, created);
    """,
]
ACTIVE = ("queued", "running")


class Store:
    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            db.execute("PRAGMA journal_mode=WAL")
            version = db.execute("PRAGMA user_version").fetchone()[0]
            for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
                db.executescript(f"BEGIN; {script}; PRAGMA user_version={number}; COMMIT;")

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        db.row_factory = sqlite3.Row
        db.execute("PRAGMA busy_timeout=30000")
        db.execute("PRAGMA synchronous=NORMAL")
        return db

    @contextmanager
    def transaction(self):
        db = self._connect()
        try:
            db.execute("BEGIN IMMEDIATE")
            yield db
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        finally:
            db.close()

    # ---- runs ----
    def add_run(self, run_id: str, name: str, method: str, base_model: str, recipe: dict, run_dir: str,
                status: str = "queued", kind: str = "train") -> None:
        with self.transaction() as db:
            db.execute(
                "INSERT INTO runs (id, name, kind, method, base_model, status, recipe, run_dir, created) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (run_id, name, kind, method, base_model, status, json.dumps(recipe), run_dir, time.time()),
            )

    def update_run(self, run_id: str, **fields) -> None:
        if "metrics" in fields and not isinstance(fields["metrics"], str):
            fields["metrics"] = json.dumps(fields["metrics"])
        columns = ", ".join(f"{key} = ?" for key in fields)
        with self.transaction() as db:
            db.execute(f"UPDATE runs SET {columns} WHERE id = ?", (*fields.values(), run_id))

    def claim_next_queued(self, pid_placeholder: int = 0) -> dict | None:
        """Atomically mark the oldest queued run as running (so two app processes never start the same run)."""
        with self.transaction() as db:
            if db.execute("SELECT 1 FROM runs WHERE status = 'running'").fetchone():
                return None
            row = db.execute("SELECT * FROM runs WHERE status = 'queued' ORDER BY created LIMIT 1").fetchone()
            if row is None:
                return None
            db.execute("UPDATE runs SET status = 'running', started = ? WHERE id = ?", (time.time(), row["id"]))
            return _run_dict(row) | {"status": "running"}

    def run(self, run_id: str) -> dict | None:
        db = self._connect()
        try:
            row = db.execute("SELECT * FROM runs WHERE id = ? OR name = ? ORDER BY created DESC LIMIT 1",
                             (run_id, run_id)).fetchone()
        finally:
            db.close()
        return _run_dict(row) if row else None

    def runs(self, statuses: tuple[str, ...] | None = None) -> list[dict]:
        db = self._connect()
        try:
            if statuses:
                marks = ", ".join("?" * len(statuses))
                rows = db.execute(f"SELECT * FROM runs WHERE status IN ({marks}) ORDER BY created DESC", statuses)
            else:
                rows = db.execute("SELECT * FROM runs ORDER BY created DESC")
            return [_run_dict(r) for r in rows.fetchall()]
        finally:
            db.close()


def _run_dict(row: sqlite3.Row) -> dict:
    out = dict(row)
    out["recipe"] = json.loads(out["recipe"]) if out.get("recipe") else {}
    out["metrics"] = json.loads(out["metrics"]) if out.get("metrics") else {}
    return out
