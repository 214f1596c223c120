"""Settings tab: the mode and its limits, where state lives, the device, versions, a health check,
and which models may run their own code."""

from __future__ import annotations

import dataclasses

import gradio as gr
import pandas as pd

from pages.common import AppContext, admin_only, guarded, on_page_load, rate_limited, visitor_of
from playground import health, limits
from playground.store import Store
from playground.trusted_code import EXPLAINED, distrust, trust, trusted_models

LIMITS_EXPLAINED = {
    "prompt_chars": "characters in one prompt",
    "new_tokens": "new tokens of one generation",
    "samples": "completions of one 'sample N'",
    "upload_mb": "MB in one uploaded file (refused before it is read)",
    "train_steps": "optimizer steps of one training run",
    "train_epochs": "epochs of one training run",
    "eval_examples": "examples per task of one evaluation",
    "requests_per_minute": "model requests a minute per visitor (0: no limit)",
    "model_mb": "MB of weights of a Hub model a visitor may load (demo mode)",
}


def limits_frame() -> pd.DataFrame:
    cap = limits.current()
    return pd.DataFrame([[LIMITS_EXPLAINED[f.name], f"{getattr(cap, f.name):,}", f"PLAYGROUND_LIMIT_{f.name.upper()}"]
                         for f in dataclasses.fields(cap)], columns=["limit", "value", "set with"])


def table(rows: dict[str, str], columns: tuple[str, str] = ("", "")) -> str:
    return f"| {columns[0]} | {columns[1]} |\n|---|---|\n" + "\n".join(f"| {key} | {value} |" for key, value in rows.items())


def build(ctx: AppContext) -> None:
    settings, access = ctx.models.settings, ctx.access
    store = Store(settings.db_path)
    with gr.Tab("Settings", elem_id="tab-settings"):
        gr.Markdown("What this app runs on and how it is set up. **Demo mode** (`PLAYGROUND_DEMO=1`, on by default on a "
                    "Hugging Face Space) lets anyone prompt, decode, evaluate and label while training and managing "
                    "adapters need an admin; **limits** cap what one request may ask for, so one visitor can't starve "
                    "the others; the **health check** tries each thing the app depends on.")
        mode_md = gr.Markdown(elem_id="set-mode")
        gr.Markdown("### Limits")
        gr.Dataframe(limits_frame(), interactive=False, elem_id="set-limits")
        with gr.Row():
            with gr.Column():
                gr.Markdown("### Storage")
                storage_md = gr.Markdown(elem_id="set-storage")
            with gr.Column():
                gr.Markdown("### Device")
                device_md = gr.Markdown(elem_id="set-device")
            with gr.Column():
                gr.Markdown("### Versions")
                gr.Markdown(table(health.versions(), ("package", "version")), elem_id="set-versions")
        check_btn = gr.Button("Run the health check", elem_id="set-health-run")
        health_md = gr.Markdown(elem_id="set-health")
        gr.Markdown("### Models that may run their own code\n" + EXPLAINED + " Off for every model unless allowed here.")
        trusted_table = gr.Dataframe(headers=["model", "allowed by", "since"], interactive=False, elem_id="set-trusted")
        with gr.Row():
            trusted_name = gr.Textbox("", label="Model (as typed in the model picker)", elem_id="set-trusted-name", scale=3)
            allow_btn = gr.Button("Allow its code", elem_id="set-trusted-allow", scale=1)
            remove_btn = gr.Button("Stop allowing", elem_id="set-trusted-remove", scale=1)
        trusted_status = gr.Markdown(elem_id="set-trusted-status")

        def trusted_frame() -> pd.DataFrame:
            import time

            rows = [[t["model"], t["allowed_by"], time.strftime("%Y-%m-%d %H:%M", time.localtime(t["created"]))]
                    for t in trusted_models(store)]
            return pd.DataFrame(rows, columns=["model", "allowed by", "since"])

        def overview(request: gr.Request):
            visitor = visitor_of(ctx, request)
            who = f"You are {'an admin' if visitor.is_admin else 'a ' + visitor.role.value} here."
            mode = {"demo mode": "🔒 **Demo mode.**", "team mode": "👥 **Team mode** (logins).",
                    "local mode": "🔓 **Local mode**: whoever opens this page can do everything."}[access.mode_name()]
            where = (table(health.storage(settings), ("what", "where")) if visitor.is_admin or not access.restricted
                     else "Shown to admins only.")
            return {mode_md: f"{mode} {who}", storage_md: where, device_md: table(health.device(), ("device", "what")),
                    trusted_table: trusted_frame()}

        @guarded(health_md)
        @rate_limited(ctx)
        def run_check(request: gr.Request):
            visitor = visitor_of(ctx, request)
            checks = health.health_check(settings, ctx.models, show_paths=visitor.is_admin or not access.restricted)
            lines = [f"{'✅' if c.ok else '⚠️'} **{c.name}**: {c.detail}" for c in checks]
            verdict = "All checks passed." if all(c.ok for c in checks) else "Some checks need attention (⚠️)."
            return {health_md: verdict + "\n\n" + "\n\n".join(lines)}

        def trusted_action(act):
            @guarded(trusted_status)
            @admin_only(ctx, "trust")
            def handle(model, request: gr.Request):
                message = act(model, request)
                return {trusted_status: f"✅ {message}", trusted_table: trusted_frame(), trusted_name: ""}

            return handle

        def allow(model, request):
            visitor = visitor_of(ctx, request)
            return trust(store, model, visitor.name or visitor.key)

        on_page_load(overview, None, [mode_md, storage_md, device_md, trusted_table])
        check_btn.click(run_check, None, [health_md], api_name="health_check")
        allow_btn.click(trusted_action(allow), [trusted_name], [trusted_status, trusted_table, trusted_name],
                        api_name="allow_model_code")
        remove_btn.click(trusted_action(lambda model, _request: distrust(store, model)), [trusted_name],
                         [trusted_status, trusted_table, trusted_name], api_name="remove_model_code")
