"""The web app: assembles the tabs of pages/ into one Gradio Blocks and launches it.

Run `python app.py` (or `python -m playground serve`); on Hugging Face Spaces this file is the
entry point."""

from __future__ import annotations

import logging
import os
import sys

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
# Gradio rebuilds a pandas table of up to 10,000 past events after every event, for its monitoring
# page: under many labelers that was a tenth of the server's CPU. Summarize every 500 events instead.
os.environ.setdefault("GRADIO_ANALYTICS_CACHE_FREQUENCY", "500")

import gradio as gr

from pages import decoding_lab, evaluate, finetune, gpu_calls, prompt_lab, rate, rlhf
from pages import settings as settings_tab
from pages.common import AppContext, access_bar, explain_bad_inputs, model_picker
from playground import limits, zero_gpu
from playground.access import Access
from playground.errors import PlaygroundError
from playground.jobs import JobManager
from playground.models import ModelManager, warm_up
from playground.settings import PROJECT_ROOT, Settings
from playground.tiny_model import TINY_MODEL_NAME

INTRO = """
# 🧪 LLM Fine-Tuning Playground
See and try how large language models are adapted. **Prompt Lab**: teach a task with examples in
the prompt. **Decoding Lab**: see how each next token is picked. **Fine-tune**: train full, LoRA, QLoRA or
prompt-tuning runs in the background and reuse the adapters. **Evaluate**: compare the base with
what you made from it on held-out data, with intervals that say what is real. **Rate**: compare
completions blind and collect preference labels. **RLHF**: learn from those labels: a reward model that
scores replies, DPO or KTO directly, or PPO, RLOO and GRPO against the reward model, and see what each
changed. Everything here also runs headless:
`python -m playground --help`.
"""
CSS_PATH = PROJECT_ROOT / "assets" / "style.css"
KEYS_PATH = PROJECT_ROOT / "assets" / "rate_keys.js"  # the Rate tab's keyboard shortcuts
QUEUE_SIZE = 512  # events waiting at once, all visitors together; more are turned away ("busy") until some end


def make_context(settings: Settings) -> AppContext:
    warm_up()  # before any request: transformers' lazy imports are not thread-safe
    models = ModelManager(settings)
    gpu_calls.use(models)  # on ZeroGPU: before any model loads
    problem = models.availability_notice(settings.default_model)
    notice = f"{problem} For now the picker is set to '{TINY_MODEL_NAME}'." if problem else None
    if zero_gpu.on_zero_gpu():
        notice = " ".join(filter(None, [zero_gpu.NOTE, notice]))
        if not problem:  # loaded now, ZeroGPU packs it at launch: each GPU call then gets it ready
            try:
                models.get(settings.default_model)
            except PlaygroundError as err:  # it loads on first use instead, and says why it can't
                notice = f"{notice} {err}"
    start_model = TINY_MODEL_NAME if problem else settings.default_model
    jobs = JobManager(settings)
    jobs.start_monitor()  # the queue moves and dead runs are noticed even with no page open
    jobs.warm_up()  # the worker launcher imports the training libraries now, not when the first run starts
    return AppContext(models=models, jobs=jobs, start_model=start_model, access=Access(settings), startup_notice=notice)


def build_app(settings: Settings | None = None) -> gr.Blocks:
    settings = settings or Settings.from_env()
    settings.ensure_dirs()
    ctx = make_context(settings)
    with gr.Blocks(title="LLM Fine-Tuning Playground") as demo:
        gr.Markdown(INTRO)
        access_bar(ctx)
        model_picker(ctx)
        with gr.Tabs():
            prompt_lab.build(ctx)
            decoding_lab.build(ctx)
            finetune.build(ctx)
            evaluate.build(ctx)
            rate.build(ctx)
            rlhf.build(ctx)
            settings_tab.build(ctx)
    explain_bad_inputs(demo)
    return demo


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = Settings.from_env()
    if settings.demo:
        # The owner's Hub token (HF_TOKEN, or a saved login) is then sent only where it is passed
        # explicitly (an admin's push): a visitor's Hub id never reaches the owner's private or gated repos.
        # Set before the app is built: its worker launcher starts there, with this environment.
        import huggingface_hub.constants

        os.environ["HF_HUB_DISABLE_IMPLICIT_TOKEN"] = "1"  # the app's workers
        huggingface_hub.constants.HF_HUB_DISABLE_IMPLICIT_TOKEN = True  # this process (read when a request is made)
    try:
        demo = build_app(settings)
        access, cap = Access(settings), limits.current()
    except PlaygroundError as err:  # e.g. a damaged database: say which file and what to do, no traceback
        print(f"error: {err}", file=sys.stderr)
        raise SystemExit(2) from None
    if settings.demo:
        # Relative names are then resolved in an empty folder: a Hub id typed by a visitor never
        # finds a server folder of the same name (transformers and datasets look locally first).
        empty = settings.home / "empty-working-folder"
        empty.mkdir(parents=True, exist_ok=True)
        os.chdir(empty)
    # max_size given: Gradio's default is no limit, but 1 on ZeroGPU, which turned away the page's own start-up events
    demo.queue(default_concurrency_limit=4, max_size=QUEUE_SIZE).launch(
        auth=access.check_password if access.users else None,
        auth_message="Log in with the name and password your team's admin gave you.",
        max_file_size=f"{cap.upload_mb}mb",
        # Gradio's own refusals (a server file posted as an upload, say) keep their message; handlers'
        # errors are already messages (pages.common.guarded), and no traceback is ever sent
        show_error=True,
        server_name=settings.host,
        server_port=settings.port,
        theme=gr.themes.Soft(),
        css=CSS_PATH.read_text(encoding="utf-8") if CSS_PATH.exists() else None,
        head=f'<script>{KEYS_PATH.read_text(encoding="utf-8")}</script>',
        allowed_paths=[str(decoding_lab.plotly_js())],  # fetched by the Decoding Lab's chart when it first draws
        ssr_mode=False,
    )


if __name__ == "__main__":
    main()
