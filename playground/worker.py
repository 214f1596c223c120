"""`python -m playground.worker RUN_DIR`: run one recorded run to its end, in its own process.

Writes its progress to RUN_DIR/events.jsonl and its outcome to the database; the adapter (or
full model) is written to RUN_DIR/output and moved into the adapters folder only when complete,
so a crash never leaves half an adapter there. Under `accelerate launch` every process trains and
only the main one records."""

from __future__ import annotations

import shutil
import sys
import time
import traceback
from pathlib import Path

from playground.errors import PlaygroundError
from playground.settings import Settings
from playground.store import Store
from playground.jobs import STOP_FILE
from playground.training.callbacks import EventWriter, is_main_process
from playground.training.recipes import recipe_from_dict


def plain_error(err: BaseException) -> str:
    text = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    if "out of memory" in str(err).lower() or type(err).__name__ == "OutOfMemoryError":
        return ("Out of memory. Try QLoRA (a 4-bit base), LoRA instead of full fine-tuning, a smaller batch size "
                "with more gradient accumulation, or a shorter max length.")
    if isinstance(err, PlaygroundError):
        return text
    return f"{type(err).__name__}: {text}"


def execute(run: dict, settings: Settings, store: Store, callbacks: list | None = None) -> dict:
    """Train a run recorded in the store; returns its final record. Raises nothing: a failure is
    recorded as the run's status and error."""
    from playground.models import ModelManager
    from playground.training.run_card import run_record, write_run_files
    from playground.training.sft import train

    run_dir = Path(run["run_dir"])
    main = is_main_process()
    writer = EventWriter(run_dir / "events.jsonl")
    if main:
        writer.write("status", message="Starting")
    try:
        if (run_dir / STOP_FILE).exists():
            raise PlaygroundError("Stopped before it started.")
        recipe = recipe_from_dict(run["recipe"])
        source = ModelManager(settings).resolve(recipe.base_model)
        outcome = train(recipe, source, run_dir, run_dir / "output", callbacks)
        if main:
            record = run_record(run, outcome.status, outcome.metrics, outcome.trainable_params, outcome.total_params)
            write_run_files(outcome.output_dir, record)
            final = settings.adapters_dir / run["name"]
            if final.exists() and (run_dir / "overwrite").read_text().strip() == "1":
                shutil.rmtree(final)
            settings.adapters_dir.mkdir(parents=True, exist_ok=True)
            shutil.move(str(outcome.output_dir), final)
            store.update_run(run["id"], status=outcome.status, finished=time.time(), output_dir=str(final),
                             metrics=outcome.metrics)
            writer.write("done", status=outcome.status, output_dir=str(final))
    except BaseException as err:  # noqa: BLE001 - every ending is recorded
        traceback.print_exc()
        if main:
            status = "stopped" if (run_dir / STOP_FILE).exists() and isinstance(err, PlaygroundError) else "failed"
            store.update_run(run["id"], status=status, finished=time.time(), error=plain_error(err))
            writer.write("error", message=plain_error(err))
        if isinstance(err, KeyboardInterrupt):
            raise
    return store.run(run["id"])


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: python -m playground.worker RUN_DIR", file=sys.stderr)
        return 2
    settings = Settings.from_env()
    store = Store(settings.home / "playground.db")
    run = store.run(Path(argv[0]).name)
    if run is None:
        print(f"error: no run recorded for {argv[0]}", file=sys.stderr)
        return 2
    final = execute(run, settings, store)
    return 0 if final["status"] in ("finished", "stopped") else 1


if __name__ == "__main__":
    raise SystemExit(main())
