"""Pure functions from results to plotly figures (and one HTML view), testable without a browser."""

from __future__ import annotations

import html
from collections.abc import Sequence

import plotly.graph_objects as go

RAW_COLOR = "#b0b7c3"
FINAL_COLOR = "#2563eb"
CUT_COLOR = "#dc2626"


def visible_token(token: str) -> str:
    """Whitespace made visible, so ' the' and 'the' can be told apart on a chart."""
    return token.replace(" ", "␣").replace("\n", "↵").replace("\t", "⇥") or "∅"


def _unique_labels(labels: Sequence[str], ids: Sequence[int]) -> list[str]:
    seen: dict[str, int] = {}
    for label in labels:
        seen[label] = seen.get(label, 0) + 1
    return [f"{label} (#{i})" if seen[label] > 1 else label for label, i in zip(labels, ids)]


def next_token_figure(distribution, title_note: str = "") -> go.Figure:
    """Horizontal bars of the most likely next tokens: the model's raw probability and the
    probability after temperature / top-k / top-p; tokens the sampler can no longer pick are
    marked 'cut'."""
    tokens = distribution.tokens
    labels = _unique_labels([visible_token(t.token) for t in tokens], [t.id for t in tokens])
    cut = [t.p_final == 0 for t in tokens]
    figure = go.Figure()
    figure.add_bar(
        y=labels, x=[t.p_raw for t in tokens], orientation="h", name="model (raw logits)", marker_color=RAW_COLOR,
        hovertemplate="%{y}: %{x:.2%}<extra>raw</extra>",
    )
    figure.add_bar(
        y=labels, x=[t.p_final for t in tokens], orientation="h", name="after your settings",
        marker_color=FINAL_COLOR, text=["cut" if c else f"{t.p_final:.1%}" for c, t in zip(cut, tokens)],
        textposition="outside", textfont={"color": [CUT_COLOR if c else "#111827" for c in cut]},
        hovertemplate="%{y}: %{x:.2%}<extra>after settings</extra>",
    )
    kept = f"the sampler can pick {distribution.kept:,} of {distribution.vocab_size:,} tokens"
    figure.update_layout(
        title={"text": f"Next-token probabilities: {kept}{title_note}", "font": {"size": 14}},
        barmode="group",
        yaxis={"autorange": "reversed", "type": "category"},
        xaxis={"title": "probability", "tickformat": ".2~%", "rangemode": "tozero"},  # 0.5%, not a rounded 1% twice
        legend={"orientation": "h", "y": -0.15},
        margin={"l": 10, "r": 30, "t": 40, "b": 10},
        height=520,
        template="plotly_white",
    )
    return figure


def rouge_bar_figure(rows: Sequence[dict]) -> go.Figure:
    """Grouped bars of mean ROUGE per prompt variant with 95% bootstrap intervals.
    rows: dicts with variant, metric, mean, low, high."""
    figure = go.Figure()
    for metric in dict.fromkeys(r["metric"] for r in rows):
        part = [r for r in rows if r["metric"] == metric]
        figure.add_bar(
            name=metric,
            x=[r["variant"] for r in part],
            y=[r["mean"] for r in part],
            error_y={
                "type": "data", "symmetric": False,
                "array": [r["high"] - r["mean"] for r in part],
                "arrayminus": [r["mean"] - r["low"] for r in part],
            },
            hovertemplate="%{x}<br>" + metric + ": %{y:.3f}<extra></extra>",
        )
    figure.update_layout(
        title={"text": "Mean ROUGE per prompt (error bars: 95% bootstrap interval)", "font": {"size": 14}},
        barmode="group",
        yaxis={"title": "F-measure", "rangemode": "tozero"},
        template="plotly_white",
        height=420,
        margin={"l": 10, "r": 10, "t": 40, "b": 10},
    )
    return figure


def token_heatmap_html(pieces: Sequence[tuple[str, float]]) -> str:
    """Each generated token on a background whose strength shows how likely the model found it
    (light = unlikely). pieces: (token text, probability)."""
    spans = []
    for text, p in pieces:
        alpha = 0.08 + 0.6 * max(0.0, min(1.0, p))
        # low probability in orange, high in blue, so surprises stand out
        color = f"rgba(37, 99, 235, {alpha:.2f})" if p >= 0.5 else f"rgba(234, 88, 12, {0.7 - alpha / 1.5:.2f})"
        spans.append(
            f'<span class="tok" title="p = {p:.3f}" style="background:{color};border-radius:3px;'
            f'white-space:pre-wrap">{html.escape(text)}</span>'
        )
    legend = (
        '<div style="font-size:12px;color:#6b7280;margin-top:6px">'
        '<span style="background:rgba(234,88,12,0.55);padding:0 4px">unlikely</span> … '
        '<span style="background:rgba(37,99,235,0.6);padding:0 4px">likely</span>'
        " (hover a token for its probability)</div>"
    )
    return f'<div class="token-heatmap" style="line-height:1.9">{"".join(spans)}</div>{legend}'


