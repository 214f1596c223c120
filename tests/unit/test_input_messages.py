"""What a page says about a value its input can't take (pages.common.explain_bad_inputs), without a browser."""

import gradio as gr
import pytest

from pages.common import explain_bad_inputs


def test_an_out_of_range_number_names_its_field():
    """Gradio's own "Value 0 is less than minimum value 1." named no field: in a long form, which?"""
    with gr.Blocks() as blocks:
        steps = gr.Number(10, label="Max steps", minimum=1)
        rank = gr.Slider(1, 128, value=16, label="LoRA rank (r)")
    explain_bad_inputs(blocks)
    with pytest.raises(gr.Error) as raised:
        steps.preprocess(0)
    assert raised.value.message == "'Max steps': Value 0 is less than minimum value 1."
    with pytest.raises(gr.Error) as raised:
        rank.preprocess(500)
    assert raised.value.message == "'LoRA rank (r)': Value 500 is greater than maximum value 128."
    with pytest.raises(gr.Error) as raised:
        steps.preprocess("ten")
    assert raised.value.message == "'Max steps' can't be 'ten': it takes a number."
    assert steps.preprocess(3) == 3
