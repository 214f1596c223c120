"""Decoding Lab: how the next token is chosen, and what each sampling setting does."""

from __future__ import annotations

import json
import math
import threading
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import gradio as gr
import pandas as pd

from pages import gpu_calls
from pages.common import (
    BASE_ONLY,
    AppContext,
    adapter_picker,
    decoding_mode,
    guarded,
    max_new_tokens_slider,
    on_page_load,
    progress_fn,
    rate_limited,
    temperature_slider,
    warper_sliders,
    with_adapter,
)
from playground import generation, limits, plots
from playground.generation import DecodingParams
from playground.metrics import distinct_n

EXPLAINER = """
A language model reads the prompt and gives every token of its vocabulary a probability of
coming next. **Decoding** is how one token is picked from that distribution, again and again.
**Greedy** always takes the most likely token (same output every time). **Sampling** draws at
random, after reshaping the distribution with the settings below. The chart shows the model's raw
probabilities (grey) and what is left after your settings (blue); tokens marked *cut* can no
longer be picked. It redraws as you move a slider, without running the model again. An
**encoder-decoder** model (FLAN-T5) reads the prompt with its encoder and writes a separate reply
with its decoder: the chart is then the reply's first token.
"""

DEFAULT_PROMPT = "The best way to learn a new language is"
UPDATE_INTERVAL_S = 0.05
CHART_DIV = "dec-chart-plot"


def plotly_js() -> Path:
    """plotly.js as shipped inside the plotly package (served locally: no CDN, works offline)."""
    import plotly

    return Path(plotly.__file__).parent / "package_data" / "plotly.min.js"


# Draws the latest figure; the tab's content mounts only when first opened, so wait for the div.
# plotly.js (4.6 MB) is fetched when the first figure arrives, not with the page: parsing it there
# held every page load up by 1.5-2 s on a 2-core machine, for a chart only this tab draws.
DRAW_CHART_JS = f"""(figure) => {{
    if (!figure) return;
    if (!window.Plotly && !document.getElementById("plotly-js")) {{
        const script = document.createElement("script");
        script.id = "plotly-js";
        script.src = "gradio_api/file=" + {json.dumps(str(plotly_js()))};  // relative: works under a proxy's sub-path
        script.onerror = () => script.remove();  // fetched again with the next figure
        document.head.appendChild(script);
    }}
    window.decodingLabFigure = JSON.parse(figure);  // the latest: figures that arrive while plotly.js loads wait
    const draw = (tries) => {{
        const div = document.getElementById("{CHART_DIV}"), f = window.decodingLabFigure;
        if (div && window.Plotly) {{
            window.Plotly.react(div, f.data, f.layout, {{displayModeBar: false, responsive: true}});
        }} else if (tries > 0) {{
            setTimeout(() => draw(tries - 1), 50);
        }}
    }};
    draw(600);
}}"""


@dataclass
class DecodingForm:
    """The Decoding Lab's controls by name, in the order of `controls` in build()."""

    model: str
    adapter: str | None
    prompt: str
    chat: bool
    mode: str
    temperature: float
    top_k: float
    top_p: float
    repetition: float
    max_new: float
    seed: float | None

    def params(self) -> DecodingParams:
        return DecodingParams(
            max_new_tokens=int(self.max_new), do_sample=self.mode == "Sampling", temperature=float(self.temperature),
            top_k=int(self.top_k), top_p=float(self.top_p), repetition_penalty=float(self.repetition),
            seed=int(self.seed if self.seed is not None else 0),
        )


class StopSignals:
    """A stop event per generation, keyed by an id the page makes when Generate is clicked (before
    the generation is queued), so a Stop pressed while it waits or runs always reaches it. The
    stream ends within a token and its last update says it was stopped (cancelling the Gradio event
    instead would drop that update)."""

    def __init__(self, keep: int = 1000):
        self._events: OrderedDict[str, threading.Event] = OrderedDict()
        self._lock = threading.Lock()
        self._keep = keep

    def event(self, generation_id: str) -> threading.Event:
        with self._lock:
            event = self._events.setdefault(generation_id or "", threading.Event())
            while len(self._events) > self._keep:  # ids stopped but never started don't pile up
                self._events.popitem(last=False)
            return event

    def stop(self, generation_id: str) -> None:
        if generation_id:
            self.event(generation_id).set()

    def end(self, generation_id: str) -> None:
        with self._lock:
            self._events.pop(generation_id or "", None)


