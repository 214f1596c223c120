"""The Settings tab as a person uses it: the mode and limits, storage, device and versions, a
health check that tries the database for real, and allowing a model to run its own code (kept in
the database)."""

from playwright.sync_api import expect

from playground.settings import Settings
from playground.store import Store
from playground.trusted_code import trusted_models
from tests.ui.helpers import fill_textbox, markdown, open_tab


def test_settings_show_the_setup_and_the_health_check_tries_the_database(app_page):
    page = app_page
    expect(markdown(page, "access-mode")).to_contain_text("Local mode")
    open_tab(page, "Settings")
    expect(markdown(page, "set-mode")).to_contain_text("Local mode")
    expect(markdown(page, "set-mode")).to_contain_text("You are an admin here")
    expect(page.locator("#set-limits")).to_contain_text("new tokens of one generation")
    expect(page.locator("#set-limits")).to_contain_text("PLAYGROUND_LIMIT_NEW_TOKENS")
    expect(markdown(page, "set-storage")).to_contain_text(str(Settings.from_env().db_path))
    expect(markdown(page, "set-device")).to_contain_text("cores")
    expect(markdown(page, "set-versions")).to_contain_text("transformers")
    page.locator("#set-health-run").click()
    health = markdown(page, "set-health")
    expect(health).to_contain_text("database")
    expect(health).to_contain_text("integrity check: ok")
    expect(health).to_contain_text("not reachable")  # the tests run offline: said, not hidden


def test_allowing_a_model_to_run_its_own_code_is_kept_and_can_be_taken_back(app_page):
    page = app_page
    open_tab(page, "Settings")
    fill_textbox(page, "set-trusted-name", "someone/custom-arch")
    page.locator("#set-trusted-allow").click()
    expect(markdown(page, "set-trusted-status")).to_contain_text("may now run its own code")
    expect(page.locator("#set-trusted")).to_contain_text("someone/custom-arch")
    store = Store(Settings.from_env().db_path)
    assert [t["model"] for t in trusted_models(store)] == ["someone/custom-arch"]
    fill_textbox(page, "set-trusted-name", "someone/custom-arch")
    page.locator("#set-trusted-remove").click()
    expect(markdown(page, "set-trusted-status")).to_contain_text("no longer runs its own code")
    assert trusted_models(store) == []
