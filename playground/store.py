"""The app's SQLite database under PLAYGROUND_HOME: runs (with evaluation results) and preference
labels. WAL mode (readers never block the writer), one short transaction per write, and numbered
migrations in PRAGMA user_version."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

from playground.errors import PlaygroundError
from playground.runs import ACTIVE, ENDED, RunStatus

MIGRATIONS = [
    """
    CREATE TABLE runs (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        kind TEXT NOT NULL DEFAULT 'train',
        method TEXT NOT NULL,
        base_model TEXT NOT NULL,
        status TEXT NOT NULL,
        recipe TEXT NOT NULL,
        run_dir TEXT NOT NULL,
        output_dir TEXT,
        pid INTEGER,
        pid_started REAL,
        created REAL NOT NULL,
        started REAL,
        finished REAL,
        stop_requested REAL,
        error TEXT,
        metrics TEXT
    );
    CREATE INDEX runs_status ON runs(status, created);
    """,
    # Every kind of run, not only fine-tuning: the kind is recorded (the old 'train' rows are
    # supervised fine-tuning, 'sft'), with what it produces; method and base model are optional.
    """
    CREATE TABLE runs_new (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        kind TEXT NOT NULL,
        output TEXT NOT NULL,            -- adapter, reward_model or result (playground.kinds.Output)
        method TEXT,
        base_model TEXT,
        status TEXT NOT NULL,            -- playground.runs.RunStatus
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
        metrics TEXT,                    -- JSON
        result TEXT                      -- JSON: what a run of a result kind (e.g. an evaluation) found
    );
    INSERT INTO runs_new (id, name, kind, output, method, base_model, status, recipe, run_dir, output_dir, pid,
                          pid_started, created, started, finished, stop_requested, error, metrics)
        SELECT id, name, CASE kind WHEN 'train' THEN 'sft' ELSE kind END, 'adapter', method, base_model, status,
               recipe, run_dir, output_dir, pid, pid_started, created, started, finished, stop_requested, error, metrics
        FROM runs;
    DROP TABLE runs;
    ALTER TABLE runs_new RENAME TO runs;
    CREATE INDEX runs_status ON runs(status, created);
    CREATE INDEX runs_name ON runs(name, created);
    """,
    # Preference labels (the Rate tab): each row keeps everything that was judged, as it was shown.
    """
    CREATE TABLE labels (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        pair_key TEXT NOT NULL,          -- the prompt and its completions, whatever side each was shown on
        kind TEXT NOT NULL,              -- pair (a vote between two completions) or rating (HHH scores of one)
        prompt TEXT NOT NULL,
        left_text TEXT NOT NULL,         -- as shown on the left (the only completion of a rating)
        right_text TEXT,
        left_source TEXT NOT NULL,       -- the model, adapter or decoding setting that wrote it
        right_source TEXT,
        left_settings TEXT,              -- JSON: the decoding settings
        right_settings TEXT,
        choice TEXT,                     -- left, right, tie or both_bad (pairs)
        scores TEXT,                     -- JSON {"helpful", "honest", "harmless"}: 1-5 (ratings)
        comment TEXT NOT NULL DEFAULT '',
        annotator TEXT NOT NULL,
        origin TEXT NOT NULL,            -- labeled, or imported:<file name>
        created REAL NOT NULL
    );
    CREATE INDEX labels_annotator ON labels(annotator, id);
    CREATE INDEX labels_pair ON labels(pair_key, annotator);
    """,
    # Models whose own code may run (transformers' trust_remote_code): none unless someone allows one.
    """
    CREATE TABLE trusted_models (
        model TEXT PRIMARY KEY,          -- as typed in the model picker (a Hub id or a folder)
        allowed_by TEXT NOT NULL,
        created REAL NOT NULL
    );
    """,
    # Who started each run (a login name, "ip:<address>" for a visitor, "<user> (command line)").
    """
    ALTER TABLE runs ADD COLUMN created_by TEXT NOT NULL DEFAULT '';
    """,
    # A resumed run keeps when it first started and how long it ran before (started/finished: this time).
    """
    ALTER TABLE runs ADD COLUMN first_started REAL;
    ALTER TABLE runs ADD COLUMN earlier_s REAL NOT NULL DEFAULT 0;
    """,
]
JSON_COLUMNS = ("recipe", "metrics", "result")


class Store:
    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            with self._connect() as db:
                db.execute("PRAGMA journal_mode=WAL")
                version = db.execute("PRAGMA user_version").fetchone()[0]
                for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
                    db.executescript(f"BEGIN; {script}; PRAGMA user_version={number}; COMMIT;")
                db.execute("SELECT id FROM runs LIMIT 1")
        except sqlite3.DatabaseError as err:
            raise PlaygroundError(
                f"The database {self.path} is damaged or is not a SQLite database ({err}). Move it aside "
                f"(mv '{self.path}' '{self.path}.damaged') and start again: the list of runs is rebuilt from "
                f"the run folders in {self.path.parent / 'runs'}."
            ) from err

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        db.row_factory = sqlite3.Row
        db.execute("PRAGMA busy_timeout=30000")
        db.execute("PRAGMA synchronous=NORMAL")
        return db

    @contextmanager
    def transaction(self):
        """One write transaction, taken at once (BEGIN IMMEDIATE), so a check and the write that
        depends on it can't be interleaved with another process's."""
        db = self._connect()
        try:
            db.execute("BEGIN IMMEDIATE")
            yield db
            db.execute("COMMIT")
        except sqlite3.OperationalError as err:
            _roll_back(db)
            if "full" in str(err):  # SQLITE_FULL: "database or disk is full"
                raise PlaygroundError(f"The disk holding {self.path.parent} is full: nothing was saved. Free some space "
                                      "there and try again.") from err
            raise
        except BaseException:
            _roll_back(db)
            raise
        finally:
            db.close()

    @contextmanager
    def reading(self):
        db = self._connect()
        try:
            yield db
        finally:
            db.close()

    # ---- adding runs ----
    def add_run(self, run: dict, name_stem: str = "", folder_free: Callable[[str], None] | None = None) -> dict:
        """Record a new run, checking in the same transaction that its output name is free: no
        queued or running run that writes a folder holds it, and `folder_free(name)` (which raises
        when the name is taken on disk) passes. With no name, the first free one of `name_stem`,
        `name_stem-2`, ... is used. Returns the run as recorded."""
        with self.transaction() as db:
            if run.get("name"):
                self._check_name_free(db, run["name"], run["output"], folder_free)
                name = run["name"]
            else:
                name = self._free_name(db, name_stem, run["output"], folder_free)
            row = {**run, "name": name, "created": run.get("created", time.time())}
            for key in JSON_COLUMNS:
                if key in row and not isinstance(row[key], str):
                    row[key] = json.dumps(row[key])
            columns = ", ".join(row)
            db.execute(f"INSERT INTO runs ({columns}) VALUES ({', '.join('?' * len(row))})", tuple(row.values()))
            return _run_dict(db.execute("SELECT * FROM runs WHERE id = ?", (run["id"],)).fetchone())

    def check_name_free(self, name: str, output: str, folder_free: Callable[[str], None] | None = None) -> None:
        """Raises if `name` is taken (as add_run would): said before a run's slower checks; add_run
        checks again in its transaction."""
        with self.reading() as db:
            self._check_name_free(db, name, output, folder_free)

    @staticmethod
    def _check_name_free(db, name: str, output: str, folder_free) -> None:
        if output != "result":
            held = db.execute(
                "SELECT status FROM runs WHERE name = ? AND output != 'result' AND status IN (?, ?) LIMIT 1",
                (name, *map(str, ACTIVE))).fetchone()
            if held:
                raise PlaygroundError(f"A run named '{name}' is already {held['status']}: choose another output name.")
        if folder_free:
            folder_free(name)

    def _free_name(self, db, stem: str, output: str, folder_free) -> str:
        for n in range(1, 10_000):
            name = stem if n == 1 else f"{stem}-{n}"
            if db.execute("SELECT 1 FROM runs WHERE name = ? LIMIT 1", (name,)).fetchone():
                continue  # automatic names are never reused, so each names one run
            try:
                self._check_name_free(db, name, output, folder_free)
            except PlaygroundError:
                continue
            return name
        raise PlaygroundError(f"No free automatic name starting with '{stem}': choose an output name.")

    def import_run(self, row: dict) -> None:
        """Add a run rebuilt from its folder (after the database lost it); does nothing if it is there."""
        row = {k: (json.dumps(v) if k in JSON_COLUMNS and not isinstance(v, str) else v) for k, v in row.items()}
        with self.transaction() as db:
            db.execute(f"INSERT OR IGNORE INTO runs ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})",
                       tuple(row.values()))

    # ---- changing runs ----
    def update_run(self, run_id: str, **fields) -> None:
        self.update_run_if(run_id, None, **fields)

    def update_run_if(self, run_id: str, statuses: tuple[str, ...] | None, **fields) -> bool:
        """Update a run only while its status is one of `statuses` (any, for None), in one
        statement; whether it was updated."""
        for key in JSON_COLUMNS:
            if key in fields and not isinstance(fields[key], str):
                fields[key] = json.dumps(fields[key])
        columns = ", ".join(f"{key} = ?" for key in fields)
        where, args = "id = ?", [run_id]
        if statuses:
            where += f" AND status IN ({', '.join('?' * len(statuses))})"
            args += [str(s) for s in statuses]
        with self.transaction() as db:
            return db.execute(f"UPDATE runs SET {columns} WHERE {where}", (*fields.values(), *args)).rowcount > 0

    def claim_next_queued(self) -> dict | None:
        """Atomically mark the oldest queued run as running (so two app processes never start the same run)."""
        with self.transaction() as db:
            if db.execute("SELECT 1 FROM runs WHERE status = 'running'").fetchone():
                return None
            row = db.execute("SELECT * FROM runs WHERE status = 'queued' ORDER BY created LIMIT 1").fetchone()
            if row is None:
                return None
            db.execute("UPDATE runs SET status = 'running', started = ? WHERE id = ?", (time.time(), row["id"]))
            return _run_dict(row) | {"status": RunStatus.RUNNING.value}

    def delete_runs(self, run_ids: list[str]) -> list[dict]:
        """Remove ended runs from the list (one transaction); returns the rows removed. Active runs are kept."""
        if not run_ids:
            return []
        marks = ", ".join("?" * len(run_ids))
        ended = ", ".join("?" * len(ENDED))
        with self.transaction() as db:
            rows = db.execute(f"SELECT * FROM runs WHERE id IN ({marks}) AND status IN ({ended})",
                              (*run_ids, *map(str, ENDED))).fetchall()
            db.execute(f"DELETE FROM runs WHERE id IN ({', '.join('?' * len(rows))})", [r["id"] for r in rows])
            return [_run_dict(r) for r in rows]

    # ---- reading runs ----
    def run(self, run_id: str) -> dict | None:
        """The run with this id (ids are unique; names repeat across runs)."""
        with self.reading() as db:
            row = db.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()
        return _run_dict(row) if row else None

    def find(self, ref: str) -> dict | None:
        """A run by id, or else the newest run with that name (for people typing at the CLI)."""
        with self.reading() as db:
            row = db.execute("SELECT * FROM runs WHERE id = ?", (ref,)).fetchone() or db.execute(
                "SELECT * FROM runs WHERE name = ? ORDER BY created DESC LIMIT 1", (ref,)).fetchone()
        return _run_dict(row) if row else None

    def runs(self, statuses: tuple[str, ...] | None = None, kind: str | None = None) -> list[dict]:
        where, args = [], []
        if statuses:
            where.append(f"status IN ({', '.join('?' * len(statuses))})")
            args += [str(s) for s in statuses]
        if kind:
            where.append("kind = ?")
            args.append(kind)
        sql = "SELECT * FROM runs" + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY created DESC"
        with self.reading() as db:
            return [_run_dict(r) for r in db.execute(sql, args).fetchall()]

    def run_ids(self) -> set[str]:
        with self.reading() as db:
            return {r[0] for r in db.execute("SELECT id FROM runs").fetchall()}


def _roll_back(db: sqlite3.Connection) -> None:
    """Undo the open transaction; SQLite may have rolled it back already (after a full disk, say)."""
    if db.in_transaction:
        db.execute("ROLLBACK")


def _run_dict(row: sqlite3.Row) -> dict:
    out = dict(row)
    for key in JSON_COLUMNS:
        out[key] = json.loads(out[key]) if out.get(key) else {}
    return out
