"""The app starts as a person starts it (`python app.py`) and shows its frame."""

import urllib.request

from playwright.sync_api import expect

from tests.ui.helpers import TINY, markdown


def test_app_runs_as_a_subprocess(app_server):
    assert app_server.process.poll() is None, app_server.log_tail()
    assert app_server.process.args[-1] == "app.py"
    with urllib.request.urlopen(app_server.url, timeout=5) as response:
        assert response.status == 200
    assert f"127.0.0.1:{app_server.port}" in app_server.log(), app_server.log_tail()


def test_page_shows_title_tabs_and_offline_notice(app_page):
    page = app_page
    expect(page).to_have_title("LLM Fine-Tuning Playground")
    expect(page.get_by_role("heading", level=1)).to_contain_text("LLM Fine-Tuning Playground")
    prompt_tab = page.get_by_role("tab", name="Prompt Lab", exact=True)
    decoding_tab = page.get_by_role("tab", name="Decoding Lab", exact=True)
    expect(prompt_tab).to_be_visible()
    expect(decoding_tab).to_be_visible()
    expect(prompt_tab).to_have_attribute("aria-selected", "true")  # the first tab is open
    expect(decoding_tab).to_have_attribute("aria-selected", "false")
    # HF_HUB_OFFLINE=1 and a fresh home: the default model can't be downloaded, so the app says
    # so in plain words and starts with the built-in tiny model.
    status = markdown(page, "model-status")
    expect(status).to_contain_text("⚠️")
    expect(status).to_contain_text("offline")
    expect(status).to_contain_text(f"'{TINY}'")
    expect(page.locator("#model-picker input[role=combobox]")).to_have_value(TINY)
