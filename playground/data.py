"""Example sets for prompting: built-in tasks, local JSONL/CSV/Parquet files, Hub datasets.

Every source ends as an `ExampleSet` of (input, reference) pairs after the user's column
mapping; anything unusable is refused with a message that says how to fix it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from playground import access, limits
from playground.errors import PlaygroundError
from playground.prompts import PromptTemplate
from playground.settings import PROJECT_ROOT

EXAMPLES_DIR = PROJECT_ROOT / "assets" / "examples"
MAX_ROWS = 100_000
HUB_TIME_LIMIT_S = 120.0
SUPPORTED_SUFFIXES = {".jsonl": "json", ".json": "json", ".csv": "csv", ".parquet": "parquet"}


@dataclass(frozen=True)
class BuiltinTask:
    name: str
    title: str
    file: str
    input_column: str
    output_column: str
    template: PromptTemplate
    about: str


BUILTIN_TASKS = {
    task.name: task
    for task in [
        BuiltinTask(
            name="summarization",
            title="Dialogue summarization (40 conversations)",
            file="summarization.jsonl",
            input_column="dialogue",
            output_column="summary",
            template=PromptTemplate(
                instruction="Summarize each conversation in one or two sentences.",
                example_format="Dialogue:\n{input}\n\nSummary: {output}",
                separator="\n\n\n",
            ),
            about="Everyday two-person conversations, each with a reference summary written by a person.",
        ),
        BuiltinTask(
            name="sentiment",
            title="Review sentiment (48 reviews)",
            file="sentiment.jsonl",
            input_column="review",
            output_column="label",
            template=PromptTemplate(
                instruction="Classify the sentiment of each review as positive or negative.",
                example_format="Review: {input}\nSentiment: {output}",
                separator="\n\n",
            ),
            about="Short product, film and restaurant reviews labelled positive or negative.",
        ),
    ]
}


@dataclass
class ExampleSet:
    name: str
    inputs: list[str]
    references: list[str]
    skipped_rows: list[int] = field(default_factory=list)  # 0-based rows dropped for being empty
    format_note: str = ""  # how a known format's columns were read (with_standard_columns)

    def __len__(self) -> int:
        return len(self.inputs)

    def pairs(self) -> list[tuple[str, str]]:
        return list(zip(self.inputs, self.references))

    def notice(self) -> str:
        text = f"{len(self):,} examples from {self.name}."
        if self.format_note:
            text += f" {self.format_note}"
        return text + (f" {self.skipped_note()}" if self.skipped_rows else "")

    def skipped_note(self) -> str:
        """Which rows were left out, numbered as a person counts a file's records (from 1, a CSV's
        header not counted)."""
        shown = ", ".join(str(r + 1) for r in self.skipped_rows[:5])
        more = "…" if len(self.skipped_rows) > 5 else ""
        return (f"Skipped {len(self.skipped_rows)} row(s) of {self.name} with an empty input or reference "
                f"(row{'s' if len(self.skipped_rows) > 1 else ''} {shown}{more}, counting from 1).")


# ---- reading tables ----
def read_table(path: str | Path, max_rows: int | None = MAX_ROWS):
    """A JSONL/JSON/CSV/Parquet file a person named (or uploaded) as a pandas DataFrame, or a clear
    PlaygroundError; in demo mode only an upload is read."""
    access.check_typed_path(path)
    return _read_table(Path(path), max_rows)


def _read_table(path: Path, max_rows: int | None = MAX_ROWS):
    import pandas as pd

    if not access.is_file(path):
        where = "" if path.is_absolute() or access.demo_mode() else f" (looked for it from {Path.cwd()})"
        raise PlaygroundError(f"File not found: {str(path)[:200]}{where}.")
    kind = SUPPORTED_SUFFIXES.get(path.suffix.lower())
    if kind is None:
        raise PlaygroundError(
            f"'{path.name}' is not a supported file type: use .jsonl, .json, .csv or .parquet."
        )
    size, cap_mb = path.stat().st_size, limits.current().upload_mb
    if size > cap_mb * 2**20:
        raise PlaygroundError(
            f"'{path.name}' is {size / 2**20:,.1f} MB; the limit is {cap_mb} MB. Use a sample of it, or a Hub dataset."
        )
    if size == 0:
        raise PlaygroundError(f"'{path.name}' is empty.")
    try:
        if kind == "json":
            lines = path.suffix.lower() == ".jsonl" or path.read_text(encoding="utf-8", errors="replace")[:1] != "["
            frame = pd.read_json(path, lines=lines, dtype=False)
        elif kind == "csv":
            frame = pd.read_csv(path, dtype=str, keep_default_na=False)
            if len(frame.columns) == 1 and ";" in str(frame.columns[0]):
                raise PlaygroundError(f"'{path.name}' seems separated by semicolons ({frame.columns[0][:60]}): save it "
                                      "with commas between the columns (or as .jsonl).")
        else:
            frame = _read_parquet(path, max_rows, cap_mb)
    except PlaygroundError:
        raise
    except Exception as err:
        detail = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        if kind == "json" and lines and (where := _first_bad_json_line(path)):
            detail = where  # pandas names a byte position; a person looks for a line
        raise PlaygroundError(f"Could not read '{path.name}' as {kind.upper()}: {detail}.") from err
    if frame.empty or len(frame.columns) == 0:
        raise PlaygroundError(f"'{path.name}' has no rows.")
    _check_rows(path, len(frame), max_rows)
    frame.columns = [str(c) for c in frame.columns]
    return frame


def _first_bad_json_line(path: Path) -> str | None:
    """Where a JSON Lines file first fails to parse, as a person finds it: "line 12 is not JSON
    (…)"; None when every line parses (the problem is elsewhere)."""
    import json

    try:  # the whole file one JSON value (an object written over several lines): no line is to blame
        whole = json.loads(path.read_text(encoding="utf-8", errors="replace"))
        return (f"it holds one JSON {'object' if isinstance(whole, dict) else 'value'}, not rows: write a list of rows ([{{...}}, {{...}}]) or one "
                "row per line (.jsonl)")
    except ValueError:
        pass
    with path.open(encoding="utf-8", errors="replace") as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                json.loads(line)
            except ValueError as err:
                return f"line {number} is not JSON ({err.msg}: {line.strip()[:60]!r}); fix or remove that line"
    return None


