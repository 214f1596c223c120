"""Who may do what, decided here for every caller (the page, the API, a timer's fn_index alike).

- Local use (the default): whoever can open the page can do everything, as before.
- Demo mode (`PLAYGROUND_DEMO=1`, on by default on a Space) or team logins (`PLAYGROUND_USERS`):
  anyone may prompt, decode, evaluate and label; the actions in ADMIN_ACTIONS need an admin. An admin
  is a login name in `PLAYGROUND_ADMINS` (a Hugging Face username on a Space), a team login whose role
  is admin, or a session that gave `PLAYGROUND_ADMIN_TOKEN`.
- In demo mode no request reads the server's own files: a typed path is refused with one message,
  whether or not the file exists; only uploads (in Gradio's upload folder) and Hub ids are read.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import tempfile
import threading
import time
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from playground.errors import PlaygroundError
from playground.limits import RateLimiter, demo_mode
from playground.settings import Settings


class Role(StrEnum):
    ADMIN = "admin"
    ANNOTATOR = "annotator"  # a team login that labels and evaluates
    VISITOR = "visitor"  # anyone else on a demo


# What needs an admin where access is restricted; the value completes "Only an admin can ...".
ADMIN_ACTIONS = {
    "train": "start training runs",
    "stop": "stop runs",
    "resume": "resume runs",
    "remove": "remove runs",
    "rename": "rename adapters",
    "merge": "merge adapters",
    "push": "push to the Hugging Face Hub",
    "delete": "delete adapters",
    "import": "import preference data",
    "guidelines": "change the labeling guidelines",
    "rescore": "score a run's replies again (it changes the run's record)",
    "trust": "allow a model to run its own code",
}

DEMO_FILES = ("This demo reads no files of its server: upload the file, or give a Hub id (owner/name).")
DEMO_MODELS = ("This demo loads no model folders of its server: pick a model from the menu or type a Hub id "
               "(owner/name).")
_HUB_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*(/[A-Za-z0-9][A-Za-z0-9_.-]*)?")


@dataclass(frozen=True)
class Visitor:
    key: str  # one per person, for limits and records: "user:<name>", else "ip:<address>"
    name: str | None  # the login name, when logged in
    role: Role
    session: str = ""  # Gradio's session of the page or API client
    label: str = ""  # who made something, as records keep it and tables show it (never an address)

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN


def parse_users(text: str) -> dict[str, tuple[str, Role]]:
    """`PLAYGROUND_USERS` ("ana:secret:admin, bo:pw" -> role annotator unless given) as {name: (password, role)}."""
    users = {}
    for item in filter(None, (part.strip() for part in (text or "").split(","))):
        name, _, rest = item.partition(":")
        password, _, role = rest.partition(":")
        if not name or not password:
            raise PlaygroundError(f"PLAYGROUND_USERS: '{name or item}' needs name:password[:role].")
        try:
            users[name] = (password, Role(role or Role.ANNOTATOR.value))
        except ValueError:
            raise PlaygroundError(f"PLAYGROUND_USERS: the role of '{name}' is '{role}'; use admin or annotator.") from None
    return users


class Access:
    """The app's one policy object: built from Settings at start-up, asked by every handler."""

    WRONG_TOKENS_PER_MINUTE = 10  # per address: guessing is slow, and nobody can lock the admin out
    UNLOCK_HOURS = 12

    def __init__(self, settings: Settings):
        self.demo = settings.demo
        self.users = parse_users(settings.users)
        self.restricted = settings.demo or bool(self.users)
        self._admins = set(settings.admins)
        self._token = settings.admin_token
        self._unlocked: dict[str, float] = {}  # session -> when it gave the token
        self._lock = threading.Lock()
        self._wrong_tokens = RateLimiter(per_minute=self.WRONG_TOKENS_PER_MINUTE, burst=self.WRONG_TOKENS_PER_MINUTE,
                                         what="wrong admin tokens")

    # ---- who is asking ----
    def visitor(self, name: str | None = None, session: str | None = None, address: str | None = None) -> Visitor:
        key = f"user:{name}" if name else f"ip:{address or 'unknown'}"
        session = session or ""
        if not self.restricted or (name and name in self._admins):
            role = Role.ADMIN
        elif name in self.users:
            role = self.users[name][1]
        else:
            role = Role.VISITOR
        with self._lock:
            if session and time.time() - self._unlocked.get(session, 0.0) < self.UNLOCK_HOURS * 3600:
                role = Role.ADMIN
        # An anonymous visitor is one browser tab (its session): what it started is its own, shown
        # without its address. Locally, whoever opens the page is the owner.
        anonymous = "visitor-" + hashlib.sha256((session or key).encode()).hexdigest()[:8] if self.restricted else "page"
        return Visitor(key=key, name=name, role=role, session=session, label=name or anonymous)

    def check_password(self, name: str, password: str) -> bool:
        """Gradio's login form, when team logins are configured."""
        entry = self.users.get(name)
        return entry is not None and hmac.compare_digest(entry[0].encode(), (password or "").encode())

    @property
    def token_set(self) -> bool:
        return bool(self._token)

    def unlock(self, session: str, token: str, who: str = "") -> str:
        """An admin token typed into the page (or sent by an API client) makes that session an admin
        for UNLOCK_HOURS. `who` (the visitor's key) may give a few wrong tokens a minute."""
        if not self.restricted:
            return "Everyone who can open this app is an admin here (local mode)."
        if not self._token:
            raise PlaygroundError("This app has no admin token (its owner can set PLAYGROUND_ADMIN_TOKEN).")
        if not session:
            raise PlaygroundError("No session to unlock: reload the page and try again.")
        self._wrong_tokens.check(who)  # after too many wrong ones, not even compared
        if not hmac.compare_digest(self._token.encode(), (token or "").strip().encode()):
            self._wrong_tokens.take(who)
            raise PlaygroundError("That is not the admin token.")
        with self._lock:
            self._unlocked[session] = time.time()
        return (f"You are an admin in this browser tab for {self.UNLOCK_HOURS} hours (or until the app restarts).")

    # ---- what they may do ----
    def require_admin(self, visitor: Visitor, action: str) -> None:
        if visitor.is_admin:
            return
        what = ADMIN_ACTIONS[action]
        if self._token or self._admins or any(role is Role.ADMIN for _, role in self.users.values()):
            how = "log in as an admin, or unlock with the admin token at the top of the page"
        else:
            how = "this app has no admin yet: its owner sets PLAYGROUND_ADMIN_TOKEN or PLAYGROUND_ADMINS"
        raise PlaygroundError(f"Only an admin can {what} here ({self.mode_name()}): {how}.")

    def require_admin_or_owner(self, visitor: Visitor, owner: str, action: str) -> None:
        """An admin, or whoever started the run (a visitor may stop their own evaluation)."""
        if self.restricted and owner and owner == visitor.label:
            return
        self.require_admin(visitor, action)

    def mode_name(self) -> str:
        if self.demo:
            return "demo mode"
        return "team mode" if self.users else "local mode"


