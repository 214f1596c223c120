"""Using the page as a person would, with the waits Gradio 6 needs.

DOM facts (Gradio 6.31, found by experiment): a component's elem_id is on its outer block;
a Slider holds an <input type=number> (the box) and an <input type=range>; a Radio is <label>s
around <input type=radio>; a Dropdown is an <input role=combobox> whose options are
<li role=option> inside the same block; a Textbox is a <textarea>; a Markdown's text is in
[data-testid=markdown]; a Plot holds a plotly div (.js-plotly-plot, its `data` is the traces,
.gtitle the title); an Accordion opens with its button.label-wrap; a File holds an
<input type=file> while it is empty; components with visible=False are not in the DOM at all.
"""

from __future__ import annotations

from playwright.sync_api import Locator, Page, expect

TINY = "tiny (built-in, random weights)"


def next_frames(page: Page, n: int = 2) -> None:
    """Wait for n animation frames (Svelte has flushed what the last action changed)."""
    page.evaluate(
        "n => new Promise(done => { const step = k => k ? requestAnimationFrame(() => step(k - 1)) : done(); step(n); })",
        n,
    )


def open_tab(page: Page, name: str) -> None:
    """Click a tab, then wait until it is selected and two frames have passed: right after the
    click Gradio 6 may re-render the tab and reset a control touched too early (known flake)."""
    tab = page.get_by_role("tab", name=name, exact=True)
    tab.click()
    expect(tab).to_have_attribute("aria-selected", "true")
    next_frames(page, 2)


def open_accordion(page: Page, elem_id: str) -> None:
    """Open an accordion (same settling wait as a tab: its content mounts on first open)."""
    block = page.locator(f"#{elem_id}")
    content = block.locator("[data-testid=accordion-content]").first
    if not content.is_visible():
        block.locator("button.label-wrap").first.click()
    expect(content).to_be_visible()
    next_frames(page, 2)


def slider_box(page: Page, elem_id: str) -> Locator:
    return page.locator(f"#{elem_id} input[type=number]")


def drag_slider(page: Page, elem_id: str, value) -> None:
    """Move a slider's range input to `value` (what dragging it does: input + change events)."""
    page.locator(f"#{elem_id} input[type=range]").fill(str(value))
    expect(slider_box(page, elem_id)).to_have_value(str(value))
    next_frames(page, 2)


def type_in_slider(page: Page, elem_id: str, value) -> None:
    """Type a number into the box next to a slider and press Enter."""
    box = slider_box(page, elem_id)
    box.fill(str(value))
    box.press("Enter")
    expect(page.locator(f"#{elem_id} input[type=range]")).to_have_value(str(value))
    next_frames(page, 2)


def choose_radio(page: Page, elem_id: str, label: str) -> None:
    choice = page.locator(f"#{elem_id}").get_by_label(label, exact=True)
    choice.check()
    expect(choice).to_be_checked()


def choose_option(page: Page, elem_id: str, option: str) -> None:
    """Open a dropdown and click one of its options."""
    box = page.locator(f"#{elem_id} input[role=combobox]")
    box.click()
    page.locator(f"#{elem_id} [role=option]").filter(has_text=option).first.click()
    expect(box).to_have_value(option)


def type_in_dropdown(page: Page, elem_id: str, text: str) -> None:
    """Type a custom value into a dropdown that allows one, and press Enter."""
    box = page.locator(f"#{elem_id} input[role=combobox]")
    box.click()
    box.fill(text)
    box.press("Enter")
    expect(box).to_have_value(text)


def fill_textbox(page: Page, elem_id: str, text: str) -> None:
    page.locator(f"#{elem_id} textarea").fill(text)


def set_number(page: Page, elem_id: str, value) -> None:
    """Types a number into a gr.Number and leaves the box (Tab), as a person does."""
    box = page.locator(f"#{elem_id} input").first
    box.fill(str(value))
    box.press("Tab")


def textbox(page: Page, elem_id: str) -> Locator:
    return page.locator(f"#{elem_id} textarea")


def markdown(page: Page, elem_id: str) -> Locator:
    return page.locator(f"#{elem_id} [data-testid=markdown]")


def plot_title(page: Page, elem_id: str) -> str:
    return page.locator(f"#{elem_id} .gtitle").first.text_content() or ""


_TRACES_JS = """id => {
    const div = document.querySelector(`#${id} .js-plotly-plot`);
    return div && div.data ? div.data.map(t => ({name: t.name, x: Array.from(t.x || []), y: Array.from(t.y || [])})) : [];
}"""


def plot_traces(page: Page, elem_id: str) -> list[dict]:
    """The traces the plotly div holds now: [{name, x, y}, ...]."""
    return page.evaluate(_TRACES_JS, elem_id)


def wait_for_plot(page: Page, elem_id: str, n_traces: int = 1, trace_name: str | None = None,
                  timeout: int = 20_000, up_to_x: float | None = None) -> list[dict]:
    """Wait until the plot is drawn with at least `n_traces` traces (and one named `trace_name`,
    if given, reaching x = `up_to_x`, if given); return them. `plot_traces` right after an action
    may still see the old (or no) plot: plotly draws a new figure a moment after the page's text
    around it changed."""
    page.wait_for_function(
        f"([id, n, name, upTo]) => {{ const traces = ({_TRACES_JS})(id);"
        " return traces.length >= n && (name === null || traces.some(t => t.name === name"
        " && (upTo === null || t.x.some(x => x >= upTo)))); }",
        arg=[elem_id, n_traces, trace_name, up_to_x],
        timeout=timeout,
    )
    return plot_traces(page, elem_id)


def remember_plot(page: Page, elem_id: str) -> list[dict]:
    """Note the plot's traces in the page (for `wait_for_plot_change`) and return them."""
    return page.evaluate(
        f"id => {{ const traces = ({_TRACES_JS})(id); window.__plotBefore = window.__plotBefore || {{}};"
        " window.__plotBefore[id] = JSON.stringify(traces); return traces; }",
        elem_id,
    )


def wait_for_plot_change(page: Page, elem_id: str, timeout: int = 20_000) -> list[dict]:
    """Wait until the plot's traces differ from what `remember_plot` noted; return the new ones."""
    page.wait_for_function(
        f"id => {{ const traces = ({_TRACES_JS})(id);"
        " return traces.length > 0 && JSON.stringify(traces) !== window.__plotBefore[id]; }",
        arg=elem_id,
        timeout=timeout,
    )
    return plot_traces(page, elem_id)


def record_textbox_values(page: Page, elem_id: str) -> None:
    """From now on, remember every distinct value a textbox shows (checked every frame)."""
    page.evaluate(
        """id => {
            window.__seen = [];
            const watch = () => {
                const area = document.querySelector(`#${id} textarea`);
                const value = area ? area.value : null;
                if (value !== null && window.__seen[window.__seen.length - 1] !== value) window.__seen.push(value);
                window.__watching = requestAnimationFrame(watch);
            };
            watch();
        }""",
        elem_id,
    )


def recorded_textbox_values(page: Page) -> list[str]:
    return page.evaluate("() => { cancelAnimationFrame(window.__watching); return window.__seen; }")


def expect_no_crash(page: Page) -> None:
    """No traceback and no generic error anywhere: only the app's own plain messages (its info and
    warning toasts included; Gradio's own failures are error toasts)."""
    body = page.locator("body")
    expect(body).not_to_contain_text("Traceback")
    expect(body).not_to_contain_text("Something went wrong")
    expect(page.locator(".toast-body.error")).to_have_count(0)
