"""The simulated subscriber over real HTTP: client, CLI and the /sim/ page's backend."""

from __future__ import annotations

import socket

import pytest
import requests
from click.testing import CliRunner

from bot.cli import cli
from bot.simulator.client import SubscriberClient


@pytest.fixture
def cli_env(monkeypatch, settings):
    for key, value in {"HOTLINE_DATABASE_URL": settings.database_url, "HOTLINE_ENV": "test",
                       "WECHAT_TOKEN": "test-token", "WECHAT_APPID": "wxtestappid0001",
                       "WECHAT_SECRET": "test-secret",
                       "WECHAT_AES_KEY": settings.default_account.aes_key}.items():
        monkeypatch.setenv(key, value)


@pytest.mark.parametrize("aes", [False, True])
def test_client_round_trip_and_retry(live, account, aes):
    client = SubscriberClient(live.url, account, "o-sim", aes=aes)
    welcome = client.event("subscribe")
    assert welcome.kind == "text" and "欢迎关注" in welcome.text
    helped = client.say("帮助")
    assert helped.kind == "text" and "帮助：列出可以问什么" in helped.text
    again = client.retry()
    assert again.text == helped.text
    assert client.event("unsubscribe").kind == "success"


def test_client_refuses_aes_without_key(account):
    plain = account.__class__("default", "t", "wx", "s")
    with pytest.raises(ValueError, match="EncodingAESKey"):
        SubscriberClient("http://127.0.0.1:1", plain, "o", aes=True)


def test_bad_signature_is_an_error_reply(live, account):
    wrong = account.__class__(account.name, "wrong-token", account.appid, account.secret)
    reply = SubscriberClient(live.url, wrong, "o").say("帮助")
    assert (reply.kind, reply.status) == ("error", 403)


def test_cli_say(live, cli_env):
    runner = CliRunner()
    result = runner.invoke(cli, ["sim", "say", "帮助", "--url", live.url])
    assert result.exit_code == 0, result.output
    assert "帮助：列出可以问什么" in result.output
    aes = runner.invoke(cli, ["sim", "say", "帮助", "--url", live.url, "--aes", "--openid", "o9"])
    assert aes.exit_code == 0 and "帮助" in aes.output
    follow = runner.invoke(cli, ["sim", "say", "--event", "subscribe", "--url", live.url])
    assert "欢迎关注" in follow.output


def test_cli_say_errors(cli_env):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    runner = CliRunner()
    down = runner.invoke(cli, ["sim", "say", "帮助", "--url", f"http://127.0.0.1:{port}"])
    assert down.exit_code != 0 and "cannot reach" in down.output
    nobody = runner.invoke(cli, ["sim", "say", "帮助", "--account", "nobody"])
    assert nobody.exit_code != 0 and "no account" in nobody.output
    empty = runner.invoke(cli, ["sim", "say"])
    assert empty.exit_code != 0


def test_page_and_send(live):
    page = requests.get(f"{live.url}/sim/", timeout=5)
    assert page.status_code == 200 and 'id="composer"' in page.text
    assert requests.get(f"{live.url}/sim/static/phone.js", timeout=5).status_code == 200
    sent = requests.post(f"{live.url}/sim/send", json={"openid": "o-page", "text": "帮助"},
                         timeout=10).json()
    assert sent["kind"] == "text" and "帮助" in sent["text"] and "<xml>" in sent["request_xml"]
    event = requests.post(f"{live.url}/sim/send", timeout=10, json={
        "openid": "o-page", "kind": "event", "event": "CLICK", "key": "HELP", "aes": True})
    assert event.status_code == 200


@pytest.mark.parametrize("payload", [
    "not json", {"text": "帮助"}, {"openid": "o", "account": "nobody", "text": "x"},
    {"openid": "o", "text": ""}, {"openid": "o", "text": "长" * 2049},
    {"openid": "o", "kind": "event", "event": "explode"}, {"openid": "x" * 65, "text": "hi"},
])
def test_send_refuses_bad_input(live, payload):
    kwargs = {"data": payload} if isinstance(payload, str) else {"json": payload}
    response = requests.post(f"{live.url}/sim/send", timeout=5, **kwargs)
    assert response.status_code == 400 and response.json()["error"]


def test_menu_default_then_created(live, account):
    assert requests.get(f"{live.url}/sim/menu", timeout=5).json()["button"][0]["key"] == "HELP"
    from bot.wechat.api import WeChatAPI

    runtime = live_runtime(live)
    menu = {"button": [{"type": "click", "name": "政策", "key": "POLICY"}]}
    WeChatAPI(runtime.settings, account, runtime.engine).create_menu(menu)
    assert requests.get(f"{live.url}/sim/menu", timeout=5).json() == menu
    assert requests.get(f"{live.url}/sim/menu?account=x", timeout=5).status_code == 400


def live_runtime(live):
    return live.server.app.extensions["hotline"]
