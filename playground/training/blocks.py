"""A model's transformer blocks, found the same way for every architecture: the classes its
`_no_split_modules` names (e.g. T5Block, which accelerate never splits across devices), and any
*DecoderLayer. Stopping a run checks in each block; selective fine-tuning unfreezes the last ones."""

from __future__ import annotations


def _block_names(model) -> set[str]:
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    return set(getattr(base, "_no_split_modules", None) or ())


def blocks(model) -> list:
    """Every transformer block in the model, in module order."""
    names = _block_names(model)
    return [m for m in model.modules() if type(m).__name__.endswith("DecoderLayer") or type(m).__name__ in names]


def block_stacks(model) -> list:
    """Each stack of blocks, in order: a decoder-only model's one; an encoder-decoder's encoder and decoder."""
    import torch

    found = {id(b) for b in blocks(model)}
    return [m for m in model.modules()
            if isinstance(m, torch.nn.ModuleList) and len(m) and all(id(b) in found for b in m)]
