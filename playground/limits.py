"""Caps on what one request may ask for, and a per-visitor rate limit: refused before any work starts.

The caps are the process's (`PLAYGROUND_DEMO` picks the demo's, each can be set with
`PLAYGROUND_LIMIT_<NAME>`); the app's workers inherit them with the environment. The library checks
them where the work is described (DecodingParams, prompts, recipes), so the page, the API and the CLI
meet the same numbers."""

from __future__ import annotations

import dataclasses
import math
import os
import threading
import time
from dataclasses import dataclass

from playground.errors import PlaygroundError
from playground.settings import Settings


@dataclass(frozen=True)
class Limits:
    prompt_chars: int  # one prompt, as typed or built from examples
    new_tokens: int  # max new tokens of one generation
    samples: int  # completions of one "sample N" request
    upload_mb: int  # one uploaded file (Gradio refuses a bigger one before reading it)
    train_steps: int  # optimizer steps of one training run (epochs are counted in steps by the trainer)
    train_epochs: int
    eval_examples: int  # examples per task of one evaluation
    requests_per_minute: int  # model requests of one visitor (0: no limit)
    model_mb: int  # the safetensors weights of a Hub model a request may load (checked in demo mode)

    def check(self, value: float, cap_name: str, what: str) -> None:
        cap = getattr(self, cap_name)
        if value > cap:
            raise PlaygroundError(f"{what} is {value:,}; the limit here is {cap:,}. Ask for less"
                                  + (" (this is a public demo: run the app yourself for more)." if demo_mode() else "."))


LOCAL = Limits(prompt_chars=400_000, new_tokens=8192, samples=32, upload_mb=200, train_steps=10_000_000,
               train_epochs=1_000, eval_examples=5_000, requests_per_minute=0, model_mb=10_000_000)
DEMO = Limits(prompt_chars=8_000, new_tokens=256, samples=8, upload_mb=20, train_steps=2_000, train_epochs=20,
              eval_examples=200, requests_per_minute=30, model_mb=4_000)


def demo_mode() -> bool:
    """Whether this process is a demo (PLAYGROUND_DEMO, inherited by the app's workers)."""
    return Settings.from_env().demo


def current() -> Limits:
    """The limits of this process: the demo's or local ones, each overridable by PLAYGROUND_LIMIT_<NAME>."""
    base = DEMO if demo_mode() else LOCAL
    changed = {}
    for field in dataclasses.fields(Limits):
        text = os.environ.get(f"PLAYGROUND_LIMIT_{field.name.upper()}")
        if text:
            try:
                changed[field.name] = int(text)
            except ValueError:
                raise PlaygroundError(f"PLAYGROUND_LIMIT_{field.name.upper()} must be a whole number (got '{text}').") from None
    return dataclasses.replace(base, **changed)


class RateLimiter:
    """A token bucket per key: `per_minute` on average, up to `burst` at once."""

    def __init__(self, per_minute: float, burst: int, what: str = "requests"):
        self.rate = per_minute / 60.0
        self.burst = burst
        self.what = what
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, when)
        self._lock = threading.Lock()

    def take(self, key: str) -> None:
        """Count one request of `key`; raises (counting nothing) when its bucket is empty."""
        self._spend(key, 1)

    def check(self, key: str) -> None:
        """Raise as `take` would, without counting anything."""
        self._spend(key, 0)

    def _spend(self, key: str, cost: int) -> None:
        if self.rate <= 0:
            return
        now = time.monotonic()
        with self._lock:
            tokens, when = self._buckets.get(key, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - when) * self.rate)
            if tokens < 1:
                self._buckets[key] = (tokens, now)
                wait = math.ceil((1 - tokens) / self.rate)
                raise PlaygroundError(f"Too many {self.what} in a short time: wait {wait} s and try again "
                                      f"(at most {self.rate * 60:g} a minute here, so everyone gets a turn).")
            self._buckets[key] = (tokens - cost, now)
            if len(self._buckets) > 10_000:  # forget the idlest keys (each is refilled by now)
                for stale in sorted(self._buckets, key=lambda k: self._buckets[k][1])[:5_000]:
                    del self._buckets[stale]