TRAINING_PANELS = [
    ("Loss", ("loss", "eval_loss")),
    ("Learning rate", ("learning_rate",)),
    ("Gradient norm", ("grad_norm",)),
    ("Tokens / s (non-padding)", ("tokens_per_s",)),
    ("Memory (MB)", ("memory_mb",)),
    ("Validation token accuracy", ("eval_mean_token_accuracy",)),
]
# Runs that learn from preference pairs (reward model, DPO): what they learned, on held-out pairs.
PREFERENCE_PANELS = [
    ("Loss", ("loss", "eval_loss")),
    ("Accuracy (chosen ranked first)", ("accuracy", "eval_accuracy", "rewards/accuracies", "eval_rewards/accuracies")),
    ("Margin (chosen − rejected)", ("margin", "eval_margin", "rewards/margins", "eval_rewards/margins")),
    ("Rewards", ("rewards/chosen", "rewards/rejected", "mean_reward")),
    ("Learning rate", ("learning_rate",)),
    ("Memory (MB)", ("memory_mb",)),
]
# KTO: single replies marked good (its "chosen") or bad ("rejected"); no accuracy, a KL estimate instead.
KTO_PANELS = [
    ("Loss", ("loss", "eval_loss")),
    ("Margin (good − bad implicit reward)", ("rewards/margins", "eval_rewards/margins")),
    ("Implicit rewards", ("rewards/chosen", "rewards/rejected")),
    ("KL estimate to the reference", ("kl", "eval_kl")),
    ("Learning rate", ("learning_rate",)),
    ("Memory (MB)", ("memory_mb",)),
]
SERIES_NAMES = {"loss": "training loss", "eval_loss": "validation loss", "accuracy": "training batches",
                "eval_accuracy": "held-out", "rewards/accuracies": "training batches",
                "eval_rewards/accuracies": "held-out", "rewards/chosen": "chosen / good",
                "rewards/rejected": "rejected / bad", "mean_reward": "mean reward"}
# PPO: what the policy earns and what it costs (drift from the reference), per update. TRL's PPO sums
# KL and entropy over a reply's tokens; its KL is a sampled estimate, which can dip below 0.
PPO_PANELS = [
    ("Reward model score", ("objective/scores",)),
    ("KL to the reference (nats per reply)", ("objective/kl",)),
    ("RLHF reward (score − KL penalty)", ("objective/rlhf_reward",)),
    ("Entropy (nats per reply)", ("objective/entropy",)),
    ("Reply length (tokens)", ("response_length",)),
    ("Value loss", ("loss/value_avg",)),
]
# RLOO and GRPO (TRL's names for what they log; KL and entropy are means over the replies' tokens).
GROUP_PANELS = [
    ("Reward", ("reward",)),
    ("KL to the reference (nats per token)", ("kl",)),
    ("Reward spread within a prompt's group", ("reward_std",)),
    ("Entropy (nats per token)", ("entropy",)),
    ("Reply length (tokens)", ("completions/mean_length",)),
    ("Loss", ("loss",)),
]
PREFERENCE_KINDS = ("reward", "dpo")


def panels_for(kind: str) -> list:
    if kind in ("grpo", "rloo"):
        return GROUP_PANELS
    if kind == "ppo":
        return PPO_PANELS
    if kind == "kto":
        return KTO_PANELS
    return PREFERENCE_PANELS if kind in PREFERENCE_KINDS else TRAINING_PANELS


