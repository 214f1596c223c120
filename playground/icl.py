"""In-context learning experiments: zero-, one- and few-shot prompts of one example side by
side, and the same variants over many examples with mean ROUGE and bootstrap intervals."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from playground.data import ExampleSet
from playground.errors import PlaygroundError
from playground.generation import DecodingParams, PromptTokens, generate, prompt_budget
from playground.metrics import ROUGE_KEYS, bootstrap_ci, rouge
from playground.models import LoadedModel
from playground.prompts import (
    OVERFLOW_POLICIES,
    FittedPrompt,
    PromptTemplate,
    choose_shots,
    fit_prompt,
    standard_variants,
)

ProgressFn = Callable[[float, str], None]

BATCH_COLUMNS = ["example", "variant", "shots", "prompt_tokens", "completion", "reference", *ROUGE_KEYS]  # a batch row


@dataclass
class Setup:
    """Everything that decides the prompts of one experiment."""

    template: PromptTemplate
    k: int = 3
    seed: int = 0
    shot_indices: Sequence[int] = ()  # explicit shots; empty = k drawn at random with the seed
    policy: str = "ask"
    chat: bool = True


@dataclass
class VariantPrompt:
    kind: str  # Zero-shot, One-shot or Few-shot
    asked: int  # the shots asked for
    fitted: FittedPrompt

    @property
    def name(self) -> str:
        """The variant with the shots it really has (fewer than asked when shots were dropped to fit)."""
        used = len(self.fitted.shot_indices)
        if self.kind == "Few-shot":
            return f"Few-shot (k={used})" if used == self.asked else f"Few-shot (k={used} of {self.asked} asked)"
        return self.kind if used == self.asked else f"{self.kind} ({used} shots: dropped to fit)"


@dataclass
class VariantResult:
    name: str
    prompt: FittedPrompt
    completion: str | None  # None when the prompt did not fit and was not run
    scores: dict[str, float] | None
    tokens_per_s: float = 0.0

    @property
    def ran(self) -> bool:
        return self.completion is not None


@dataclass
class BatchResult:
    rows: list[dict] = field(default_factory=list)  # one per (example, variant)
    summary: list[dict] = field(default_factory=list)  # one per (variant, metric): mean, low, high

    def to_csv(self) -> str:
        if not self.rows:
            return ""
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=list(self.rows[0]))
        writer.writeheader()
        writer.writerows(self.rows)
        return out.getvalue()


def build_variant_prompts(
    examples: ExampleSet, setup: Setup, query_index: int, tokenizer, context_window: int, max_new_tokens: int,
    encoder_decoder: bool = False,
) -> list[VariantPrompt]:
    """The three prompts for one example, each fitted (or flagged) against the context window."""
    few = choose_shots(len(examples), setup.k, query_index, setup.seed, setup.shot_indices)
    counter = PromptTokens(tokenizer, setup.chat)
    budget = prompt_budget(context_window, max_new_tokens, encoder_decoder)
    pairs = examples.pairs()
    return [
        VariantPrompt(
            variant.name.split(" (")[0], len(variant.shot_indices),
            fit_prompt(setup.template, pairs, variant.shot_indices, examples.inputs[query_index], counter, budget, setup.policy),
        )
        for variant in standard_variants(few)
    ]


def largest_fitting_k(examples: ExampleSet, setup: Setup, query_index: int, tokenizer, context_window: int,
                      max_new_tokens: int, encoder_decoder: bool = False) -> int:
    """The most shots (up to setup.k) whose few-shot prompt fits the window with room for the answer."""
    for k in range(setup.k, 0, -1):
        trial = Setup(template=setup.template, k=k, seed=setup.seed, policy="ask", chat=setup.chat)
        if build_variant_prompts(examples, trial, query_index, tokenizer, context_window, max_new_tokens,
                                 encoder_decoder)[2].fitted.fits:
            return k
    return 0


def overflow_message(prompts: Sequence[VariantPrompt], where: str = "", encoder_decoder: bool = False) -> str | None:
    """A question for the user when any prompt overflows under the 'ask' policy, else None."""
    over = [p for p in prompts if not p.fitted.fits]
    if not over:
        return None
    listed = "; ".join(f"{p.name}: {p.fitted.n_tokens:,} tokens" for p in over)
    budget = over[0].fitted.budget
    choose = (f"Choose '{OVERFLOW_POLICIES['drop_shots']}' or '{OVERFLOW_POLICIES['truncate']}' under "
              "'If a prompt is too long', or use fewer shots")
    if encoder_decoder:  # max new tokens takes nothing from the encoder's window
        return f"Too long for the model's encoder{where}: {listed}, but it reads only {budget:,}. {choose}."
    return (f"Too long for the context window{where}: {listed}, but only {budget:,} fit (the window minus max new "
            f"tokens). {choose}, or lower max new tokens.")


def run_variants(
    lm: LoadedModel, prompts: Sequence[VariantPrompt], reference: str, params: DecodingParams, chat: bool,
    adapter: str | None = None,
) -> list[VariantResult]:
    """Runs the prompts that fit; one that does not is not run (its result has no completion),
    and `overflow_message` says what to choose."""
    results = []
    for prompt in prompts:
        if not prompt.fitted.fits:
            results.append(VariantResult(prompt.name, prompt.fitted, None, None))
            continue
        out = generate(lm, prompt.fitted.text, params, chat=chat, adapter=adapter)
        completion = out.text.strip()
        results.append(VariantResult(prompt.name, prompt.fitted, completion, rouge(completion, reference), out.tokens_per_s))
    return results


def _batch_labels(rows: list[dict]) -> dict[str, str]:
    """Each variant's label with the shots it really used over the batch (fewer where dropped to fit)."""
    labels = {}
    for kind in dict.fromkeys(r["variant"] for r in rows):
        counts = sorted({len(r["shots"].split()) for r in rows if r["variant"] == kind})
        k = str(counts[0]) if len(counts) == 1 else f"{counts[0]}–{counts[-1]}"
        labels[kind] = f"Few-shot (k={k})" if kind == "Few-shot" else kind if counts in ([0], [1]) else f"{kind} (k={k})"
    return labels