def _check_rows(path: Path, rows: int, max_rows: int | None) -> None:
    if max_rows and rows > max_rows:
        raise PlaygroundError(f"'{path.name}' has {rows:,} rows; the limit is {max_rows:,}. Use a sample of it.")


PARQUET_EXPANSION = 10  # a Parquet file may hold at most this many times the upload cap, decoded


def _read_parquet(path: Path, max_rows: int | None, cap_mb: int):
    """Parquet is compressed: a file under the upload cap can hold rows that would not fit in memory.
    The footer's row count is checked first, then rows are decoded a batch at a time and the reading
    given up once they outgrow PARQUET_EXPANSION times the cap."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    source = pq.ParquetFile(path)
    _check_rows(path, source.metadata.num_rows, max_rows)  # before decoding anything
    budget, used, batches = PARQUET_EXPANSION * cap_mb * 2**20, 0, []
    for batch in source.iter_batches(batch_size=1024):
        used += batch.nbytes
        if used > budget:
            raise PlaygroundError(f"'{path.name}' holds more than {budget / 2**20:,.0f} MB of data once uncompressed "
                                  f"({PARQUET_EXPANSION}x the {cap_mb} MB upload limit). Use a sample of it.")
        batches.append(batch)
    return pa.Table.from_batches(batches, schema=source.schema_arrow).to_pandas()


def read_hub(dataset_id: str, split: str = "train", config: str | None = None, max_rows: int = MAX_ROWS,
             time_limit_s: float = HUB_TIME_LIMIT_S, offline_message: str = ""):
    """The first `max_rows` rows of a Hub dataset split as a DataFrame. Said at once when the Hub
    can't be reached (`offline_message`, else what fine-tuning data can use instead); given up (with
    what to try) after `time_limit_s`, so a page never hangs on it."""
    import concurrent.futures

    from playground.models import hub_reachable
    from playground.settings import Settings

    dataset_id = (dataset_id or "").strip()
    if not dataset_id:
        raise PlaygroundError("Type a Hub dataset id, e.g. 'knkarthick/dialogsum'.")
    access.check_hub_id(dataset_id)  # demo: a server folder is refused, whether or not it exists
    split = (split or "train").strip()
    if not re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", split):
        raise PlaygroundError(f"'{split[:64]}' is not a split name: use one like train, validation or test.")
    if not access.is_local_folder(dataset_id) and not hub_reachable(Settings.from_env()):
        raise PlaygroundError(offline_message or f"'{dataset_id}' is not a built-in set or a file, and the Hugging Face "
                              "Hub can't be reached (offline): use a built-in set or a local file.")

    def load():
        import datasets

        if access.demo_mode():  # stream the first rows: a visitor's id never makes the server download a whole set
            import itertools

            import pandas as pd

            stream = datasets.load_dataset(dataset_id, config or None, split=split, streaming=True)
            return pd.DataFrame(list(itertools.islice(stream, max_rows)))
        return datasets.load_dataset(dataset_id, config or None, split=f"{split}[:{max_rows}]").to_pandas()

    pool = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="hub-dataset")
    try:
        return pool.submit(load).result(timeout=time_limit_s)
    except concurrent.futures.TimeoutError:
        raise PlaygroundError(f"Loading '{dataset_id}' took more than {time_limit_s:.0f} s, so it was given up. Try a smaller "
                              "split, or download it once and use the local file.") from None
    except Exception as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise PlaygroundError(
            f"Could not load the Hub dataset '{dataset_id}' (split '{split}'): {first}. "
            "Check the id and split, or that the Hub can be reached (offline, use a local file)."
        ) from err
    finally:
        pool.shutdown(wait=False)


def builtin_frame(task: str):
    if task not in BUILTIN_TASKS:
        raise PlaygroundError(f"Unknown built-in task '{task}': choose from {', '.join(BUILTIN_TASKS)}.")
    return _read_table(EXAMPLES_DIR / BUILTIN_TASKS[task].file)


GUESSED_INPUTS = ("dialogue", "prompt", "input", "text", "question", "review", "document", "article", "instruction")
ALPACA_INPUT = "instruction_and_input"
CHAT_COLUMNS = ("messages", "conversations")  # TRL's conversational format; ShareGPT's
CHAT_ROLES = {"human": "user", "gpt": "assistant"}  # ShareGPT's "from" names


def with_standard_columns(frame):
    """The frame with columns the common instruction-data formats need derived, so a file in one of
    them maps like any other: Alpaca's instruction, input and output give `instruction_and_input`
    (the instruction, then the input after a blank line where there is one), and a conversation
    (`messages` as TRL writes it, or ShareGPT's `conversations`) gives `<column>_prompt`, the turns
    before the last reply, and `<column>_reply`, that reply. What was derived is said in
    frame.attrs["format_note"] (ExampleSet.notice shows it)."""
    columns = {c.lower(): c for c in frame.columns}
    known_input = any(name in columns for name in GUESSED_INPUTS if name not in ("instruction", "input"))
    alpaca = "instruction" in columns and ("output" in columns or "response" in columns)  # or Dolly's
    if alpaca and not known_input and ALPACA_INPUT not in columns:
        instruction, extra = columns["instruction"], columns.get("input") or columns.get("context")
        frame = frame.copy()
        extras = frame[extra] if extra else [None] * len(frame)
        frame[ALPACA_INPUT] = [_joined(i, x) for i, x in zip(frame[instruction], extras)]
        frame.attrs["derived"] = [ALPACA_INPUT]
        frame.attrs["format_note"] = ("Alpaca format: each input is the instruction" +
                                      (f", then the row's {extra} after a blank line" if extra else "") + ".")
    for name in CHAT_COLUMNS:
        column = columns.get(name)
        if column is None or f"{column}_prompt" in frame.columns:
            continue
        split = [_conversation_parts(turns) for turns in frame[column]]
        if not any(prompt for prompt, _ in split):
            continue
        frame = frame.copy()
        frame[f"{column}_prompt"], frame[f"{column}_reply"] = [p for p, _ in split], [r for _, r in split]
        frame.attrs["derived"] = [f"{column}_prompt", f"{column}_reply"]
        frame.attrs["format_note"] = (f"Conversations ('{column}'): the last assistant turn is the reference and the "
                                      "turns before it the input (one turn alone as its text; several as 'role: text' "
                                      "lines).")
    return frame


def _joined(instruction, extra) -> str:
    instruction, extra = _cell_text(instruction), _cell_text(extra) if _is_scalar(extra) else ""
    return f"{instruction}\n\n{extra}" if instruction and extra else instruction or extra


def _conversation_parts(turns) -> tuple[str, str]:
    """(the turns before the last assistant turn as text, that turn's text); ("", "") for anything
    that isn't a list of {role, content} (or ShareGPT's {from, value}) turns ending in a reply."""
    if not isinstance(turns, (list, tuple)) and getattr(turns, "ndim", 0) != 1:
        return "", ""
    parsed = []
    for turn in turns:
        if not isinstance(turn, dict):
            return "", ""
        # `or`: a Parquet or Hub file with both key styles fills the other's keys with None
        role = str(turn.get("role") or turn.get("from") or "").strip().lower()
        content = turn.get("content") or turn.get("value")
        if isinstance(content, (list, tuple)) or getattr(content, "ndim", 0) == 1:  # parts: [{"type": "text", "text": ...}]
            content = " ".join(str(part.get("text") or "") for part in content if isinstance(part, dict))
        parsed.append((CHAT_ROLES.get(role, role), _cell_text(content) if _is_scalar(content) else ""))
    last = max((i for i, (role, _) in enumerate(parsed) if role == "assistant"), default=None)
    if not last:  # none, or a reply with nothing before it
        return "", ""
    before = parsed[:last]
    prompt = before[0][1] if len(before) == 1 else "\n".join(f"{role}: {text}" for role, text in before)
    return prompt, parsed[last][1]


def guess_columns(columns: list[str]) -> tuple[str | None, str | None]:
    """A first guess at the (input, reference) columns from common names (with_standard_columns'
    derived ones first: a file in a known format needs no mapping)."""
    inputs = [ALPACA_INPUT, *(f"{c}_prompt" for c in CHAT_COLUMNS), *GUESSED_INPUTS]
    outputs = [*(f"{c}_reply" for c in CHAT_COLUMNS), "summary", "completion", "output", "answer", "label", "response",
               "target", "highlights"]
    lower = {c.lower(): c for c in columns}
    pick = lambda names: next((lower[n] for n in names if n in lower), None)  # noqa: E731
    return pick(inputs), pick(outputs)


def to_examples(frame, input_column: str, output_column: str, name: str) -> ExampleSet:
    """Apply the column mapping; rows with an empty input or reference are skipped and reported."""
    columns = list(frame.columns)
    for role, column in (("input", input_column), ("reference", output_column)):
        if not column:
            raise PlaygroundError(f"Choose which column holds the {role}. Columns: {', '.join(columns)}.")
        if column not in columns:
            raise PlaygroundError(f"Column '{column}' is not in {name}. Its columns are: {', '.join(columns)}.")
    if input_column == output_column:
        raise PlaygroundError("The input and reference columns must be different.")
    inputs, references, skipped = [], [], []
    for row, (x, y) in enumerate(zip(frame[input_column].tolist(), frame[output_column].tolist())):
        for column, value in ((input_column, x), (output_column, y)):
            if not _is_scalar(value):
                raise PlaygroundError(
                    f"Column '{column}' of {name} holds {type(value).__name__}s, not text (row {row + 1}: "
                    f"{str(value)[:60]}…). Pick a column of text, or flatten it into text first "
                    "(e.g. join a conversation's turns into one string).")
        x, y = _cell_text(x), _cell_text(y)
        if not x or not y:
            skipped.append(row)
            continue
        inputs.append(x)
        references.append(y)
    if not inputs:
        raise PlaygroundError(f"Every row of {name} has an empty '{input_column}' or '{output_column}'.")
    derived = {input_column, output_column} & set(frame.attrs.get("derived", ()))
    return ExampleSet(name=name, inputs=inputs, references=references, skipped_rows=skipped,
                      format_note=frame.attrs.get("format_note", "") if derived else "")


def _is_scalar(value) -> bool:
    """Text, a number or a date; not a list, a mapping or an array (which str() would turn into Python repr)."""
    return not isinstance(value, (list, tuple, dict, set)) and not getattr(value, "ndim", 0)


def _cell_text(value) -> str:
    if value is None or (isinstance(value, float) and value != value):  # None or NaN
        return ""
    return str(value).strip()


def load_builtin(task: str) -> ExampleSet:
    spec = BUILTIN_TASKS.get(task)
    frame = builtin_frame(task)
    return to_examples(frame, spec.input_column, spec.output_column, f"the built-in {task} set")