def training_figure(events: Sequence[dict], title: str = "", panels: Sequence = TRAINING_PANELS) -> go.Figure:
    """Six small charts of a run's logged metrics against the training step."""
    from plotly.subplots import make_subplots

    logs = [e for e in events if e.get("type") == "log"]
    figure = make_subplots(rows=2, cols=3, subplot_titles=[name for name, _ in panels],
                           horizontal_spacing=0.07, vertical_spacing=0.16)
    colors: dict[str, str] = {}  # one color per series name, the same in every panel, in the legend once
    legend = any(len(keys) > 1 for _, keys in panels)  # else each panel's title names its one series
    for index, (_, keys) in enumerate(panels):
        row, col = index // 3 + 1, index % 3 + 1
        values = [e[key] for e in logs for key in keys if key in e]
        if values and min(values) >= 0:  # (a flat 0, e.g. a random model's token accuracy, drew -1 to 1)
            figure.update_yaxes(rangemode="nonnegative", row=row, col=col)
        for key in keys:
            points = [(e["step"], e[key]) for e in logs if key in e]
            if points:
                name = SERIES_NAMES.get(key, key)
                first = name not in colors
                color = colors.setdefault(name, MODEL_COLORS[(len(colors) + 1) % len(MODEL_COLORS)])
                figure.add_scatter(x=[p[0] for p in points], y=[p[1] for p in points], mode="lines+markers",
                                   marker={"size": 4, "color": color}, line={"color": color}, name=name, legendgroup=name,
                                   row=row, col=col, showlegend=legend and key in SERIES_NAMES and first)
        figure.update_xaxes(title_text="step" if row == 2 else None, row=row, col=col)
    figure.update_layout(title={"text": title, "font": {"size": 14}}, height=520, template="plotly_white",
                         margin={"l": 10, "r": 10, "t": 60, "b": 10}, legend={"orientation": "h", "y": 1.12})
    return figure


def reward_histogram_figure(chosen: Sequence[float], rejected: Sequence[float], title: str = "") -> go.Figure:
    """Overlaid histograms of a reward model's scores for the chosen and the rejected replies of
    held-out pairs: the further apart, the better it separates them."""
    figure = go.Figure()
    figure.add_histogram(x=list(chosen), name="chosen", marker_color="#16a34a", opacity=0.6, nbinsx=30)
    figure.add_histogram(x=list(rejected), name="rejected", marker_color="#dc2626", opacity=0.6, nbinsx=30)
    figure.update_layout(barmode="overlay", title={"text": title or "Rewards of held-out replies", "font": {"size": 14}},
                         xaxis={"title": "reward"}, yaxis={"title": "replies"}, template="plotly_white", height=360,
                         margin={"l": 10, "r": 10, "t": 50, "b": 10}, legend={"orientation": "h", "y": 1.1})
    return figure


REWARD_KL_METHODS = {"ppo": ("PPO", "#2563eb"), "rloo": ("RLOO", "#16a34a"), "grpo": ("GRPO", "#db2777")}
REWARD_MODEL_SYMBOLS = ["circle", "square", "diamond", "triangle-up", "cross", "star"]


def reward_kl_figure(points: Sequence[dict]) -> go.Figure:
    """Every policy run as a point: KL to its reference (x) against the change in held-out reward
    (y, with its 95% interval); one color per method, one symbol per reward model. Reward bought
    with ever more KL, or reward that stops rising as KL grows, is the sign of over-optimization.
    points: {"name", "method", "kl", "change", "low", "high", "reward_model", "weight"}."""
    if not points:
        return message_figure("No finished PPO, RLOO or GRPO run yet", "Reward vs KL over your RLHF runs", 420)
    figure = go.Figure()
    symbols = {rm: REWARD_MODEL_SYMBOLS[i % len(REWARD_MODEL_SYMBOLS)]
               for i, rm in enumerate(dict.fromkeys(p["reward_model"] for p in points))}
    for method, (title, color) in REWARD_KL_METHODS.items():
        mine = sorted((p for p in points if p["method"] == method), key=lambda p: p["kl"])
        if not mine:
            continue
        figure.add_scatter(
            x=[p["kl"] for p in mine], y=[p["change"] for p in mine], mode="markers", name=title,
            marker={"size": 11, "color": color, "symbol": [symbols[p["reward_model"]] for p in mine]},
            error_y={"type": "data", "symmetric": False, "array": [p["high"] - p["change"] for p in mine],
                     "arrayminus": [p["change"] - p["low"] for p in mine], "thickness": 1},
            text=[f"{p['name']}<br>reward model: {p['reward_model']}<br>KL weight: {p['weight']}" for p in mine],
            hovertemplate="%{text}<br>KL %{x:.2f} nats · reward change %{y:+.3f}<extra></extra>")
    figure.add_hline(y=0, line={"color": "#9ca3af", "dash": "dot"})
    figure.update_layout(title={"text": "Reward vs KL over your RLHF runs (compare runs on the same reward model: same symbol)",
                                "font": {"size": 14}},
                         xaxis={"title": "KL to the reference (nats per reply, held-out)", "rangemode": "tozero"},
                         yaxis={"title": "held-out reward change (95% interval)"}, template="plotly_white", height=420,
                         margin={"l": 10, "r": 10, "t": 50, "b": 10}, legend={"orientation": "h", "y": -0.2})
    return figure


