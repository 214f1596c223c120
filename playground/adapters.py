"""The adapters folder: list, rename, delete, merge a LoRA into its base, push to the Hub.

Each entry is a folder written by a finished run: PEFT adapter files (or a full model) plus
run.json and a model card (README.md)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from playground.errors import PlaygroundError
from playground.runs import ACTIVE, check_name


def read_record(folder: Path) -> dict:
    try:
        return json.loads((folder / "run.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def write_record(folder: Path, record: dict) -> None:
    """Replace a result's run.json in one step (a crash leaves the old one or the new one)."""
    tmp = Path(folder) / "run.json.tmp"
    tmp.write_text(json.dumps(record, indent=2), encoding="utf-8")
    tmp.replace(Path(folder) / "run.json")


def list_adapters(adapters_dir: Path) -> list[dict]:
    """Every result folder, newest first, with its run.json fields and whether it is a PEFT adapter."""
    out = []
    if not adapters_dir.exists():
        return out
    for folder in adapters_dir.iterdir():
        if not folder.is_dir() or folder.name.startswith("."):  # a result being published, or one being replaced
            continue
        record = read_record(folder)
        is_adapter = (folder / "adapter_config.json").exists()
        if not record and not is_adapter and not (folder / "config.json").exists():
            continue
        out.append({"name": folder.name, "path": str(folder), "is_adapter": is_adapter,
                    # what its run kind produced: a generation model or adapter, or a reward model (kinds.Output)
                    "output": record.get("output", "adapter"),
                    "method": record.get("method", "lora" if is_adapter else "full"),
                    "base_model": record.get("base_model", adapter_base(folder)),
                    "status": record.get("status", ""), "trainable_params": record.get("trainable_params"),
                    "metrics": record.get("metrics", {}), "finished": record.get("finished", folder.stat().st_mtime),
                    "created_by": record.get("created_by", "")})
    return sorted(out, key=lambda a: a["finished"] or 0, reverse=True)


def for_generation(items: list[dict]) -> list[dict]:
    """The PEFT adapters the labs can generate with: never a reward model (a scalar head, no text)."""
    return [a for a in items if a["is_adapter"] and a["output"] == "adapter"]


def made_from(item: dict, base_names: set[str], base_shape: tuple | None = None) -> bool:
    """Whether a result was trained from the base model known by any of `base_names` (as typed and as
    loaded from: 'tiny' and its folder, a Hub id, a folder; ModelManager.base_names), or from a local
    folder of the same architecture and sizes as the base (`base_shape`: the same tiny model built in
    another home folder). A result whose base was not recorded is kept."""
    recorded = {item.get("base_model") or ""}
    if item.get("is_adapter"):
        recorded.add(adapter_base(Path(item["path"])))
    recorded = {_comparable(name) for name in recorded if name}
    if not recorded or recorded & {_comparable(name) for name in base_names if name}:
        return True
    return base_shape is not None and any(shape_of(name) == base_shape for name in recorded if name.startswith("/"))


SHAPE_KEYS = ("model_type", "vocab_size", "hidden_size", "d_model", "num_hidden_layers", "num_layers",
              "intermediate_size", "d_ff", "num_attention_heads", "num_heads")


