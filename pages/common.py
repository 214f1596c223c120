"""What every tab shares: the app context, the model picker and turning errors into messages."""

from __future__ import annotations

import functools
import inspect
import logging
import os
import re
import time
import typing
from dataclasses import dataclass, field

import gradio as gr

from playground import limits
from playground.access import Access, Visitor, client_address
from playground.errors import PlaygroundError
from playground.models import CURATED_MODELS, ModelManager
from playground.tiny_model import TINY_MODEL_NAME

log = logging.getLogger("playground.ui")


@dataclass
class AppContext:
    models: ModelManager
    jobs: object  # playground.jobs.JobManager
    start_model: str  # what the picker shows first (the tiny model when the default is unavailable)
    access: Access
    startup_notice: str | None = None
    model_picker: gr.Dropdown | None = None
    # model requests per visitor (limits.current().requests_per_minute; 0: no limit), and the light ones
    # a page makes as you type or label (a next-token chart, the next pair) at five times that
    requests: limits.RateLimiter = field(default_factory=lambda: limits.RateLimiter(
        per_minute=limits.current().requests_per_minute, burst=max(1, limits.current().requests_per_minute // 3),
        what="model requests from you"))
    light_requests: limits.RateLimiter = field(default_factory=lambda: limits.RateLimiter(
        per_minute=5 * limits.current().requests_per_minute, burst=max(1, 5 * limits.current().requests_per_minute // 3),
        what="requests from you"))


def error_text(err: BaseException) -> str:
    if isinstance(err, PlaygroundError):
        return f"⚠️ {err}"
    log.exception("unexpected error in a UI handler")
    return f"⚠️ Something went wrong: {type(err).__name__}: {err}. The page is still usable; please try again."


def guarded(status: gr.components.Component, clear: dict | None = None):
    """Handlers return/yield a dict {component: value}; on any error `status` gets a plain message
    and the outputs in `clear` are reset to the values given (so nothing stale or half-done, such
    as "Generating…" or the previous prompt's chart, stays on the page), and no traceback is shown."""
    reset = dict(clear or {})

    def wrap(fn):
        if inspect.isgeneratorfunction(fn):

            @functools.wraps(fn)
            def gen(*args, **kwargs):
                try:
                    yield from fn(*args, **kwargs)
                except Exception as err:  # noqa: BLE001
                    yield {**reset, status: error_text(err)}

            return gen

        @functools.wraps(fn)
        def call(*args, **kwargs):
            try:
                return fn(*args, **kwargs)
            except Exception as err:  # noqa: BLE001
                return {**reset, status: error_text(err)}

        return call

    return wrap


def field_labels(components: dict[str, gr.components.Component]) -> dict[str, str]:
    """{recipe key: the label of its field on the form}, for `in_form_words`."""
    return {key: c.label for key, c in components.items() if getattr(c, "label", None)}


def in_form_words(labels: dict[str, str]):
    """Below @guarded: a refusal that names recipe keys as the CLI and recipe files spell them
    ("learning_rate must be at most 1") names the form's fields instead ("'Learning rate' must be
    at most 1"). Only keys with an underscore: plain words (data, seed) are also English."""
    keys = sorted((k for k in labels if "_" in k), key=len, reverse=True)
    pattern = re.compile(r"\b(" + "|".join(map(re.escape, keys)) + r")\b") if keys else None

    def wrap(fn):
        @functools.wraps(fn)
        def call(*args, **kwargs):
            try:
                return fn(*args, **kwargs)
            except PlaygroundError as err:
                if pattern is None:
                    raise
                raise PlaygroundError(pattern.sub(lambda m: f"'{labels[m.group(1)]}'", str(err))) from err

        return call

    return wrap


def also_as_toast(status: gr.components.Component, refusals_only: bool = False):
    """For a button far from its `status` line (the RLHF tab's forms are long) or from the field a
    refusal is about: the message also pops up where the person is looking (a warning for a
    refusal). Goes above @guarded."""

    def toast(out) -> None:
        text = out.get(status) if isinstance(out, dict) else None
        if isinstance(text, str) and text.startswith("⚠️"):
            gr.Warning(text.removeprefix("⚠️ "))
        elif isinstance(text, str) and text and not refusals_only:
            gr.Info(text)

    def wrap(fn):
        if inspect.isgeneratorfunction(fn):  # (Gradio streams a generator function's updates: so is this one)
            @functools.wraps(fn)
            def stream(*args, **kwargs):
                for out in fn(*args, **kwargs):
                    toast(out)
                    yield out

            return stream

        @functools.wraps(fn)
        def call(*args, **kwargs):
            out = fn(*args, **kwargs)
            toast(out)
            return out

        return call

    return wrap


# ---- who is asking: checked in the handler itself, for the page, the API and a timer's fn_index alike ----
def visitor_of(ctx: AppContext, request: gr.Request | None) -> Visitor:
    name = getattr(request, "username", None) or _hub_login(request)
    return ctx.access.visitor(name, getattr(request, "session_hash", None), _address(ctx, request))


def _hub_login(request) -> str | None:
    """The Hugging Face username of a visitor logged in with the Space's "Sign in" button (OAuth)."""
    try:
        info = request.session.get("oauth_info") or {}
    except Exception:  # noqa: BLE001 - no login on this app (no session middleware)
        return None
    if info.get("expires_at", float("inf")) < time.time():
        return None
    return (info.get("userinfo") or {}).get("preferred_username")


def _address(ctx: AppContext, request) -> str | None:
    if request is None:
        return None
    client = getattr(request, "client", None)
    return client_address(request.headers.get("x-forwarded-for"), getattr(client, "host", None),
                                 ctx.models.settings.trusted_proxies)


def checked(check):
    """A handler that first runs check(request). Gradio passes the gr.Request to a function whose
    signature asks for one: the wrapper's signature is the handler's, with `request` put in front
    unless the handler takes it already (then it gets it too)."""

    def wrap(fn):
        signature = inspect.signature(fn)
        names = list(signature.parameters)
        own = names.index("request") if "request" in names else None

        def split(args, kwargs):
            if own is None:
                return args[0], args[1:]
            return (kwargs["request"] if "request" in kwargs else args[own]), args

        if inspect.isgeneratorfunction(fn):

            @functools.wraps(fn)
            def wrapper(*args, **kwargs):
                request, args = split(args, kwargs)
                check(request)
                yield from fn(*args, **kwargs)
        else:

            @functools.wraps(fn)
            def wrapper(*args, **kwargs):
                request, args = split(args, kwargs)
                check(request)
                return fn(*args, **kwargs)

        if own is None:
            first = inspect.Parameter("request", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=gr.Request)
            signature = signature.replace(parameters=[first, *signature.parameters.values()])
        wrapper.__signature__ = signature
        try:  # Gradio finds gr.Request (and gr.Progress, gr.EventData, ...) by these
            hints = typing.get_type_hints(fn)
        except Exception:  # noqa: BLE001 - an annotation that can't be resolved: only the request matters then
            hints = {}
        wrapper.__annotations__ = {**hints, "request": gr.Request}
        return wrapper

    return wrap


def admin_only(ctx: AppContext, action: str):
    """Only an admin may call this endpoint where access is restricted (playground.access.ADMIN_ACTIONS)."""
    return checked(lambda request: ctx.access.require_admin(visitor_of(ctx, request), action))


def rate_limited(ctx: AppContext, light: bool = False):
    """A request that runs a model or fetches from the Hub: counted against the visitor's rate limit
    (a demo's; none locally). `light`: one a page makes as a person types or labels."""
    limiter = ctx.light_requests if light else ctx.requests
    return checked(lambda request: limiter.take(visitor_of(ctx, request).key))


# ---- values of the wrong type from API clients ----
TAKES = {"number": "a number", "slider": "a number", "textbox": "text", "dropdown": "one of its choices",
         "radio": "one of its choices", "checkbox": "true or false", "checkboxgroup": "a list of its choices",
         "file": "an uploaded file", "dataframe": "a table (headers and rows)"}


def explain_bad_inputs(blocks: gr.Blocks) -> None:
    """An API client can send any JSON for any input. Gradio answers a value of the wrong type (text
    for a number, a list for a slider, a dict for a file) with a bare "Error"; here every input
    component says instead which input was wrong and what it takes."""
    from gradio.components import Component

    for block in list(blocks.blocks.values()):
        if isinstance(block, Component) and not isinstance(block, gr.State):
            block.preprocess = _explained(block.preprocess, block)
            if getattr(block, "data_model", None) is not None:
                block.data_model = _explained_model(block.data_model, block)


def _field_name(block) -> str:
    return getattr(block, "label", None) or getattr(block, "elem_id", None) or type(block).__name__


def _bad_input(block, payload) -> gr.Error:
    shown = repr(payload)
    shown = shown if len(shown) <= 40 else shown[:37] + "..."
    takes = TAKES.get(block.get_block_name(), "a value of its type")
    return gr.Error(f"'{_field_name(block)}' can't be {shown}: it takes {takes}.", print_exception=False)


def _explained(preprocess, block):
    @functools.wraps(preprocess)
    def checked(payload):
        try:
            return preprocess(payload)
        except gr.Error as err:  # e.g. Gradio's "Value 0 is less than minimum value 1.": which field it is
            raise gr.Error(f"'{_field_name(block)}': {err.message}", print_exception=False) from None
        except Exception:  # noqa: BLE001 - Gradio's own conversion failed on a value of the wrong type
            raise _bad_input(block, payload) from None

    return checked


def _explained_model(model, block):
    class Checked(model):
        @classmethod
        def model_validate(cls, obj, *args, **kwargs):
            try:
                return model.model_validate(obj, *args, **kwargs)
            except Exception:  # noqa: BLE001 - pydantic's ValidationError: not the shape of this input
                raise _bad_input(block, obj) from None

    Checked.__name__ = Checked.__qualname__ = model.__name__
    return Checked


def on_page_load(fn, inputs, outputs, **kwargs):
    """Run `fn` when a page is opened: each tab wires its own load events (the Blocks being built is
    the one the tab is inside)."""
    from gradio.context import Context

    return Context.root_block.load(fn, inputs, outputs, api_name=False, **kwargs)


BASE_ONLY = "none (base model)"


def made_from_model(models, model: str, items: list[dict]) -> list[dict]:
    """The results among `items` made from `model` (adapters.made_from): one made from another base
    can't load on it."""
    from playground.adapters import made_from

    bases, shape = models.base_names(model), models.base_shape(model)
    return [a for a in items if made_from(a, bases, shape)]


def adapter_choices(ctx: AppContext, model: str | None = None) -> list[str]:
    """The adapters made from `model` (the model picker's; at start-up, the start model)."""
    from playground.adapters import for_generation, list_adapters

    model = ctx.start_model if model is None else model
    items = for_generation(list_adapters(ctx.models.settings.adapters_dir))
    return [BASE_ONLY] + [a["name"] for a in made_from_model(ctx.models, model, items)]


def adapter_picker(ctx: AppContext, elem_id: str, multiselect: bool = False, label: str = "Adapter") -> gr.Dropdown:
    """Fine-tuned adapters from the adapters folder, loaded on the chosen base model (refreshed on focus)."""
    choices = adapter_choices(ctx)
    picker = gr.Dropdown(choices[1:] if multiselect else choices, value=[] if multiselect else BASE_ONLY,
                         multiselect=multiselect, label=label, elem_id=elem_id,
                         info="Adapters from the Fine-tune tab, hot-swapped on the loaded base model (no reload).")
    picker.focus(lambda model: gr.update(choices=adapter_choices(ctx, model)[1:] if multiselect else adapter_choices(ctx, model)),
                 [ctx.model_picker], picker, api_name=False, show_progress="hidden")
    return picker


def with_adapter(ctx: AppContext, model: str, adapter: str | None, progress: gr.Progress):
    """(loaded model, adapter name or None) for a lab handler."""
    adapter = None if not adapter or adapter == BASE_ONLY else adapter
    lm = ctx.models.get(model, progress_fn(progress), adapters=(adapter,) if adapter else ())
    return lm, adapter


def progress_fn(progress: gr.Progress) -> ProgressTo:
    return ProgressTo(progress)


@dataclass(frozen=True)
class ProgressTo:
    """The library's progress callback (fraction, message) drawn on a Gradio progress bar. A class,
    not a closure: it can be pickled into a ZeroGPU call (pages/gpu_calls.py)."""

    progress: gr.Progress

    def __call__(self, fraction: float, message: str) -> None:
        self.progress(fraction, desc=message)


def model_picker(ctx: AppContext) -> gr.Dropdown:
    """The model menu at the top of the app: curated models, the tiny model, or anything typed."""
    choices = CURATED_MODELS + [TINY_MODEL_NAME]
    with gr.Row(equal_height=False):
        picker = gr.Dropdown(
            choices=choices,
            value=ctx.start_model,
            allow_custom_value=True,
            label="Model",
            info=("Pick a model, or type any Hub id (owner/name)" + ("." if ctx.models.settings.demo else " or a local folder.")
                  + f" '{TINY_MODEL_NAME}' works offline but only babbles."),
            scale=4,
            elem_id="model-picker",
        )
        load = gr.Button("Load model", scale=1, min_width=120, elem_id="load-model")
    model_status = gr.Markdown(
        f"⚠️ {ctx.startup_notice}" if ctx.startup_notice else "The model loads on first use (or press Load model).",
        elem_id="model-status",
    )

    @guarded(model_status)
    @rate_limited(ctx)
    def load_model(ref: str, progress=gr.Progress(track_tqdm=True)):
        lm = ctx.models.get(ref, progress_fn(progress))
        return {model_status: f"✅ {lm.describe()}"}

    load.click(load_model, [picker], [model_status], api_name="load_model")
    ctx.model_picker = picker
    return picker


def access_bar(ctx: AppContext) -> None:
    """Which mode the app is in, who the visitor is, and (where the owner set one) the admin token box."""
    access = ctx.access
    if not access.restricted:
        gr.Markdown("🔓 **Local mode**: everyone who can open this page can do everything. For a public demo, start "
                    "the app with `PLAYGROUND_DEMO=1`.", elem_id="access-mode")
        return
    cap = limits.current()
    about = ("🔒 **Demo mode**: anyone can prompt, decode, evaluate and label. Training, stopping or resuming runs, "
             "and renaming, merging, pushing or deleting adapters need an admin. The server's own files are never "
             "read for you: upload a file or give a Hub id. "
             f"Limits: prompts up to {cap.prompt_chars:,} characters, {cap.new_tokens:,} new tokens, uploads up to "
             f"{cap.upload_mb} MB" + (f", {cap.requests_per_minute} model requests a minute each." if cap.requests_per_minute
                                      else ".")
             if access.demo else "👥 **Team mode**: annotators label and evaluate; admins also train and manage adapters.")
    with gr.Row(equal_height=True):
        gr.Markdown(about, elem_id="access-mode")
        if ctx.models.settings.on_space and os.environ.get("OAUTH_CLIENT_ID"):  # the Space has hf_oauth: true
            gr.LoginButton("Sign in with Hugging Face", scale=0, min_width=220, elem_id="hub-login")
        if access.token_set:
            token = gr.Textbox("", type="password", label="Admin token", scale=1, elem_id="admin-token",
                               info="Makes this browser tab an admin.")
            unlock = gr.Button("Unlock", scale=0, min_width=90, elem_id="admin-unlock")
    who = gr.Markdown("", elem_id="access-who")

    def who_text(request: gr.Request) -> str:
        visitor = visitor_of(ctx, request)
        named = f"**{visitor.name}**, " if visitor.name else ""
        return f"You are {named}{'an admin' if visitor.is_admin else 'a ' + visitor.role.value} here."

    on_page_load(who_text, None, who)
    if access.token_set:

        @guarded(who, clear={token: ""})
        def unlock_admin(text: str, request: gr.Request):
            message = access.unlock(getattr(request, "session_hash", "") or "", text, visitor_of(ctx, request).key)
            return {who: f"✅ {message}", token: ""}

        unlock.click(unlock_admin, [token], [who, token], api_name="unlock_admin")


def uploaded_path(file) -> str:
    """The server-side path of a gr.File upload ("" when none)."""
    if not file:
        return ""
    return str(file if isinstance(file, str) else file.name)


# ---- decoding settings, shared by the labs (one explanation of each) ----
MODES = ["Greedy", "Sampling"]


def decoding_mode(elem_id: str, value: str = "Greedy", info: str = "") -> gr.Radio:
    return gr.Radio(MODES, value=value, label="Decoding", elem_id=elem_id,
                    info=info or "Greedy: always the most likely token. Sampling: draw at random from the reshaped distribution.")


def temperature_slider(elem_id: str, value: float = 1.0, label: str = "Temperature") -> gr.Slider:
    return gr.Slider(0.05, 2.0, value=value, step=0.05, label=label, elem_id=elem_id,
                     info="Divides the logits when sampling: below 1 sharpens (safer, repetitive), above 1 flattens "
                          "(more surprising).")


def max_new_tokens_slider(elem_id: str, maximum: int, value: int, info: str = "") -> gr.Slider:
    maximum = min(maximum, limits.current().new_tokens)  # a demo's cap: the slider never offers more
    return gr.Slider(1, maximum, value=min(value, maximum), step=1, label="Max new tokens", elem_id=elem_id,
                     info=info or "The most tokens to generate; it also stops at the end-of-text token.")


def warper_sliders(prefix: str) -> tuple[gr.Slider, gr.Slider, gr.Slider]:
    """Top-k, top-p and repetition penalty (opened at the model's own values by the page)."""
    top_k = gr.Slider(0, 200, value=50, step=1, label="Top-k", elem_id=f"{prefix}-top-k",
                      info="Keep only the k most likely tokens (0 = off).")
    top_p = gr.Slider(0.01, 1.0, value=1.0, step=0.01, label="Top-p (nucleus)", elem_id=f"{prefix}-top-p",
                      info="Keep the smallest set of tokens whose probabilities add up to p (1 = off).")
    repetition = gr.Slider(0.5, 2.0, value=1.0, step=0.05, label="Repetition penalty", elem_id=f"{prefix}-repetition",
                           info="Above 1 makes tokens already in the text less likely (1 = off).")
    return top_k, top_p, repetition


# ---- background runs ----
def progress_of(events: list[dict]) -> tuple[int, int, float | None]:
    last = next((e for e in reversed(events) if e.get("type") == "progress"), None)
    return (last["step"], last["max_steps"], last.get("eta_s")) if last else (0, 0, None)


def stop_run(jobs, run_id: str | None, what: str = "run") -> str:
    """The Stop button of a runs panel: a plain message, or why nothing was stopped."""
    if not run_id:
        raise PlaygroundError(f"Choose {'an' if what[0] in 'aeiou' else 'a'} {what} to stop.")
    return f"✅ {jobs.cancel(run_id)}"


def resume_run(jobs, run_id: str | None) -> str:
    """The Resume button of a runs panel: a plain message, or why nothing was resumed."""
    if not run_id:
        raise PlaygroundError("Choose a stopped or failed run to resume.")
    run = jobs.resume(run_id)
    where = "resumed" if run["status"] == "running" else "queued to resume (one run at a time)"
    return f"✅ Run **{run['name']}** {where} from its last checkpoint."


RUN_TITLES = {"sft": "Run", "eval": "Evaluation", "reward": "Reward model run", "merge": "Merge"}


def settled_status(text: str | None, run: dict) -> str | None:
    """The status line once the run it announced has ended ("started", "queued", "resumed" and
    "Stopping" would mislead by then): how the run ended, with the notes that followed; None where
    the line is about something else or already says how the run ended."""
    head, gap, notes = (text or "").partition("\n\n")
    if run["status"] in ("running", "queued") or not any(f"{q}{run['name']}{e}" in head for q, e in (("**", "**"), ("'", "'"))):
        return None
    if not re.search(r"\b(started|queued|resumed)\b|Stopping", head):
        return None
    mark = {"finished": "✅", "failed": "⚠️"}.get(run["status"], "⏹️")
    what = RUN_TITLES.get(run["kind"], f"{run['kind'].upper()} run")
    return f"{mark} {what} **{run['name']}** {run['status']}." + gap + notes


def progress_html(run: dict, events: list[dict], unit: str = "step") -> str:
    step, total, eta = progress_of(events)
    share = step / total if total else (1.0 if run["status"] == "finished" else 0.0)
    status = run["status"]
    eta_text = f" · about {int(eta // 60)}m {int(eta % 60):02d}s left" if eta and status == "running" else ""
    label = f"{status} · {unit} {step:,} of {total:,}{eta_text}" if total else status
    color = {"failed": "#dc2626", "stopped": "#f59e0b", "cancelled": "#9ca3af"}.get(status, "#2563eb")
    return (f'<div class="run-progress"><div style="background:#e5e7eb;border-radius:6px;height:14px">'
            f'<div style="width:{share:.1%};background:{color};height:14px;border-radius:6px"></div></div>'
            f'<div style="font-size:13px;margin-top:4px">{label}</div></div>')
