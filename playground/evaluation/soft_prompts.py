"""A prompt-tuning adapter made readable: for each learned virtual token, the vocabulary tokens
whose embeddings are nearest to it (cosine similarity), and how far it moved from the text it
started from (Lester et al., 2021 read soft prompts the same way)."""

from __future__ import annotations

import math

from playground.models import LoadedModel


def initial_token_ids(tokenizer, init_text: str, n_virtual: int) -> list[int]:
    """The token ids PEFT starts a TEXT-initialized soft prompt from: the text's tokens, cut or
    repeated to the number of virtual tokens (peft PromptEmbedding)."""
    ids = tokenizer(init_text)["input_ids"]
    if not ids:
        return []
    return (ids * math.ceil(n_virtual / len(ids)))[:n_virtual]


def soft_prompt_report(lm: LoadedModel, adapter: str, top: int = 5) -> dict:
    """{"init_text", "tokens": [{"index", "nearest": [[token, cosine], ...], "initial", "cosine_to_initial",
    "relative_change"}]} for one soft-prompt adapter."""
    import torch

    with torch.inference_mode(), lm.using(adapter) as model:
        config = model.peft_config[adapter]
        # (an encoder-decoder's table has a second half PEFT never feeds to the encoder: only the first is the prompt)
        soft = model.prompt_encoder[adapter].embedding.weight[:config.num_virtual_tokens].detach().float().cpu()
        vocab = model.get_input_embeddings().weight.detach().float().cpu()
    unit = lambda x: x / x.norm(dim=-1, keepdim=True).clamp_min(1e-12)  # noqa: E731
    similarity = unit(soft) @ unit(vocab).T
    best, best_ids = similarity.topk(min(top, vocab.shape[0]), dim=-1)
    init = str(getattr(config, "prompt_tuning_init", "")).split(".")[-1]
    init_text = getattr(config, "prompt_tuning_init_text", None) if init == "TEXT" else None
    start_ids = initial_token_ids(lm.tokenizer, init_text, soft.shape[0]) if init_text else []
    tokens = []
    for i in range(soft.shape[0]):
        row = {"index": i, "nearest": [[lm.tokenizer.decode([t]), round(float(c), 4)]
                                       for t, c in zip(best_ids[i].tolist(), best[i].tolist())],
               "initial": None, "cosine_to_initial": None, "relative_change": None}
        if start_ids:
            start = vocab[start_ids[i]]
            row["initial"] = lm.tokenizer.decode([start_ids[i]])
            row["cosine_to_initial"] = float(unit(soft[i]) @ unit(start))
            row["relative_change"] = float((soft[i] - start).norm() / start.norm().clamp_min(1e-12))
        tokens.append(row)
    return {"init": init, "init_text": init_text, "tokens": tokens}


def report_rows(report: dict) -> list[dict]:
    """The table a page shows: one row per virtual token."""
    return [{"virtual token": t["index"],
             "nearest tokens (cosine)": ", ".join(f"{tok!r} {c:.2f}" for tok, c in t["nearest"]),
             "started as": repr(t["initial"]) if t["initial"] is not None else "random",
             "cosine to start": _round(t["cosine_to_initial"]), "moved (relative)": _round(t["relative_change"])}
            for t in report["tokens"]]


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)