def memory_figure(estimates: dict, chosen: str | None = None) -> go.Figure:
    """Stacked bars of estimated peak memory per method, with the device's free memory, in the unit
    the largest bar reads best in (GiB, or MiB for a tiny model); the method `chosen` on the form is
    named in bold, "(yours)" under it. estimates: method -> MemoryEstimate."""
    parts = [("weights", "#64748b"), ("gradients", "#f59e0b"), ("optimizer", "#ef4444"), ("activations", "#3b82f6")]
    methods = list(estimates)
    totals_gib = [estimates[m].total / 2**30 for m in methods]
    unit, scale = size_unit(max(totals_gib, default=0))
    figure = go.Figure()
    for part, color in parts:
        figure.add_bar(name=part, x=methods, y=[getattr(estimates[m], part) / 2**30 * scale for m in methods],
                       marker_color=color, hovertemplate="%{x}: %{y:.3g} " + unit + "<extra>" + part + "</extra>")
    totals = [t * scale for t in totals_gib]
    figure.add_scatter(x=methods, y=totals, mode="text", text=gib_texts(totals_gib), textposition="top center",
                       showlegend=False, hoverinfo="skip")
    available_gib = next(iter(estimates.values())).available / 2**30 if estimates else 0
    available, top = available_gib * scale, max(totals, default=0)
    title = "Estimated peak memory per method"
    if available <= 3 * top:  # the free memory fits on the same scale: a line to compare the bars with
        figure.add_hline(y=available, line_dash="dash", line_color="#111827",
                         annotation_text=f"free now: {gib_text(available_gib)}", annotation_position="top left")
    else:  # a line far above would flatten every bar to nothing
        title += (f"<br><sup>free now: {gib_text(available_gib)}, {available / top:,.0f}x the largest: off this scale, "
                  "every method fits</sup>")
    figure.update_layout(barmode="stack", title={"text": title, "font": {"size": 14}},
                         yaxis={"title": unit, "rangemode": "tozero"}, template="plotly_white", height=400,
                         margin={"l": 10, "r": 10, "t": 60, "b": 10})
    if available > 3 * top:
        figure.update_yaxes(range=[0, top * 1.2])
    figure.update_xaxes(tickvals=methods, ticktext=[f"<b>{m}</b><br>(yours)" if m == chosen else m for m in methods])
    return figure


def size_unit(largest_gib: float) -> tuple[str, int]:
    """(unit, values per GiB) that gib_text writes a size of `largest_gib` GiB in."""
    unit = gib_text(largest_gib).split()[-1]
    return unit, {"GiB": 1, "MiB": 1024, "KiB": 2**20}[unit]


def gib_text(value: float) -> str:
    """A size given in GiB, in the unit and with the digits that matter for it (12.3 GiB, 0.42 GiB,
    28.9 MiB, 640 KiB): a tiny model's LoRA gradients are no "0.00 GiB"."""
    if value >= 10:
        return f"{value:,.1f} GiB"
    if value >= 0.1:
        return f"{value:.3g} GiB"
    return f"{value * 1024:.3g} MiB" if value * 1024 >= 0.1 else f"{value * 2**20:.3g} KiB"


def gib_texts(values: Sequence[float]) -> list[str]:
    """Sizes given in GiB, all in the unit gib_text picks for the largest (bars side by side are
    read against each other: no "0.102 GiB" beside "99.7 MiB")."""
    unit, scale = size_unit(max(values, default=0))
    return [f"{v * scale:,.1f} {unit}" if v * scale >= 10 else f"{v * scale:.3g} {unit}" for v in values]


def message_figure(text: str, title: str = "Next-token probabilities: none to show", height: int = 520) -> go.Figure:
    """An empty chart that says why it is empty (instead of a previous, unrelated chart)."""
    figure = go.Figure()
    figure.add_annotation(text=text, showarrow=False, font={"size": 14, "color": "#6b7280"}, x=0.5, y=0.5,
                          xref="paper", yref="paper")
    figure.update_layout(template="plotly_white", height=height, xaxis={"visible": False}, yaxis={"visible": False},
                         title={"text": title, "font": {"size": 14}})
    return figure