def run_batch(
    lm: LoadedModel,
    examples: ExampleSet,
    setup: Setup,
    params: DecodingParams,
    n_examples: int,
    progress: ProgressFn = lambda f, m: None,
    adapter: str | None = None,
) -> BatchResult:
    """Each variant over the first n examples (shots drawn per example with the seed)."""
    if not 1 <= n_examples <= len(examples):
        raise PlaygroundError(f"Number of examples must be between 1 and {len(examples)} (got {n_examples}).")
    planned = []
    for index in range(n_examples):
        prompts = build_variant_prompts(examples, setup, index, lm.tokenizer, lm.context_window, params.max_new_tokens,
                                        lm.encoder_decoder)
        message = overflow_message(prompts, where=f" at example #{index}", encoder_decoder=lm.encoder_decoder)
        if message:
            raise PlaygroundError(message)  # checked for every example before anything runs
        planned.append((index, prompts))
    result = BatchResult()
    total = n_examples * 3
    for index, prompts in planned:
        for prompt in prompts:
            progress(len(result.rows) / total, f"Example {index + 1}/{n_examples}: {prompt.name}")
            completion = generate(lm, prompt.fitted.text, params, chat=setup.chat, adapter=adapter).text.strip()
            reference = examples.references[index]
            result.rows.append(
                {
                    "example": index,
                    "variant": prompt.kind,
                    "shots": " ".join(map(str, prompt.fitted.shot_indices)),
                    "prompt_tokens": prompt.fitted.n_tokens,
                    "completion": completion,
                    "reference": reference,
                    **{key: round(value, 4) for key, value in rouge(completion, reference).items()},
                }
            )
    labels = _batch_labels(result.rows)
    for row in result.rows:
        row["variant"] = labels[row["variant"]]
    for name in dict.fromkeys(r["variant"] for r in result.rows):
        for key in ROUGE_KEYS:
            mean, low, high = bootstrap_ci([r[key] for r in result.rows if r["variant"] == name])
            result.summary.append({"variant": name, "metric": key, "mean": mean, "low": low, "high": high})
    progress(1.0, "Done")
    return result