# ---- the server's files (process-wide: PLAYGROUND_DEMO is inherited by the app's own workers) ----
def upload_root(resolved: bool = True) -> Path:
    """Where Gradio keeps uploaded files (GRADIO_TEMP_DIR, else <temp>/gradio); as named, or resolved."""
    named = Path(os.path.abspath(os.environ.get("GRADIO_TEMP_DIR") or Path(tempfile.gettempdir()) / "gradio"))
    return named.resolve() if resolved else named


def check_typed_path(value: str | Path) -> None:
    """A file named by a request: in demo mode only an upload may be read. Nothing about the file
    (not even whether it exists) is looked at before the refusal."""
    if not demo_mode():
        return
    text = str(value)
    if any(ord(ch) < 32 for ch in text) or ".." in Path(text).parts:
        raise PlaygroundError(DEMO_FILES)
    path = Path(os.path.abspath(text))  # the text alone decides; the file is looked at only inside the root
    root = upload_root()
    if not (path.is_relative_to(root) or path.is_relative_to(upload_root(resolved=False))) \
            or not path.resolve().is_relative_to(root):
        raise PlaygroundError(DEMO_FILES)


def is_file(path: str | Path) -> bool:
    """Whether a path a person typed names a file: an impossible name (too long, a NUL) is no file."""
    try:
        return Path(path).expanduser().is_file()
    except (OSError, ValueError):
        return False


def is_dir(path: str | Path) -> bool:
    try:
        return Path(path).expanduser().is_dir()
    except (OSError, ValueError):
        return False


def is_local_folder(value: str) -> bool:
    """Whether typed data text names a folder here (read by `datasets` as a dataset, no Hub needed);
    never looked for in demo mode."""
    return not demo_mode() and is_dir(Path(str(value)).expanduser())


def names_local_data(value: str, suffixes) -> bool:
    """Whether typed data text names a local file rather than a Hub dataset (or a local folder that
    `datasets` reads as one): it ends in one of the data `suffixes`, or a file of that name exists
    (never looked for in demo mode, where a server path is refused either way)."""
    return str(value).lower().endswith(tuple(suffixes)) or (not demo_mode() and is_file(Path(value).expanduser()))


def client_address(forwarded_for: str | None, peer: str | None, trusted_proxies: int) -> str | None:
    """Who is asking, for rate limits: the address the outermost trusted proxy saw. Each proxy
    appends the address it received from to X-Forwarded-For, so entries left of those are whatever
    the client chose to send (taking the first would let anyone pose as a new visitor per request)."""
    entries = [part.strip() for part in (forwarded_for or "").split(",") if part.strip()]
    if trusted_proxies <= 0 or not entries:
        return peer
    return entries[max(0, len(entries) - trusted_proxies)]


def check_hub_id(value: str, message: str = DEMO_FILES) -> None:
    """In demo mode, text that names something to fetch must be a Hub id (never a path)."""
    if demo_mode() and not _HUB_ID.fullmatch((value or "").strip()):
        raise PlaygroundError(message)