# ---- evaluation ----
MODEL_COLORS = ["#64748b", "#2563eb", "#16a34a", "#f59e0b", "#db2777", "#7c3aed", "#0891b2", "#dc2626"]


def _model_color(index: int) -> str:
    return MODEL_COLORS[index % len(MODEL_COLORS)]


def _metric_grid(metrics: Sequence[str], labels: dict[str, str]) -> tuple[go.Figure, int, int]:
    """Small multiples: one subplot per metric, up to four a row."""
    from plotly.subplots import make_subplots

    cols = min(4, max(len(metrics), 1))
    rows = max(1, -(-len(metrics) // cols))
    figure = make_subplots(rows=rows, cols=cols, subplot_titles=[labels.get(m, m) for m in metrics],
                           horizontal_spacing=0.06, vertical_spacing=0.22)
    return figure, cols, rows


LOG_AXIS_SPAN = 100  # values this many times apart get a log axis: on a linear one the smaller bars vanish


def eval_scores_figure(task: dict, metrics: Sequence[str], labels: dict[str, str]) -> go.Figure:
    """One small bar chart per metric: each model's value with its 95% bootstrap interval; on a log
    axis where the values span orders of magnitude (a base model's perplexity beside a tuned one's)."""
    metrics = [m for m in metrics if any(m in s for s in task["scores"].values())]
    # the intervals count too: two perplexities 25x apart whose intervals span 1e2 to 1e16 hid a bar on a linear axis
    spans = {m: ([s[m]["low"] for s in task["scores"].values() if m in s], [s[m]["high"] for s in task["scores"].values()
                                                                              if m in s]) for m in metrics}
    log_axis = {m for m, (lows, highs) in spans.items() if min(lows) > 0 and max(highs) / min(lows) >= LOG_AXIS_SPAN}
    figure, cols, rows = _metric_grid(metrics, {m: labels.get(m, m) + (" (log scale)" if m in log_axis else "")
                                                for m in metrics})
    for index, metric in enumerate(metrics):
        row, col = index // cols + 1, index % cols + 1
        if metric in log_axis:
            figure.update_yaxes(type="log", row=row, col=col)
        elif min(spans[metric][0]) >= 0:
            figure.update_yaxes(rangemode="nonnegative", row=row, col=col)  # all zeros: 0-1, not -1 to 1
        for m_index, (model, scores) in enumerate(task["scores"].items()):
            if metric not in scores:
                continue
            s = scores[metric]
            figure.add_bar(x=[model], y=[s["value"]], name=model, marker_color=_model_color(m_index),
                           error_y={"type": "data", "symmetric": False, "array": [s["high"] - s["value"]],
                                    "arrayminus": [s["value"] - s["low"]]},
                           showlegend=index == 0, legendgroup=model, row=row, col=col,
                           hovertemplate=f"{model}: %{{y:.4g}} (95% CI {s['low']:.4g} – {s['high']:.4g})<extra>{metric}</extra>")
    figure.update_layout(title={"text": f"Scores on the {task['name']} ({task['n']} examples), 95% bootstrap intervals",
                                "font": {"size": 14}}, template="plotly_white", height=260 * rows + 80,
                         margin={"l": 10, "r": 10, "t": 70, "b": 40},
                         legend={"orientation": "h", "y": -0.04, "yanchor": "top", "x": 0.5, "xanchor": "center"})
    figure.update_xaxes(showticklabels=False)
    return figure


def _changes_span_orders(task: dict, metric: str) -> bool:
    """Whether the models' changes of `metric` are orders of magnitude apart (a base perplexity of
    1e16 falling to 8 beside one falling from 30 to 20): on a linear axis the small ones vanish, so
    the chart draws relative changes; only where every change has one (a base value of 0 has none)."""
    changes = [c[metric] for c in task["changes"].values() if metric in c]
    sizes = [abs(d["diff"]) for d in changes if d["diff"]]
    if len(sizes) < 2 or any(d["relative"] is None or not d["diff"] for d in changes):
        return False
    return max(sizes) / min(sizes) >= LOG_AXIS_SPAN


def eval_changes_figure(task: dict, metrics: Sequence[str], labels: dict[str, str], directions: dict[str, int]) -> go.Figure:
    """One small chart per metric: each tuned model's change against the base with its paired 95%
    interval; green = a real improvement, red = a real decline, grey = could be noise."""
    metrics = [m for m in metrics if any(m in c for c in task["changes"].values())]
    as_share = {m for m in metrics if _changes_span_orders(task, m)}
    figure, cols, rows = _metric_grid(metrics, {m: labels.get(m, m) + (" (relative change)" if m in as_share else "")
                                                for m in metrics})
    for index, metric in enumerate(metrics):
        row, col = index // cols + 1, index % cols + 1
        if metric in as_share:
            figure.update_yaxes(tickformat="+.0%", row=row, col=col)
        for model, changes in task["changes"].items():
            if metric not in changes:
                continue
            d = changes[metric]
            better = d["diff"] * directions.get(metric, 0)
            color = "#9ca3af" if not d["real"] else ("#16a34a" if better > 0 else "#dc2626" if better < 0 else "#2563eb")
            relative = f", {d['relative']:+.1%}" if d["relative"] is not None else ""
            # as a share of the base's value where the changes are orders apart: -99.99% beside -20%, both seen
            scale = d["relative"] / d["diff"] if metric in as_share else 1.0
            figure.add_bar(x=[model], y=[d["diff"] * scale], marker_color=color, showlegend=False, row=row, col=col,
                           error_y={"type": "data", "symmetric": False, "array": [(d["high"] - d["diff"]) * scale],
                                    "arrayminus": [(d["diff"] - d["low"]) * scale]},
                           hovertemplate=(f"{model}: {d['diff']:+.4g}{relative} (95% CI {d['low']:+.4g} – {d['high']:+.4g}, "
                                          f"p={d['p_value']:.3f})<extra>{metric}</extra>"))
        figure.add_hline(y=0, line_color="#111827", line_width=1, row=row, col=col)
    figure.update_layout(template="plotly_white", height=260 * rows + 80,
                         title={"text": "Change vs the base (paired bootstrap on the same examples): green = real "
                                        "improvement, red = real decline, grey = could be noise", "font": {"size": 13}},
                         margin={"l": 10, "r": 10, "t": 70, "b": 10})
    return figure


def forgetting_figure(points: Sequence[dict], metric_label: str, own: str, other: str) -> go.Figure:
    """Learning vs forgetting (Biderman et al., 2024): each model's change on the task it was tuned
    for (x) against its change on another task (y), both vs the base, with 95% intervals."""
    figure = go.Figure()
    for index, p in enumerate(points):
        figure.add_scatter(
            x=[p["own_task_change"]], y=[p["other_task_change"]], mode="markers+text", text=[p["model"]],
            textposition="top center", name=p["model"], marker={"size": 12, "color": _model_color(index + 1)},
            error_x={"type": "data", "symmetric": False, "array": [p["own_high"] - p["own_task_change"]],
                     "arrayminus": [p["own_task_change"] - p["own_low"]]},
            error_y={"type": "data", "symmetric": False, "array": [p["other_high"] - p["other_task_change"]],
                     "arrayminus": [p["other_task_change"] - p["other_low"]]})
    figure.add_hline(y=0, line_color="#9ca3af", line_width=1)
    figure.add_vline(x=0, line_color="#9ca3af", line_width=1)
    figure.update_layout(template="plotly_white", height=420, showlegend=False,
                         xaxis={"title": f"learned: change in {metric_label} on {own}"},
                         yaxis={"title": f"forgot (below 0): change in {metric_label} on {other}"},
                         title={"text": "Learning vs forgetting: right = learned more, down = forgot more",
                                "font": {"size": 14}}, margin={"l": 10, "r": 10, "t": 50, "b": 10})
    return figure


def leaderboard_figure(standings: Sequence) -> go.Figure:
    """Each source's Bradley-Terry rating with its 95% bootstrap interval, best on top."""
    rows = list(reversed(list(standings)))
    figure = go.Figure()
    figure.add_scatter(x=[s.rating for s in rows], y=[s.source for s in rows], mode="markers",
                       marker={"size": 12, "color": FINAL_COLOR},
                       error_x={"type": "data", "symmetric": False, "array": [s.high - s.rating for s in rows],
                                "arrayminus": [s.rating - s.low for s in rows]},
                       hovertemplate="%{y}: %{x:.0f}<extra></extra>")
    figure.update_layout(template="plotly_white", height=120 + 40 * len(rows), showlegend=False,
                         xaxis={"title": "rating (Bradley-Terry, arena scale; 95% bootstrap interval)"},
                         title={"text": "Leaderboard from your votes", "font": {"size": 14}},
                         margin={"l": 10, "r": 10, "t": 40, "b": 10})
    return figure
