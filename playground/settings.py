"""Settings read once from the environment: where state lives, which model is the default."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_MODEL = "HuggingFaceTB/SmolLM2-135M-Instruct"


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class Settings:
    home: Path  # every database, run folder, log and built tiny model lives under here
    adapters_dir: Path
    default_model: str
    hub_offline: bool  # HF_HUB_OFFLINE: never try the network
    host: str
    port: int

    @classmethod
    def from_env(cls) -> Settings:
        home = Path(os.environ.get("PLAYGROUND_HOME", Path.home() / ".llm-playground")).expanduser()
        adapters = Path(os.environ.get("PLAYGROUND_ADAPTERS", PROJECT_ROOT / "adapters")).expanduser()
        return cls(
            home=home,
            adapters_dir=adapters,
            default_model=os.environ.get("PLAYGROUND_MODEL", DEFAULT_MODEL),
            hub_offline=_truthy(os.environ.get("HF_HUB_OFFLINE")),
            host=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"),
            port=int(os.environ.get("GRADIO_SERVER_PORT", os.environ.get("PORT", "7860"))),
        )

    def ensure_dirs(self) -> None:
        for folder in (self.home, self.adapters_dir, self.models_dir):
            folder.mkdir(parents=True, exist_ok=True)

    @property
    def db_path(self) -> Path:
        """The SQLite database of runs, labels and results."""
        return self.home / "playground.db"

    @property
    def models_dir(self) -> Path:
        return self.home / "models"
