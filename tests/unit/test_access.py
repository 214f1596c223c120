"""Who may do what (playground.access) and the caps and rate limit (playground.limits), without an app."""

from __future__ import annotations

import dataclasses

import pytest

from playground import limits
from playground.access import DEMO_FILES, Access, Role, check_typed_path, parse_users, upload_root
from playground.errors import PlaygroundError
from playground.settings import Settings


def settings_for(tmp_path, **changes) -> Settings:
    base = Settings(home=tmp_path / "home", adapters_dir=tmp_path / "adapters", default_model="tiny", hub_offline=True,
                    host="127.0.0.1", port=7860)
    return dataclasses.replace(base, **changes)


def test_local_mode_lets_everyone_do_everything(tmp_path):
    access = Access(settings_for(tmp_path))
    visitor = access.visitor(None, "s1", "10.0.0.1")
    assert visitor.is_admin and access.mode_name() == "local mode"
    access.require_admin(visitor, "delete")


def test_demo_mode_admins_are_named_logins_or_sessions_that_gave_the_token(tmp_path):
    access = Access(settings_for(tmp_path, demo=True, admins=("owner",), admin_token="t0ken"))
    anonymous = access.visitor(None, "s1", "10.0.0.1")
    assert anonymous.role is Role.VISITOR and anonymous.key == "ip:10.0.0.1"
    with pytest.raises(PlaygroundError, match="Only an admin can delete adapters here \\(demo mode\\)"):
        access.require_admin(anonymous, "delete")
    assert access.visitor("owner", "s2").is_admin and access.visitor("owner").key == "user:owner"
    with pytest.raises(PlaygroundError, match="not the admin token"):
        access.unlock("s1", "guess")
    access.unlock("s1", " t0ken ")
    assert access.visitor(None, "s1").is_admin and not access.visitor(None, "s3").is_admin
    access._unlocked["s1"] -= Access.UNLOCK_HOURS * 3600  # as if given half a day ago
    assert not access.visitor(None, "s1").is_admin


def test_guessing_the_token_is_slowed_down_per_address_and_locks_nobody_else_out(tmp_path):
    access = Access(settings_for(tmp_path, demo=True, admin_token="t0ken"))
    messages = []
    for attempt in range(Access.WRONG_TOKENS_PER_MINUTE + 2):
        try:
            access.unlock(f"session-{attempt}", "guess", who="ip:6.6.6.6")
        except PlaygroundError as err:
            messages.append(str(err))
    assert messages[-1].startswith("Too many wrong admin tokens")
    with pytest.raises(PlaygroundError, match="Too many"):
        access.unlock("fresh", "t0ken", who="ip:6.6.6.6")  # even the right token waits: no oracle while throttled
    assert "admin" in access.unlock("admins-tab", "t0ken", who="ip:10.0.0.2")  # the real admin is not locked out
    assert access.visitor(None, "admins-tab").is_admin


def test_a_demo_without_any_admin_says_how_to_get_one(tmp_path):
    access = Access(settings_for(tmp_path, demo=True))
    with pytest.raises(PlaygroundError, match="sets PLAYGROUND_ADMIN_TOKEN or PLAYGROUND_ADMINS"):
        access.require_admin(access.visitor(), "train")
    with pytest.raises(PlaygroundError, match="no admin token"):
        access.unlock("s1", "anything")


def test_team_logins_have_roles_and_passwords(tmp_path):
    access = Access(settings_for(tmp_path, users="ana:pw1:admin, bo:pw2"))
    assert access.restricted and access.mode_name() == "team mode"
    assert access.check_password("ana", "pw1") and not access.check_password("ana", "pw2")
    assert not access.check_password("nobody", "pw1")
    assert access.visitor("ana").is_admin and access.visitor("bo").role is Role.ANNOTATOR
    with pytest.raises(PlaygroundError, match="needs name:password"):
        parse_users("ana")
    with pytest.raises(PlaygroundError, match="use admin or annotator"):
        parse_users("ana:pw:root")


def test_demo_mode_reads_only_uploads(monkeypatch, tmp_path):
    monkeypatch.setenv("PLAYGROUND_DEMO", "1")
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path / "uploads"))
    upload = upload_root() / "abc123" / "data.csv"
    check_typed_path(upload)
    (tmp_path / "outside.csv").write_text("a,b\n")
    escape = tmp_path / "uploads" / "abc123" / ".." / ".." / "outside.csv"
    link = tmp_path / "uploads" / "link.csv"
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(tmp_path / "outside.csv")
    for refused in ("/etc/passwd", "/no/such/file", tmp_path / "outside.csv", escape, link, "rel/path.csv",
                    str(upload) + "\n"):
        with pytest.raises(PlaygroundError) as err:
            check_typed_path(refused)
        assert str(err.value) == DEMO_FILES
    monkeypatch.setenv("PLAYGROUND_DEMO", "0")
    check_typed_path("/etc/passwd")  # locally, the person running the app names their own files


