"""A model's transformer blocks, found the same way for every architecture: the classes its
`_no_split_modules` names (e.g. T5Block, which accelerate never splits across devices), and any
*DecoderLayer or *EncoderLayer. Stopping a run checks in each block; selective fine-tuning
unfreezes the last ones."""

from __future__ import annotations

from playground.errors import PlaygroundError


def _base(model):
    return model.get_base_model() if hasattr(model, "get_base_model") else model


def blocks(model) -> list:
    """Every transformer block in the model, in module order."""
    names = set(getattr(_base(model), "_no_split_modules", None) or ())
    return [m for m in model.modules()
            if type(m).__name__.endswith(("DecoderLayer", "EncoderLayer")) or type(m).__name__ in names]


def block_counts(config) -> list[int]:
    """How many blocks each stack has, read from the config (no weights): [layers] for a
    decoder-only model, [encoder, decoder] for an encoder-decoder one; [] when the config doesn't say."""
    text = config.get_text_config() if hasattr(config, "get_text_config") else config  # a multimodal model's text part
    layers = getattr(text, "num_hidden_layers", None)
    if not layers:
        return []
    if getattr(config, "is_encoder_decoder", False):
        decoder = getattr(text, "num_decoder_layers", None) or getattr(text, "decoder_layers", None)  # T5's; BART's
        return [layers, decoder or layers]
    return [layers]


def block_stacks(model) -> list:
    """Each stack of the text model's blocks, in order: a decoder-only model's one; an
    encoder-decoder's encoder and decoder (a multimodal model's vision tower is left out). Raises
    when none is found."""
    import torch

    base = _base(model)
    parts = [base.get_encoder(), base.get_decoder()] if getattr(base.config, "is_encoder_decoder", False) \
        else [base.get_decoder()]
    found = {id(b) for b in blocks(model)}
    stacks: list = []
    for part in parts:
        stacks += [m for m in part.modules() if isinstance(m, torch.nn.ModuleList) and len(m)
                   and all(id(b) in found for b in m) and all(m is not s for s in stacks)]
    if not stacks:
        raise PlaygroundError(f"The transformer blocks of a '{base.config.model_type}' model are not known here: "
                              "choose biases or norms to train, or another method.")
    return stacks
