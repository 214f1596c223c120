"""Who a request comes from (pages.common.visitor_of) and the handler wrapper that checks it
before the handler runs, with Gradio's way of passing the request (by the signature)."""

from __future__ import annotations

import dataclasses
import inspect
import time
from types import SimpleNamespace

import gradio as gr
import pytest

from pages.common import AppContext, admin_only, visitor_of
from playground.access import Access, Role
from playground.errors import PlaygroundError
from playground.settings import Settings


def context(tmp_path, **changes) -> AppContext:
    settings = dataclasses.replace(Settings(home=tmp_path, adapters_dir=tmp_path / "adapters", default_model="tiny",
                                            hub_offline=True, host="127.0.0.1", port=7860), **changes)
    return AppContext(models=SimpleNamespace(settings=settings), jobs=None, start_model="tiny", access=Access(settings))


def request(username=None, session=None, headers=None, host="10.0.0.9", session_hash="s1"):
    fake = SimpleNamespace(username=username, headers=headers or {}, client=SimpleNamespace(host=host),
                           session_hash=session_hash)
    if session is not None:
        fake.session = session
    return fake


def test_a_hub_login_on_a_space_is_the_visitors_name_until_it_expires(tmp_path):
    ctx = context(tmp_path, demo=True, on_space=True, admins=("ana",))
    signed_in = {"oauth_info": {"userinfo": {"preferred_username": "ana"}, "expires_at": time.time() + 60}}
    assert visitor_of(ctx, request(session=signed_in)).is_admin
    expired = {"oauth_info": {"userinfo": {"preferred_username": "ana"}, "expires_at": time.time() - 1}}
    visitor = visitor_of(ctx, request(session=expired))
    assert visitor.role is Role.VISITOR and visitor.name is None


def test_the_forwarded_address_is_believed_only_behind_a_trusted_proxy(tmp_path):
    # the client wrote 6.6.6.6 itself; the Space's proxy appended the address it saw (203.0.113.7)
    forwarded = {"x-forwarded-for": "6.6.6.6, 203.0.113.7"}
    space = context(tmp_path, demo=True, on_space=True, trusted_proxies=1)
    assert visitor_of(space, request(headers=forwarded)).key == "ip:203.0.113.7"
    assert visitor_of(context(tmp_path, demo=True), request(headers=forwarded)).key == "ip:10.0.0.9"


def test_an_admin_only_handler_asks_gradio_for_the_request_and_checks_it_first(tmp_path):
    ctx = context(tmp_path, demo=True, admins=("ana",))
    calls = []

    @admin_only(ctx, "delete")
    def delete(name, confirmed=False):
        calls.append(name)
        return "deleted"

    parameters = inspect.signature(delete).parameters
    assert list(parameters)[0] == "request" and delete.__annotations__["request"] is gr.Request
    with pytest.raises(PlaygroundError, match="Only an admin can delete adapters"):
        delete(request(), "x", True)
    assert calls == []
    assert delete(request(username="ana"), "x", True) == "deleted" and calls == ["x"]

    @admin_only(ctx, "trust")
    def own(model, request: gr.Request):  # a handler that takes the request itself gets it too
        return request.username

    assert list(inspect.signature(own).parameters) == ["model", "request"]
    assert own("m", request(username="ana")) == "ana"
