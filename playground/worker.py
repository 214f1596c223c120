"""`python -m playground.worker RUN_DIR`: run one recorded run to its end, in its own process,
whatever its kind.

The kind's run function writes progress to RUN_DIR/events.jsonl; the worker records the outcome
in the database. A kind with a folder output writes it to RUN_DIR/output; the worker publishes it
into the adapters folder only when complete, so a crash never leaves half a result there, and a
result never lands inside another folder. Under `accelerate launch` every process runs and only
the main one records."""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
import traceback
from pathlib import Path

from playground import kinds
from playground.errors import PlaygroundError
from playground.runs import EVENTS_FILE, META_FILE, EventWriter, RunStatus, StopWatcher, is_main_process
from playground.settings import Settings
from playground.store import Store


def plain_error(err: BaseException) -> str:
    text = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    if "out of memory" in str(err).lower() or type(err).__name__ == "OutOfMemoryError":
        return ("Out of memory. Try QLoRA (a 4-bit base), LoRA instead of full fine-tuning, a smaller batch size "
                "with more gradient accumulation, or a shorter max length.")
    if isinstance(err, PlaygroundError):
        return text
    return f"{type(err).__name__}: {text}"


class StoppedBeforeStart(PlaygroundError):
    pass


def publish(output_dir: Path, adapters_dir: Path, name: str, overwrite: bool, run_id: str) -> Path:
    """Move a complete result to adapters/<name>. It is copied beside its destination first, then
    renamed in one step: a rename onto an existing folder fails instead of nesting inside it. If
    the name was taken meanwhile (and not to be overwritten), the result keeps a unique name."""
    adapters_dir.mkdir(parents=True, exist_ok=True)
    staging = adapters_dir / f".{name}.{run_id}.partial"
    shutil.rmtree(staging, ignore_errors=True)
    try:
        shutil.move(str(output_dir), staging)  # staging does not exist: this moves, never nests
    except OSError as err:  # e.g. a full disk while copying to another file system: nothing half-written stays
        shutil.rmtree(staging, ignore_errors=True)
        raise PlaygroundError(f"Could not write the result into {adapters_dir}: {err.strerror or err}. The trained "
                              f"result is kept in {output_dir}; free some space and copy it there.") from err
    final = adapters_dir / name
    if overwrite and final.is_dir():
        retired = adapters_dir / f".{name}.{run_id}.replaced"
        os.rename(final, retired)
        shutil.rmtree(retired, ignore_errors=True)
    for candidate in (final, adapters_dir / f"{name}-{run_id[-6:]}"):
        try:
            os.rename(staging, candidate)
            return candidate
        except OSError:
            continue
    raise PlaygroundError(f"Could not move the result into {adapters_dir}: {name} is taken. It is kept at {staging}.")


def quiet_progress_bars() -> None:
    """The libraries' own bars ("Loading weights", "Writing model shards", "Map") would fill the run's
    log, whose last lines the Fine-tune tab shows; the run's progress is its events."""
    import datasets
    import huggingface_hub
    import transformers

    transformers.utils.logging.disable_progress_bar()
    huggingface_hub.utils.disable_progress_bars()
    datasets.disable_progress_bars()


def execute(run: dict, settings: Settings, store: Store) -> dict:
    """Run a recorded run; returns its final record. Raises nothing: a failure is recorded as the
    run's status and error."""
    from playground.attention import avoid_cudnn_attention

    avoid_cudnn_attention()  # every kind's model, trained or evaluated, runs in this process
    quiet_progress_bars()
    run_dir = Path(run["run_dir"])
    main = is_main_process()
    writer = EventWriter(run_dir / EVENTS_FILE)
    stop = StopWatcher(run_dir)
    if main:
        writer.write("status", message="Starting")
    try:
        if stop.requested:
            raise StoppedBeforeStart("Stopped before it started: nothing was trained or saved.")
        kind = kinds.get(run["kind"])
        recipe = kind.recipe_class.from_dict(run["recipe"])
        resume = bool(_meta(run_dir).get("resume"))
        ctx = kinds.RunContext(run_id=run["id"], name=run["name"], run_dir=run_dir, settings=settings,
                               writer=writer, stop=stop.event, resume=resume,
                               carried=(run.get("metrics") or {}) if resume else {})
        outcome = kind.run(recipe, ctx)
        if main:
            # error None: the run's own ending replaces anything a monitor concluded meanwhile
            fields = {"status": outcome.status, "finished": time.time(), "metrics": outcome.metrics, "error": None}
            if kind.output.has_folder:
                record = _record(run, kind, outcome)
                if kind.write_card:
                    kind.write_card(ctx.output_dir, record)
                final = publish(ctx.output_dir, settings.adapters_dir, run["name"], _overwrite(run_dir), run["id"])
                fields["output_dir"] = str(final)
                if final.name != run["name"]:
                    fields["error"] = f"'{run['name']}' was taken while this run ran: the result is saved as '{final.name}'."
            else:
                fields["result"] = outcome.record
            store.update_run(run["id"], **fields)
            if outcome.status == RunStatus.FINISHED.value:  # nothing left to resume: free the disk (optimizer state too)
                shutil.rmtree(run_dir / "checkpoints", ignore_errors=True)
            writer.write("done", status=outcome.status, output_dir=fields.get("output_dir"))
    except BaseException as err:
        if not isinstance(err, PlaygroundError):
            traceback.print_exc()
        else:
            print(f"error: {err}", file=sys.stderr)
        if main:
            if isinstance(err, StoppedBeforeStart):
                status = RunStatus.CANCELLED
            elif stop.requested and isinstance(err, PlaygroundError):
                status = RunStatus.STOPPED
            else:
                status = RunStatus.FAILED
            store.update_run(run["id"], status=status.value, finished=time.time(), error=plain_error(err))
            writer.write("error", message=plain_error(err), status=status.value)
        if isinstance(err, KeyboardInterrupt):
            raise
    return store.run(run["id"])


def _meta(run_dir: Path) -> dict:
    try:
        return json.loads((run_dir / META_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _overwrite(run_dir: Path) -> bool:
    return bool(_meta(run_dir).get("overwrite"))


def _record(run: dict, kind, outcome) -> dict:
    """run.json of a published result: what made it and what it is."""
    from playground import __version__

    return {"name": run["name"], "run_id": run["id"], "kind": kind.name, "output": kind.output.value,
            "method": run.get("method"), "base_model": run.get("base_model"), "status": outcome.status,
            **outcome.record, "metrics": outcome.metrics, "recipe": run["recipe"], "created": run["created"],
            "created_by": run.get("created_by", ""),
            "finished": time.time(), "playground_version": __version__}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: python -m playground.worker RUN_DIR", file=sys.stderr)
        return 2
    settings = Settings.from_env()
    store = Store(settings.db_path)
    run = store.run(Path(argv[0]).name)
    if run is None:
        print(f"error: no run recorded for {argv[0]}", file=sys.stderr)
        return 2
    final = execute(run, settings, store)
    return 0 if final["status"] in (RunStatus.FINISHED, RunStatus.STOPPED) else 1


if __name__ == "__main__":
    raise SystemExit(main())