STOPS = StopSignals()


def generate_with_each(lm, prompt: str, params: DecodingParams, chat: bool, adapters: list[str], progress) -> list:
    """The same generation through the base model and then each adapter (one ZeroGPU call for all)."""
    outputs = []
    for name in [None, *adapters]:
        progress(len(outputs) / (len(adapters) + 1), f"Generating with {name or 'the base model'}…")
        outputs.append(generation.generate(lm, prompt, params, chat=chat, adapter=name))
    return outputs


def build(ctx: AppContext) -> None:
    with gr.Tab("Decoding Lab", id="decoding", elem_id="tab-decoding") as tab:
        gr.Markdown(EXPLAINER)
        with gr.Row():
            with gr.Column(scale=2):
                prompt = gr.Textbox(DEFAULT_PROMPT, label="Prompt", lines=3, elem_id="dec-prompt",
                                    info="The text the model continues (an encoder-decoder model answers it).")
                chat = gr.Checkbox(True, label="Use the model's chat template", elem_id="dec-chat",
                                   info="Wraps the prompt as a user message, as instruct models were trained; untick to continue the raw text.")
                adapter = adapter_picker(ctx, "dec-adapter")
                mode = decoding_mode("dec-mode", "Sampling")
                temperature = temperature_slider("dec-temperature", 1.0)
                top_k, top_p, repetition = warper_sliders("dec")
                max_new = max_new_tokens_slider("dec-max-new", 512, 64)
                seed = gr.Number(0, label="Seed", precision=0, minimum=0, elem_id="dec-seed",
                                 info="Same seed + same settings = same sample.")
                defaults_note = gr.Markdown("", elem_id="dec-defaults")
                reset_btn = gr.Button("↺ Back to the model's settings", size="sm", elem_id="dec-reset")
            with gr.Column(scale=3):
                # Redrawn in place with Plotly.react (gr.Plot rebuilds the whole chart on every update,
                # ~120 ms in the browser); the figure travels as JSON through a hidden textbox.
                gr.HTML(f'<div id="{CHART_DIV}" style="height:520px"></div>', elem_id="dec-chart")
                chart = gr.Textbox(visible=True, elem_classes=["hidden-data"], elem_id="dec-chart-json",
                                   show_label=False, container=False)
        status = gr.Markdown("", elem_id="dec-status")
        with gr.Row():
            run = gr.Button("Generate", variant="primary", elem_id="dec-generate")
            stop = gr.Button("Stop", elem_id="dec-stop")
        output = gr.Textbox(label="Completion", lines=6, interactive=False, elem_id="dec-output")
        stats = gr.Markdown("", elem_id="dec-stats")
        shade = gr.Checkbox(False, label="Shade each token by its probability", elem_id="dec-shade",
                            info="How likely the model found each generated token: orange = surprising, blue = expected.")
        heatmap = gr.HTML("", elem_id="dec-heatmap", visible=False)

        with gr.Accordion("Sample N: how varied are the samples?", open=False, elem_id="dec-sample-n-acc"):
            gr.Markdown("Draws N completions with seeds seed, seed+1, … **Distinct-n** is the share of "
                        "word n-grams that are unique across them: near 1 = varied, near 0 = the same text again.")
            with gr.Row():
                n_samples = gr.Slider(2, min(16, limits.current().samples), value=4, step=1, label="N", elem_id="dec-n")
                sample_btn = gr.Button("Sample N", elem_id="dec-sample-n")
            samples = gr.Dataframe(headers=["seed", "completion", "tokens"], wrap=True, elem_id="dec-samples",
                                   interactive=False)
            diversity = gr.Markdown("", elem_id="dec-diversity")

        with gr.Accordion("Compare the base model and adapters side by side", open=False, elem_id="dec-compare-acc"):
            gr.Markdown("The same prompt, settings and seed through the base model and each chosen adapter "
                        "(all on one loaded base model; adapters are switched, never merged into it).")
            with gr.Row():
                compare_adapters = adapter_picker(ctx, "dec-compare-adapters", multiselect=True, label="Adapters")
                compare_btn = gr.Button("Compare", elem_id="dec-compare")
            comparison = gr.Dataframe(headers=["model", "completion", "tokens", "tokens/s"], wrap=True,
                                      interactive=False, elem_id="dec-comparison")

        controls = [ctx.model_picker, adapter, prompt, chat, mode, temperature, top_k, top_p, repetition, max_new, seed]

        @guarded(status, clear={chart: plots.message_figure("No distribution: see the message below the chart.").to_json()})
        @rate_limited(ctx, light=True)
        def show_distribution(progress=gr.Progress(), *values):  # (progress first: Gradio injects it only before *values)
            form = DecodingForm(*values)
            lm, adapter_ = with_adapter(ctx, form.model, form.adapter, progress)
            dist = generation.next_token_distribution(lm, form.prompt, form.params(), chat=form.chat, adapter=adapter_,
                                                      forward=gpu_calls.last_position_logits)
            return {chart: plots.next_token_figure(dist).to_json(), status: ""}

        @guarded(status)
        def open_at_model_defaults(model):
            """Sliders at the model's own settings (its generation_config.json), which is what it samples with."""
            d = generation.model_defaults(ctx.models.generation_config(model))
            return {mode: "Sampling" if d.do_sample else "Greedy", temperature: d.temperature, top_k: d.top_k,
                    top_p: d.top_p, repetition: d.repetition_penalty,
                    defaults_note: f"ℹ️ **{model}**'s own settings, which the sliders open at: {d.describe()} (what its "
                                   "generation_config.json sets, and transformers' defaults for the rest). Change any of them."}

        @guarded(status, clear={stats: "", output: ""})
        @rate_limited(ctx)
        def run_generation(progress=gr.Progress(), generation_id="", *values):
            form = DecodingForm(*values)
            lm, adapter_ = with_adapter(ctx, form.model, form.adapter, progress)
            stop_event = STOPS.event(generation_id)
            yield {status: "", output: "", stats: "Generating…", heatmap: gr.update(value="")}
            update = None
            try:
                shown_at = 0.0
                for update in gpu_calls.stream(lm, generation.stream, form.prompt, form.params(), chat=form.chat,
                                               adapter=adapter_, stop_event=stop_event):
                    # At most ~20 redraws a second: a small model makes hundreds of tokens a second, and redrawing
                    # each one keeps the browser too busy to send a Stop click for a second or more.
                    if update.result is None and time.monotonic() - shown_at < UPDATE_INTERVAL_S:
                        continue
                    shown_at = time.monotonic()
                    yield {output: update.text, stats: f"{update.n_tokens} tokens · {update.tokens_per_s:.1f} tokens/s"}
            finally:
                STOPS.end(generation_id)
            if update is None or update.result is None:  # stopped on ZeroGPU, where the generation ran in a worker
                yield {stats: f"{update.n_tokens if update else 0} tokens · stopped by you"}
                return
            result = update.result
            pieces = [(lm.tokenizer.decode([t]), math.exp(lp)) for t, lp in zip(result.token_ids, result.logprobs)]
            reason = {"eos": "the model ended its answer", "length": "reached max new tokens",
                      "stopped": "stopped by you"}
            yield {
                output: result.text,
                stats: f"{len(result.token_ids)} tokens · {result.tokens_per_s:.1f} tokens/s · "
                       f"{result.seconds:.2f} s · {reason[result.finish_reason]}",
                heatmap: plots.token_heatmap_html(pieces),
            }

        @guarded(status)
        @rate_limited(ctx)
        def run_samples(progress=gr.Progress(), *values):
            *settings, n = values
            form = DecodingForm(*settings)
            params = form.params()
            lm, adapter_ = with_adapter(ctx, form.model, form.adapter, progress)
            progress(0.3, desc=f"Sampling {int(n)} completions…")
            results = gpu_calls.run(lm, generation.sample_n, form.prompt, params, int(n), chat=form.chat, adapter=adapter_)
            texts = [r.text for r in results]
            rows = pd.DataFrame(
                {"seed": [params.seed + i for i in range(len(texts))], "completion": texts,
                 "tokens": [len(r.token_ids) for r in results]}
            )
            note = "" if params.do_sample else " (greedy decoding: every sample is the same; choose Sampling)"
            return {
                samples: rows, status: "",
                diversity: f"**Distinct-1** {distinct_n(texts, 1):.2f} · **Distinct-2** {distinct_n(texts, 2):.2f}{note}",
            }

        @guarded(status)
        @rate_limited(ctx)
        def run_comparison(progress=gr.Progress(), *values):
            *settings, chosen = values
            form = DecodingForm(*settings)
            params = form.params()
            names = [a for a in (chosen or []) if a != BASE_ONLY]
            lm = ctx.models.get(form.model, lambda f, m: progress(f, desc=m), adapters=tuple(names))
            outputs = gpu_calls.run(lm, generate_with_each, form.prompt, params, form.chat, names, progress_fn(progress),
                                    gpu_seconds=gpu_calls.GPU_SECONDS * (len(names) + 1))
            rows = [[name or BASE_ONLY, out.text, len(out.token_ids), round(out.tokens_per_s, 1)]
                    for name, out in zip([None, *names], outputs)]
            return {comparison: pd.DataFrame(rows, columns=["model", "completion", "tokens", "tokens/s"]), status: ""}

        chart_event = dict(fn=show_distribution, inputs=controls, outputs=[chart, status],
                           show_progress="hidden", trigger_mode="always_last")
        for control in (mode, temperature, top_k, top_p, repetition, chat, adapter):
            control.change(**chart_event, api_name=False)
        prompt.change(**chart_event, api_name="next_token_distribution")
        chart.change(None, [chart], None, js=DRAW_CHART_JS)
        tab.select(None, [chart], None, js=DRAW_CHART_JS)
        ctx.model_picker.change(**chart_event, api_name=False)
        defaults_outputs = [mode, temperature, top_k, top_p, repetition, defaults_note, status]
        ctx.model_picker.change(open_at_model_defaults, [ctx.model_picker], defaults_outputs, api_name=False)
        reset_btn.click(open_at_model_defaults, [ctx.model_picker], defaults_outputs, api_name=False).then(
            **chart_event, api_name=False)

        # The id travels as a hidden textbox, not a gr.State: Gradio serializes a session's events that
        # use its State, so a Stop reading a State would wait for the generation to end.
        generation_id = gr.Textbox("", visible=False, elem_id="dec-generation-id")
        run.click(lambda: uuid.uuid4().hex, None, generation_id, queue=False, api_name=False).then(
            run_generation, [generation_id, *controls], [output, stats, heatmap, status], api_name="generate",
            concurrency_limit=4)
        stop.click(STOPS.stop, [generation_id], None, api_name="stop_generation", queue=False,
                   show_progress="hidden")
        sample_btn.click(run_samples, controls + [n_samples], [samples, diversity, status], api_name="sample_n",
                         concurrency_limit=4)
        compare_btn.click(run_comparison, controls + [compare_adapters], [comparison, status],
                          api_name="compare_adapters", concurrency_limit=2)
        shade.change(lambda on: gr.update(visible=on), [shade], [heatmap], api_name=False)
        # on opening the page: the sliders at the model's own settings, then the chart for them
        on_page_load(open_at_model_defaults, [ctx.model_picker], defaults_outputs).then(
            show_distribution, controls, [chart, status], api_name=False)
