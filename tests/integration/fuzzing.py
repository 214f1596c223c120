"""Fuzzing the running app's endpoints with hypothesis: for each named endpoint, inputs drawn per
component (plausible values near the page's own, and hostile ones: wrong types, empty, huge,
unicode, control characters, negative, NaN and infinite numbers, server paths) are sent through the
queue API, and each answer is judged: a clear message is fine, a server error or a traceback is not.
Used by tests/integration/test_fuzz.py (a few inputs per endpoint) and bench/fuzz_report.py (more)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from tests.integration import raw_api

HUGE = "x" * 100_000
SERVER_PATHS = ["/etc/passwd", "../../../../etc/passwd", "~/.ssh/id_rsa", "/proc/self/environ", "C:\\Windows\\win.ini"]
ODD_TEXT = ["", " ", "\x00", "\n\n", "é漢字🙂", "‮reversed", "<script>alert(1)</script>", "{input}{{}}", "%s%n", HUGE]
ODD_NUMBERS = [0, -1, -(2**63), 2**63, 1e308, -1e308, 0.5, float("nan"), float("inf"), float("-inf")]

hostile = st.one_of(
    st.none(), st.booleans(), st.sampled_from(ODD_NUMBERS), st.integers(), st.sampled_from(ODD_TEXT),
    st.sampled_from(SERVER_PATHS), st.text(max_size=40), st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
)


def plausible(component: dict) -> st.SearchStrategy:
    """Values a page could send for this component (so the handler itself is reached)."""
    kind, props = component["type"], component.get("props", {})
    value = props.get("value")
    if kind in ("slider", "number"):
        low, high = props.get("minimum"), props.get("maximum")
        inside = (st.floats(low, high) if low is not None and high is not None else st.floats(-1e6, 1e6))
        return st.one_of(st.just(value), inside, st.sampled_from(ODD_NUMBERS))
    if kind == "textbox":
        return st.one_of(st.just(value), st.text(max_size=200), st.sampled_from(ODD_TEXT + SERVER_PATHS))
    if kind in ("dropdown", "radio", "checkboxgroup"):
        choices = [c[1] if isinstance(c, (list, tuple)) else c for c in props.get("choices") or []]
        one = st.sampled_from(choices) if choices else st.just(value)
        if kind == "checkboxgroup" or props.get("multiselect"):
            return st.one_of(st.just(value), st.lists(one, max_size=3) if choices else st.just([]))
        return st.one_of(st.just(value), one, st.text(max_size=30))
    if kind == "checkbox":
        return st.booleans()
    if kind == "file":
        return st.one_of(st.none(), st.just({"path": "/etc/passwd", "meta": {"_type": "gradio.FileData"}}))
    if kind == "dataframe":
        rows = st.lists(st.lists(st.one_of(st.text(max_size=20), st.sampled_from(ODD_NUMBERS)), min_size=2, max_size=2),
                        max_size=3)
        return st.one_of(st.just(value), rows.map(lambda r: {"headers": ["data", "weight"], "data": r, "metadata": None}))
    return st.just(value)


@dataclass
class Outcome:
    tried: int = 0
    failures: list[tuple[list, str]] = field(default_factory=list)


def judge(message: dict) -> str | None:
    """None when the answer is fine (a result, or a clear message); else what was wrong."""
    text = raw_api.texts(message)
    if "Traceback" in text or 'File "/' in text:
        return "a traceback was shown"
    if "Something went wrong" in text:
        return "an unexpected error: " + text[:300]
    if not message.get("success"):
        error = (message.get("output") or {}).get("error")
        if not error or not str(error).strip():
            return "a server error with no message"
    return None


def fuzz_endpoint(url: str, cfg: dict, api_name: str, examples: int, seed: int = 0) -> Outcome:
    index = raw_api.fn_index(cfg, api_name)
    components = {c["id"]: c for c in cfg["components"]}
    dependency = next(d for d in cfg["dependencies"] if d["id"] == index)
    inputs = [components[i] for i in dependency["inputs"]]
    outcome = Outcome()
    session = uuid.uuid4().hex

    @settings(max_examples=examples, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck), phases=[Phase.generate])
    @given(st.tuples(*[st.one_of(plausible(c), plausible(c), hostile) for c in inputs]) if inputs else st.just(()))
    def attempt(values):
        data = list(values)  # NaN and infinities too: Python's JSON sends them
        outcome.tried += 1
        try:
            problem = judge(raw_api.call(url, index, data, session, timeout=180))
        except Exception as err:  # noqa: BLE001 - the server did not answer properly
            problem = f"no answer: {type(err).__name__}: {err}"
        if problem:
            outcome.failures.append((data, problem))

    attempt()
    return outcome



# ---- the CLI: every verb, in this process (as `python -m playground ...` runs it) ----
WRITES = {("tiny-model", "dir"), ("prefs export", "out")}  # fuzzed with plain names only (run in a scratch folder)
SKIPPED_VERBS = {"serve"}  # replaces the process with the web app


def cli_verbs() -> dict[str, object]:
    """{"generate": its argparse parser, "prefs add": ..., ...}."""
    import argparse

    from playground.cli import build_parser

    found = {}

    def walk(parser, prefix):
        subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if not subs:
            found[prefix.strip()] = parser
        for action in subs:
            for name, child in action.choices.items():
                walk(child, f"{prefix} {name}")

    walk(build_parser(), "")
    return {verb: parser for verb, parser in found.items() if verb.split()[0] not in SKIPPED_VERBS}


def _argument_values(verb: str, action) -> st.SearchStrategy:
    if action.choices:
        return st.one_of(st.sampled_from(list(action.choices)), st.sampled_from(ODD_TEXT[:8]))
    if (verb, action.dest) in WRITES:
        return st.from_regex(r"[a-z][a-z0-9_-]{0,12}", fullmatch=True)
    if action.dest == "model":
        return st.one_of(st.just("tiny"), st.just("tiny"), st.sampled_from(SERVER_PATHS + ODD_TEXT[:8]))
    numbers = st.one_of(st.integers(-10, 10), st.sampled_from(["-1", "0", "nan", "inf", "1e309", "9" * 30, "abc", ""]))
    if action.type in (int, float):
        return numbers.map(str)
    return st.one_of(st.text(max_size=60), st.sampled_from(ODD_TEXT + SERVER_PATHS), st.just("sentiment"),
                     st.just("tiny"), numbers.map(str))


def cli_arguments(verb: str, parser) -> st.SearchStrategy:
    """argv lists for one verb: each option present or not, each value plausible or hostile."""
    import argparse

    parts = []
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction):
            continue
        if not action.option_strings:  # positional
            many = action.nargs in ("+", "*")
            value = st.lists(_argument_values(verb, action), min_size=1, max_size=2) if many else \
                _argument_values(verb, action).map(lambda v: [v])
            parts.append(value if action.nargs != "?" else st.one_of(st.just([]), value))
            continue
        flag = action.option_strings[-1]
        if action.nargs == 0:  # store_true
            parts.append(st.sampled_from([[], [flag]]))
            continue
        present = _argument_values(verb, action).map(lambda v, f=flag: [f, v])
        parts.append(present if action.required else st.one_of(st.just([]), present))
    return st.tuples(*parts).map(lambda chunks: verb.split() + [x for chunk in chunks for x in chunk])


def judge_cli(code: int, stderr: str) -> str | None:
    """0 (done), 2 (bad input, one line) and 130 are fine; 1 is an error no check explained."""
    if "Traceback" in stderr:
        return "a traceback was printed"
    if code == 1:
        return "an unexpected error: " + stderr.strip()[:300]
    if code not in (0, 2, 130):
        return f"exit status {code}"
    if code == 2 and not stderr.strip():
        return "refused without a message"
    return None


def fuzz_cli_verb(verb: str, parser, examples: int) -> Outcome:
    import contextlib
    import io

    from playground.cli import main

    outcome = Outcome()

    @settings(max_examples=examples, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck), phases=[Phase.generate])
    @given(cli_arguments(verb, parser))
    def attempt(argv):
        outcome.tried += 1
        err = io.StringIO()
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
            try:
                code = main(argv)
            except SystemExit as exit_:  # argparse: usage and one line
                code = exit_.code if isinstance(exit_.code, int) else 2
        problem = judge_cli(code, err.getvalue())
        if problem:
            outcome.failures.append((argv, problem))

    attempt()
    return outcome
