"""The running app's queue API spoken directly, as any HTTP client can: any event by its fn_index
(timers and other events with no API name included), in a session of the caller's choosing."""

from __future__ import annotations

import json
import uuid

import httpx


def config(url: str) -> dict:
    return httpx.get(f"{url}config", timeout=30).json()


def fn_index(cfg: dict, api_name: str) -> int:
    return next(d["id"] for d in cfg["dependencies"] if d["api_name"] == api_name)


def defaults(cfg: dict, index: int) -> list:
    """The values a fresh page would send for this event's inputs."""
    components = {c["id"]: c for c in cfg["components"]}
    dependency = next(d for d in cfg["dependencies"] if d["id"] == index)
    return [components[i].get("props", {}).get("value") for i in dependency["inputs"]]


def input_ids(cfg: dict, index: int) -> list[str | None]:
    components = {c["id"]: c for c in cfg["components"]}
    dependency = next(d for d in cfg["dependencies"] if d["id"] == index)
    return [components[i].get("props", {}).get("elem_id") for i in dependency["inputs"]]


def call(url: str, index: int, data: list, session: str | None = None, timeout: float = 120,
         cookies: dict | None = None) -> dict:
    """Join the queue with event `index` and wait for its end: {"success": bool, "output": {...}}.
    `cookies`: a logged-in client's (gradio_client's Client.cookies)."""
    session = session or uuid.uuid4().hex
    with httpx.Client(timeout=timeout, cookies=cookies) as http:
        payload = {"data": data, "fn_index": index, "session_hash": session, "event_data": None, "trigger_id": None}
        # json.dumps writes NaN and Infinity (not JSON, but what a Python client sends): the server must cope
        joined = http.post(f"{url}gradio_api/queue/join", content=json.dumps(payload),
                           headers={"content-type": "application/json"})
        joined.raise_for_status()
        event_id = joined.json()["event_id"]
        with http.stream("GET", f"{url}gradio_api/queue/data", params={"session_hash": session}) as stream:
            for line in _sse_lines(stream):
                if not line.startswith("data:"):
                    continue
                message = json.loads(line[5:])
                if message.get("event_id") == event_id and message.get("msg") == "process_completed":
                    return message
    raise AssertionError(f"event {index} never completed")


def _sse_lines(stream):
    """Server-sent event lines split as a browser splits them: at line feeds only (httpx's
    iter_lines also splits at characters such as U+0085 inside a JSON string)."""
    pending = b""
    for chunk in stream.iter_bytes():
        pending += chunk
        *lines, pending = pending.split(b"\n")
        for line in lines:
            yield line.rstrip(b"\r").decode("utf-8")


def texts(message: dict) -> str:
    """Everything the event sent back, as one string (to look for a message in)."""
    return json.dumps(message.get("output", {}), ensure_ascii=False)


def predict(client, api_name: str, **by_label):
    """A named endpoint through gradio_client with the page's defaults, except the inputs given by
    their labels (spaces as underscores: Examples_per_task=3)."""
    params = client.view_api(return_format="dict", print_info=False)["named_endpoints"][api_name]["parameters"]
    args = [by_label.get(p["label"].replace(" ", "_"), p["parameter_default"] if p["parameter_has_default"] else None)
            for p in params]
    return client.predict(*args, api_name=api_name)
