"""Settings read once from the environment: where state lives, which model is the default, who may
do what (demo mode, admins, team logins) and the limits a visitor's requests must keep to."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_MODEL = "HuggingFaceTB/SmolLM2-135M-Instruct"


SPACE_DATA = Path("/data")  # a Hugging Face Space's persistent storage, when the Space has it


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}


def _falsy(value: str | None) -> bool:
    return (value or "").strip().lower() in {"0", "false", "no", "off"}


def _names(value: str | None) -> tuple[str, ...]:
    return tuple(sorted({name.strip() for name in (value or "").split(",") if name.strip()}))


def _whole(text: str, name: str, minimum: int = 1) -> int:
    try:
        value = int(text)
    except ValueError:
        value = minimum - 1
    if value < minimum:
        from playground.errors import PlaygroundError

        raise PlaygroundError(f"{name} must be a whole number of at least {minimum} (got '{text}').")
    return value


def _default_home(on_space: bool) -> Path:
    """On a Space, state goes to the persistent /data when it exists (else it is lost at each restart)."""
    if on_space and SPACE_DATA.is_dir() and os.access(SPACE_DATA, os.W_OK):
        return SPACE_DATA / "llm-playground"
    return Path.home() / ".llm-playground"


@dataclass(frozen=True)
class Settings:
    home: Path  # every database, run folder, log and built tiny model lives under here
    adapters_dir: Path
    default_model: str
    hub_offline: bool  # HF_HUB_OFFLINE: never try the network
    host: str
    port: int
    # Demo mode: anyone may prompt, decode, evaluate and label; training, stopping, deleting, renaming,
    # merging and pushing need an admin, and the server's own files are never read for a request.
    demo: bool = False
    on_space: bool = False  # running as a Hugging Face Space (SYSTEM=spaces and SPACE_ID set)
    admins: tuple[str, ...] = ()  # login names (Hugging Face usernames on a Space) that are admins
    admin_token: str = field(default="", repr=False)  # typed into the page (or sent by an API client) to be an admin
    users: str = field(default="", repr=False)  # "name:password[:role], ...": the app asks everyone to log in
    model_slots: int = 2  # models kept loaded at once (fewer when memory would not hold the next)
    # proxies in front of the app that append the address they saw to X-Forwarded-For (a Space: 1);
    # visitors are told apart (for rate limits) by the address the outermost of them saw
    trusted_proxies: int = 0

    @classmethod
    def from_env(cls) -> Settings:
        on_space = os.environ.get("SYSTEM") == "spaces" and bool(os.environ.get("SPACE_ID"))  # as Spaces set them
        home = Path(os.environ.get("PLAYGROUND_HOME") or _default_home(on_space)).expanduser()
        # On a Space the project folder is rebuilt at each restart: adapters live with the rest of the state.
        adapters = Path(os.environ.get("PLAYGROUND_ADAPTERS") or (home / "adapters" if on_space
                                                                  else PROJECT_ROOT / "adapters")).expanduser()
        demo_switch = os.environ.get("PLAYGROUND_DEMO")
        return cls(
            home=home,
            adapters_dir=adapters,
            default_model=os.environ.get("PLAYGROUND_MODEL", DEFAULT_MODEL),
            hub_offline=_truthy(os.environ.get("HF_HUB_OFFLINE")),
            host=os.environ.get("GRADIO_SERVER_NAME", "0.0.0.0" if on_space else "127.0.0.1"),
            port=int(os.environ.get("GRADIO_SERVER_PORT", os.environ.get("PORT", "7860"))),
            demo=_truthy(demo_switch) or (on_space and not _falsy(demo_switch)),
            on_space=on_space,
            admins=_names(os.environ.get("PLAYGROUND_ADMINS")),
            admin_token=os.environ.get("PLAYGROUND_ADMIN_TOKEN", "").strip(),
            users=os.environ.get("PLAYGROUND_USERS", ""),
            model_slots=_whole(os.environ.get("PLAYGROUND_MODEL_SLOTS", "2"), "PLAYGROUND_MODEL_SLOTS"),
            trusted_proxies=_whole(os.environ.get("PLAYGROUND_TRUSTED_PROXIES", "1" if on_space else "0"),
                                   "PLAYGROUND_TRUSTED_PROXIES", minimum=0),
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
