"""What the Settings tab shows: where state lives, the device and its memory, the versions of the
libraries that matter, and a health check that tries each thing the app depends on."""

from __future__ import annotations

import importlib.metadata
import platform
import shutil
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from playground.settings import Settings
from playground.zero_gpu import on_zero_gpu

LIBRARIES = ("torch", "transformers", "peft", "trl", "datasets", "accelerate", "bitsandbytes", "evaluate", "lm-eval",
             "gradio", "huggingface_hub")


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


def versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in LIBRARIES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def device() -> dict[str, str]:
    import psutil
    import torch

    memory = psutil.virtual_memory()
    out = {"CPU": f"{psutil.cpu_count(logical=True)} cores, {memory.total / 2**30:.1f} GiB memory "
                  f"({memory.available / 2**30:.1f} GiB free)"}
    if on_zero_gpu():  # torch is patched here to say a GPU exists; the whole note is at the top of the page
        out["GPU"] = "ZeroGPU: lent to the Prompt and Decoding Labs for each request; runs use the CPU"
    elif torch.cuda.is_available():
        for index in range(torch.cuda.device_count()):
            free, total = torch.cuda.mem_get_info(index)
            out[f"GPU {index}"] = (f"{torch.cuda.get_device_name(index)}, {total / 2**30:.1f} GiB "
                                   f"({free / 2**30:.1f} GiB free), CUDA {torch.version.cuda}")
    else:
        out["GPU"] = "none: training and generation run on the CPU (small models only)"
    return out


def hub_cache() -> Path:
    from huggingface_hub import constants

    return Path(constants.HF_HUB_CACHE)


def storage(settings: Settings) -> dict[str, str]:
    def size(path: Path) -> str:
        return f"{path.stat().st_size / 2**20:,.1f} MB" if path.is_file() else "not created yet"

    free = shutil.disk_usage(settings.home if settings.home.exists() else Path.home()).free
    cached = sorted(p.name.removeprefix("models--").replace("--", "/") for p in hub_cache().glob("models--*"))
    return {
        "home folder": f"{settings.home} ({free / 2**30:,.1f} GiB free on its disk)",
        "database": f"{settings.db_path} ({size(settings.db_path)})",
        "adapters folder": str(settings.adapters_dir),
        "model cache": f"{hub_cache()} ({len(cached)} models{': ' + ', '.join(cached[:8]) if cached else ''}"
                       f"{', …' if len(cached) > 8 else ''})",
    }


def health_check(settings: Settings, models, show_paths: bool = True) -> list[Check]:
    """Each thing the app depends on, tried for real (a few seconds): the database takes a write,
    the home folder has room, the built-in model answers, the Hub can be reached. Without
    `show_paths` (a visitor of a demo) no folder or error text of the server is shown."""
    from playground.models import hub_reachable
    from playground.store import Store

    checks = []
    try:
        store = Store(settings.db_path)
        with store.transaction() as db:
            db.execute("CREATE TEMP TABLE health (x TEXT)")
            db.execute("INSERT INTO health VALUES (?)", (uuid.uuid4().hex,))
        with store.reading() as db:
            integrity = db.execute("PRAGMA quick_check").fetchone()[0]
        checks.append(Check("database", integrity == "ok", f"takes writes; integrity check: {integrity}"))
    except Exception as err:  # noqa: BLE001 - a check reports, it does not fail
        checks.append(Check("database", False, f"{type(err).__name__}: {err}" if show_paths else "does not take writes"))
    free = shutil.disk_usage(settings.home).free if settings.home.exists() else 0
    where = f" in {settings.home}" if show_paths else " for the app's data"
    checks.append(Check("disk", free > 1 * 2**30, f"{free / 2**30:,.1f} GiB free{where}"
                        + ("" if free > 1 * 2**30 else ": under 1 GiB, saving adapters and labels may fail")))
    try:
        start = time.perf_counter()
        tokenizer, window = models.tokenizer("tiny")
        checks.append(Check("models", True, f"the built-in tiny model's tokenizer loads ({len(tokenizer):,} tokens, "
                            f"{window:,}-token window) in {time.perf_counter() - start:.1f} s"))
    except Exception as err:  # noqa: BLE001
        checks.append(Check("models", False, f"the built-in tiny model does not load: {err}"))
    online = hub_reachable(settings)
    checks.append(Check("Hugging Face Hub", online, "reachable" if online else
                        "not reachable (offline or HF_HUB_OFFLINE): only cached models, built-in sets and uploads work"))
    checks.append(Check("python", sys.version_info >= (3, 10), sys.version.split()[0]))
    return checks