def shape_of(folder: str | Path) -> tuple | None:
    """A local model folder's architecture and sizes (its config.json), which an adapter's layers
    must match; None where there is no readable config."""
    try:
        config = json.loads((Path(folder).expanduser() / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return tuple(config.get(key) for key in SHAPE_KEYS) if isinstance(config, dict) else None


def _comparable(name: str) -> str:
    """A folder by its full path (typed as ./m or ~/m or /x/m), anything else (a Hub id, 'tiny') as is."""
    name = str(name).strip()
    return str(Path(name).expanduser().resolve()) if name.startswith(("/", ".", "~")) else name


def reward_models(items: list[dict]) -> list[dict]:
    """The reward models among the results (they score text; the RLHF tab trains and uses them)."""
    return [a for a in items if a["output"] == "reward_model"]


def adapter_base(folder: Path) -> str:
    try:
        return json.loads((folder / "adapter_config.json").read_text())["base_model_name_or_path"]
    except (OSError, ValueError, KeyError):
        return ""


def find(adapters_dir: Path, name: str) -> Path:
    check_name(name)
    folder = adapters_dir / name
    if not folder.is_dir():
        raise PlaygroundError(f"No adapter named '{name}' in {adapters_dir}.")
    return folder


def rename(adapters_dir: Path, old: str, new: str, store=None) -> Path:
    """Rename a result folder. With the app's store, a name that a queued or running run will
    write to is refused, checked in the same transaction as the rename (a run's result must never
    land inside another folder)."""
    folder = find(adapters_dir, old)
    check_name(new)
    target = adapters_dir / new
    if store is None:
        _rename(folder, target)
    else:
        with store.transaction() as db:
            held = db.execute("SELECT status FROM runs WHERE name = ? AND output != 'result' AND status IN (?, ?)",
                              (new, *map(str, ACTIVE))).fetchone()
            if held:
                raise PlaygroundError(f"A {held['status']} run will write its result as '{new}': choose another name.")
            _rename(folder, target)
    record = read_record(target)
    if record:
        record["name"] = new
        (target / "run.json").write_text(json.dumps(record, indent=2), encoding="utf-8")
    return target


def _rename(folder: Path, target: Path) -> None:
    if target.exists():
        raise PlaygroundError(f"'{target.name}' already exists: choose another name.")
    folder.rename(target)


def delete(adapters_dir: Path, name: str) -> None:
    shutil.rmtree(find(adapters_dir, name))


def check_mergeable(adapters_dir: Path, name: str) -> Path:
    """The folder of a LoRA adapter that can be folded into its base, or a PlaygroundError."""
    folder = find(adapters_dir, name)
    record = read_record(folder)
    from playground.training.recipes import RECIPES

    method = RECIPES.get(record.get("method", "lora"))
    if not (method and method.mergeable) or not (folder / "adapter_config.json").exists():
        raise PlaygroundError(f"'{name}' is a {record.get('method')} result: only LoRA adapters can be merged "
                              "(soft prompts and full models have nothing to fold in).")
    return folder


def merge_into(folder: Path, base_source: str, target: Path) -> None:
    """Fold the LoRA adapter at `folder` into its base weights and save the full model at `target`."""
    import transformers
    from peft import PeftModel

    from playground.models import auto_model_class, source_config

    base = getattr(transformers, auto_model_class(source_config(base_source))).from_pretrained(base_source,
                                                                                            use_safetensors=True)
    merged = PeftModel.from_pretrained(base, folder).merge_and_unload()
    merged.save_pretrained(target)
    transformers.AutoTokenizer.from_pretrained(folder).save_pretrained(target)


def merge(adapters_dir: Path, name: str, base_source: str, merged_name: str) -> Path:
    """Merge in this process, into adapters/<merged_name> (the app runs it as a background run: merge_kind)."""
    folder = check_mergeable(adapters_dir, name)
    check_name(merged_name)
    target = adapters_dir / merged_name
    if target.exists():
        raise PlaygroundError(f"'{merged_name}' already exists: choose another name.")
    tmp = adapters_dir / f".{merged_name}.partial"
    shutil.rmtree(tmp, ignore_errors=True)
    merge_into(folder, base_source, tmp)
    record = read_record(folder)
    if record:
        (tmp / "run.json").write_text(json.dumps(record | {"name": merged_name, "method": "full",
                                                           "merged_from": name}, indent=2), encoding="utf-8")
    tmp.rename(target)
    return target


def push_to_hub(adapters_dir: Path, name: str, repo_id: str, token: str | None, private: bool = True) -> str:
    folder = find(adapters_dir, name)
    if not token:
        raise PlaygroundError("Set a Hugging Face token (HF_TOKEN) with write access to push.")
    from huggingface_hub import HfApi

    try:
        api = HfApi(token=token)
        api.create_repo(repo_id, private=private, exist_ok=True)
        api.upload_folder(folder_path=str(folder), repo_id=repo_id, ignore_patterns=["test.jsonl"])
    except Exception as err:
        raise PlaygroundError(f"Could not push to {repo_id}: {str(err).splitlines()[0]}") from err
    return f"https://huggingface.co/{repo_id}"
