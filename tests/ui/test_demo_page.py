"""The app as a public Space shows it (SPACE_ID and hf_oauth set, so demo mode is on by default):
the page says it is a demo, offers the Hugging Face sign-in and the admin token, a visitor who
tries to delete an adapter is refused in the page, and the token typed in the page makes that tab
an admin."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.integration.test_demo_mode import SPACE, TOKEN
from tests.ui.conftest import start_app, stop_app
from tests.ui.helpers import choose_option, markdown, open_tab


@pytest.fixture(scope="module")
def space_url(tmp_path_factory):
    folder = tmp_path_factory.mktemp("space")
    (folder / "adapters" / "visitor-target").mkdir(parents=True)
    (folder / "adapters" / "visitor-target" / "adapter_config.json").write_text(
        json.dumps({"peft_type": "LORA", "base_model_name_or_path": "tiny"}))
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("PLAYGROUND_DEMO", raising=False)
        for key, value in {**SPACE, "PLAYGROUND_HOME": str(folder / "home"), "PLAYGROUND_ADAPTERS": str(folder / "adapters"),
                           "PLAYGROUND_ADMIN_TOKEN": TOKEN, "PLAYGROUND_MODEL": "tiny"}.items():
            patch.setenv(key, value)
        server = start_app(Path(tempfile.mkdtemp(prefix="space-page-")))
    yield server.url, folder
    stop_app(server)


def test_a_visitor_sees_the_demo_and_is_refused_an_admin_action_until_the_token(page, space_url):
    url, folder = space_url
    page.goto(url)
    expect(markdown(page, "access-mode")).to_contain_text("Demo mode")
    expect(markdown(page, "access-mode")).to_contain_text("256 new tokens")
    expect(page.locator("#hub-login")).to_contain_text("Sign in with Hugging Face")
    expect(markdown(page, "access-who")).to_contain_text("You are a visitor here")
    open_tab(page, "Fine-tune")
    expect(page.locator("#ft-adapters")).to_contain_text("visitor-target", timeout=30_000)  # listed by the timer
    choose_option(page, "ft-adapter-picker", "visitor-target")
    page.locator("#ft-confirm-delete input").check()
    page.locator("#ft-delete").click()
    expect(markdown(page, "ft-adapter-status")).to_contain_text("Only an admin can delete adapters")
    assert (folder / "adapters" / "visitor-target").is_dir()
    page.locator("#admin-token input").fill("wrong")  # a password box
    page.locator("#admin-unlock").click()
    expect(markdown(page, "access-who")).to_contain_text("not the admin token")
    page.locator("#admin-token input").fill(TOKEN)
    page.locator("#admin-unlock").click()
    expect(markdown(page, "access-who")).to_contain_text("You are an admin in this browser tab")
    page.locator("#ft-delete").click()
    expect(markdown(page, "ft-adapter-status")).to_contain_text("✅")
    assert not (folder / "adapters" / "visitor-target").exists()