def test_on_a_space_demo_mode_is_on_unless_switched_off_and_state_is_kept_with_it(monkeypatch):
    for key in ("PLAYGROUND_DEMO", "PLAYGROUND_HOME", "PLAYGROUND_ADAPTERS"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("SPACE_ID", "someone/playground")
    monkeypatch.setenv("SYSTEM", "spaces")
    settings = Settings.from_env()
    assert settings.demo and settings.on_space and settings.host == "0.0.0.0"
    assert settings.adapters_dir == settings.home / "adapters"
    assert settings.trusted_proxies == 1  # Hugging Face's proxy
    monkeypatch.setenv("PLAYGROUND_DEMO", "0")
    assert not Settings.from_env().demo
    monkeypatch.delenv("SPACE_ID")
    monkeypatch.setenv("PLAYGROUND_DEMO", "yes")
    assert Settings.from_env().demo and not Settings.from_env().on_space


def test_a_visitor_is_told_apart_by_the_address_the_trusted_proxy_saw(monkeypatch):
    from playground.access import client_address

    # the client sent "X-Forwarded-For: 6.6.6.6" itself; the proxy appended the address it came from
    assert client_address("6.6.6.6, 203.0.113.9", "10.0.0.2", trusted_proxies=1) == "203.0.113.9"
    assert client_address("6.6.6.6, 203.0.113.9, 10.1.1.1", "10.0.0.2", trusted_proxies=2) == "203.0.113.9"
    assert client_address("203.0.113.9", "10.0.0.2", trusted_proxies=2) == "203.0.113.9"  # a shorter chain
    assert client_address("6.6.6.6", "192.0.2.4", trusted_proxies=0) == "192.0.2.4"  # no proxy: the header is anyone's
    assert client_address(None, "10.0.0.2", trusted_proxies=1) == "10.0.0.2"
    monkeypatch.setenv("PLAYGROUND_TRUSTED_PROXIES", "-1")
    with pytest.raises(PlaygroundError, match="PLAYGROUND_TRUSTED_PROXIES must be a whole number of at least 0"):
        Settings.from_env()


def test_caps_are_the_demos_and_can_be_set_one_by_one(monkeypatch):
    monkeypatch.delenv("SPACE_ID", raising=False)
    monkeypatch.setenv("PLAYGROUND_DEMO", "0")
    assert limits.current() == limits.LOCAL
    monkeypatch.setenv("PLAYGROUND_DEMO", "1")
    monkeypatch.setenv("PLAYGROUND_LIMIT_NEW_TOKENS", "100")
    cap = limits.current()
    assert cap.new_tokens == 100 and cap.prompt_chars == limits.DEMO.prompt_chars
    with pytest.raises(PlaygroundError, match="Max new tokens is 101; the limit here is 100.*public demo"):
        cap.check(101, "new_tokens", "Max new tokens")
    monkeypatch.setenv("PLAYGROUND_LIMIT_NEW_TOKENS", "lots")
    with pytest.raises(PlaygroundError, match="must be a whole number"):
        limits.current()


def test_caps_refuse_work_where_it_is_described(monkeypatch):
    from playground.generation import DecodingParams
    from playground.training.recipes import recipe_from_dict

    monkeypatch.setenv("PLAYGROUND_DEMO", "1")
    with pytest.raises(PlaygroundError, match="limit here is 256"):
        DecodingParams(max_new_tokens=257)
    with pytest.raises(PlaygroundError, match="max_steps is 2,001; the limit here is 2,000"):
        recipe_from_dict({"method": "lora", "base_model": "tiny", "data": "sentiment", "max_steps": 2001})
    monkeypatch.setenv("PLAYGROUND_DEMO", "0")
    with pytest.raises(PlaygroundError, match="num_train_epochs is 1,001"):
        recipe_from_dict({"method": "lora", "base_model": "tiny", "data": "sentiment", "num_train_epochs": 1001})


def test_the_rate_limit_allows_a_burst_then_refills(monkeypatch):
    clock = [100.0]
    monkeypatch.setattr(limits.time, "monotonic", lambda: clock[0])
    limiter = limits.RateLimiter(per_minute=60, burst=3, what="model requests from you")
    for _ in range(3):
        limiter.take("ip:1")
    with pytest.raises(PlaygroundError, match="Too many model requests from you in a short time: wait 1 s"):
        limiter.take("ip:1")
    limiter.take("ip:2")  # someone else is not held back
    clock[0] += 1.0
    limiter.take("ip:1")
    limits.RateLimiter(per_minute=0, burst=1).take("anyone")  # 0: no limit


def test_typed_data_is_a_local_file_by_one_rule_for_fine_tuning_and_preference_data(monkeypatch, tmp_path):
    """A data suffix or an existing file means a file; anything else may be a Hub id. In demo mode
    the server's files are never looked at."""
    from playground.access import names_local_data
    from playground.training.preference_data import FILE_SUFFIXES, is_hub_id

    monkeypatch.chdir(tmp_path)
    (tmp_path / "someone").mkdir()
    (tmp_path / "someone" / "pairs").write_text("{}\n")
    monkeypatch.setenv("PLAYGROUND_DEMO", "0")
    assert names_local_data("someone/pairs", FILE_SUFFIXES) and not is_hub_id("someone/pairs")
    assert names_local_data("missing/pairs.jsonl", FILE_SUFFIXES) and not is_hub_id("missing/pairs.jsonl")
    assert not names_local_data("someone/other", FILE_SUFFIXES) and is_hub_id("someone/other")
    monkeypatch.setenv("PLAYGROUND_DEMO", "1")
    assert not names_local_data("someone/pairs", FILE_SUFFIXES) and is_hub_id("someone/pairs")
