"""Preference labels in the app's database: one transaction per label, acknowledged only after it
is committed; undo removes only the annotator's own last label."""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass, field

from playground.errors import PlaygroundError
from playground.store import Store

CHOICES = ("left", "right", "tie", "both_bad")
HHH = ("helpful", "honest", "harmless")
MAX_TEXT_CHARS = 100_000  # a prompt or completion; a label is a judgment, not a document store
MAX_NAME_CHARS = 100


def pair_key(prompt: str, first: str, second: str | None = None) -> str:
    """The same prompt and completions give the same key whichever side each was shown on."""
    texts = sorted(t for t in (first, second) if t is not None)
    return hashlib.sha256(json.dumps([prompt, *texts], ensure_ascii=False).encode()).hexdigest()[:32]


@dataclass
class Label:
    prompt: str
    left_text: str
    left_source: str
    annotator: str
    right_text: str | None = None  # None: a rating of one completion
    right_source: str | None = None
    choice: str | None = None  # left, right, tie, both_bad
    scores: dict | None = None  # {"helpful": 1-5, "honest": 1-5, "harmless": 1-5}
    left_settings: dict = field(default_factory=dict)
    right_settings: dict = field(default_factory=dict)
    comment: str = ""
    origin: str = "labeled"
    id: int | None = None
    created: float | None = None

    def __post_init__(self) -> None:
        self.annotator = str(self.annotator or "").strip()
        _check(bool(self.annotator), "Say who you are: type an annotator name.")
        _check(len(self.annotator) <= MAX_NAME_CHARS, f"The annotator name is longer than {MAX_NAME_CHARS} characters.")
        _check(bool(str(self.prompt or "").strip()), "The prompt is empty: there is nothing to judge.")
        for what, text in (("prompt", self.prompt), ("completion", self.left_text), ("completion", self.right_text),
                           ("comment", self.comment)):
            _check(text is None or len(text) <= MAX_TEXT_CHARS,
                   f"The {what} is {len(text or ''):,} characters long: labels keep at most {MAX_TEXT_CHARS:,}.")
        _check(bool(str(self.left_text or "").strip()), "A completion is empty: there is nothing to judge on that side.")
        _check(bool(str(self.left_source or "").strip()), "Each completion needs its source (model, adapter or setting).")
        if self.kind == "pair":
            _check(bool(str(self.right_text or "").strip()), "A completion is empty: there is nothing to judge on that side.")
            _check(bool(str(self.right_source or "").strip()), "Each completion needs its source.")
            _check(self.choice in CHOICES, f"A vote is one of {', '.join(CHOICES)} (got {self.choice!r}).")
        else:
            _check(isinstance(self.scores, dict) and set(self.scores) == set(HHH),
                   f"A rating scores {', '.join(HHH)}, each from 1 to 5.")
            _check(all(isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= 5 for v in self.scores.values()),
                   f"Each of {', '.join(HHH)} is a whole number from 1 to 5.")

    @property
    def kind(self) -> str:
        return "pair" if self.right_text is not None else "rating"

    @property
    def key(self) -> str:
        return pair_key(self.prompt, self.left_text, self.right_text)

    def winner(self) -> tuple[str, str] | None:
        """(chosen text, rejected text) of a decisive vote, else None."""
        if self.choice == "left":
            return self.left_text, self.right_text
        if self.choice == "right":
            return self.right_text, self.left_text
        return None

    def to_dict(self) -> dict:
        return asdict(self) | {"kind": self.kind, "pair_key": self.key}


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise PlaygroundError(message)


def add(store: Store, label: Label) -> Label:
    """Commit one label; returns it with its id and time (the acknowledgement)."""
    created = time.time()
    with store.transaction() as db:
        cursor = db.execute(
            "INSERT INTO labels (pair_key, kind, prompt, left_text, right_text, left_source, right_source, left_settings,"
            " right_settings, choice, scores, comment, annotator, origin, created) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (label.key, label.kind, label.prompt, label.left_text, label.right_text, label.left_source,
             label.right_source, json.dumps(label.left_settings), json.dumps(label.right_settings), label.choice,
             json.dumps(label.scores) if label.scores else None, label.comment, label.annotator, label.origin, created))
        label_id = cursor.lastrowid
    label.id, label.created = label_id, created
    return label


def add_many(store: Store, labels: list[Label]) -> int:
    """Imported labels, all in one transaction (all or none)."""
    created = time.time()
    with store.transaction() as db:
        db.executemany(
            "INSERT INTO labels (pair_key, kind, prompt, left_text, right_text, left_source, right_source, left_settings,"
            " right_settings, choice, scores, comment, annotator, origin, created) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            [(x.key, x.kind, x.prompt, x.left_text, x.right_text, x.left_source, x.right_source, json.dumps(x.left_settings),
              json.dumps(x.right_settings), x.choice, json.dumps(x.scores) if x.scores else None, x.comment, x.annotator,
              x.origin, created) for x in labels])
    return len(labels)


def undo_last(store: Store, annotator: str, among: list[int] | None = None) -> Label | None:
    """Remove this annotator's own most recent label (never anyone else's), and with `among` only one
    of those ids (the labels made in one labeling session); returns it, or None."""
    only = f" AND id IN ({','.join('?' * len(among))})" if among is not None else ""
    with store.transaction() as db:
        row = db.execute(f"SELECT * FROM labels WHERE annotator = ? AND origin = 'labeled'{only} ORDER BY id DESC LIMIT 1",
                         (str(annotator).strip(), *(among or []))).fetchone()
        if row is None:
            return None
        db.execute("DELETE FROM labels WHERE id = ?", (row["id"],))
    return _label(row)


def labeled_keys(store: Store, annotator: str) -> set[str]:
    """The pairs this annotator has already judged (not offered again unless they ask to relabel)."""
    with store.reading() as db:
        return {r[0] for r in db.execute("SELECT DISTINCT pair_key FROM labels WHERE annotator = ?", (annotator,))}


def all_labels(store: Store, kind: str | None = None, annotator: str | None = None, source: str | None = None) -> list[Label]:
    query, args = "SELECT * FROM labels WHERE 1=1", []
    if kind:
        query, args = query + " AND kind = ?", [*args, kind]
    if annotator:
        query, args = query + " AND annotator = ?", [*args, annotator]
    if source:
        query, args = query + " AND (left_source = ? OR right_source = ?)", [*args, source, source]
    with store.reading() as db:
        return [_label(r) for r in db.execute(query + " ORDER BY id", args)]


def counts(store: Store) -> dict[str, int]:
    """Labels per annotator (imported ones under their origin)."""
    with store.reading() as db:
        return {r[0]: r[1] for r in db.execute("SELECT annotator, COUNT(*) FROM labels GROUP BY annotator ORDER BY 2 DESC")}


def _label(row) -> Label:
    return Label(prompt=row["prompt"], left_text=row["left_text"], left_source=row["left_source"],
                 annotator=row["annotator"], right_text=row["right_text"], right_source=row["right_source"],
                 choice=row["choice"], scores=json.loads(row["scores"]) if row["scores"] else None,
                 left_settings=json.loads(row["left_settings"] or "{}"), right_settings=json.loads(row["right_settings"] or "{}"),
                 comment=row["comment"], origin=row["origin"], id=row["id"], created=row["created"])
