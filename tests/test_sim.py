"""The simulated subscriber over real HTTP: client, `hotline sim say`, and the /sim/ page's
backend (page, send, menu) against a live server; the reply decoder on its own."""

from __future__ import annotations

import re
import socket
from dataclasses import replace
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner
from wechatpy.events import ClickEvent, SubscribeEvent, ViewEvent
from wechatpy.messages import ImageMessage, LocationMessage, TextMessage, VoiceMessage

from bot.cli import cli
from bot.dispatch import Article
from bot.simulator.client import SubscriberClient, decode_reply
from bot.wechat.crypto import MessageCrypto
from bot.wechat.parse import parse_xml, to_message
from bot.wechat.replies import render

HELP_LINE = "帮助：列出可以问什么"
STATIC = Path(__file__).parent.parent / "bot" / "simulator" / "static"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def cli_env(monkeypatch, settings):
    monkeypatch.delenv("HOTLINE_ACCOUNTS_FILE", raising=False)
    for key, value in {"HOTLINE_DATABASE_URL": settings.database_url, "HOTLINE_ENV": "test",
                       "WECHAT_TOKEN": "test-token", "WECHAT_APPID": "wxtestappid0001",
                       "WECHAT_SECRET": "test-secret",
                       "WECHAT_AES_KEY": settings.default_account.aes_key}.items():
        monkeypatch.setenv(key, value)
    return monkeypatch


# -- the client ---------------------------------------------------------------------------
@pytest.mark.parametrize("aes", [False, True])
def test_client_round_trip_and_retry(live, account, aes):
    client = SubscriberClient(live.url, account, "o-sim", aes=aes)
    welcome = client.event("subscribe")
    assert welcome.kind == "text" and "欢迎关注" in welcome.text
    helped = client.say("帮助")
    assert (helped.status, helped.kind) == (200, "text") and HELP_LINE in helped.text
    assert ("<Encrypt>" in helped.raw) is aes and "<Content>" in helped.reply_xml
    assert helped.elapsed_ms > 0 and "<MsgId>" in helped.request_xml
    again = client.retry()
    assert again.request_xml == helped.request_xml
    assert (again.kind, again.text) == ("text", helped.text)
    assert client.event("unsubscribe").kind == "success"


def test_client_other_messages_reach_the_webhook(live, account):
    client = SubscriberClient(live.url, account, "o-media", aes=True)
    for reply in (client.image("http://127.0.0.1/p.jpg"), client.voice("帮助"),
                  client.location(23.13, 113.26, "广州"), client.click("HELP"),
                  client.view("http://127.0.0.1/p/x")):
        assert reply.status == 200 and reply.kind in ("text", "success"), reply


def test_client_builds_every_kind_wechatpy_reads(account):
    client = SubscriberClient("http://127.0.0.1:1", account, "o-x")
    built = {
        TextMessage: client.text_xml("你好 ]]> <b>"), ImageMessage: client.image_xml("http://a/b"),
        VoiceMessage: client.voice_xml("语音"), LocationMessage: client.location_xml(1.5, 2.5),
        SubscribeEvent: client.event_xml("subscribe"), ClickEvent: client.event_xml("CLICK", "K"),
        ViewEvent: client.event_xml("VIEW", "http://a/b"),
    }
    for kind, xml in built.items():
        message = to_message(parse_xml(xml))
        assert isinstance(message, kind) and message.source == "o-x"
    assert to_message(parse_xml(built[TextMessage])).content == "你好 ]]> <b>"
    assert "MsgId" not in parse_xml(built[SubscribeEvent])


def test_msg_ids_are_unique(account):
    client = SubscriberClient("http://127.0.0.1:1", account, "o-x")
    ids = {parse_xml(client.text_xml("x"))["MsgId"] for _ in range(3000)}
    assert len(ids) == 3000


def test_client_refuses_what_it_cannot_do(account):
    plain = replace(account, aes_key="", previous_aes_key="")
    with pytest.raises(ValueError, match="EncodingAESKey"):
        SubscriberClient("http://127.0.0.1:1", plain, "o", aes=True)
    with pytest.raises(ValueError, match="openid"):
        SubscriberClient("http://127.0.0.1:1", account, "")
    with pytest.raises(ValueError, match="nothing sent"):
        SubscriberClient("http://127.0.0.1:1", account, "o").retry()


def test_bad_signature_is_an_error_reply(live, account):
    wrong = replace(account, token="wrong-token")
    reply = SubscriberClient(live.url, wrong, "o").say("帮助")
    assert (reply.kind, reply.status) == ("error", 403)


# -- decoding replies ---------------------------------------------------------------------
def _news(to: str = "o") -> str:
    article = Article("扶贫政策", "说明<b>", "http://127.0.0.1/p/policy", "")
    return render(article, to_user=to, from_user="gh_x", create_time=1)[1]


def test_decode_news_plain_and_encrypted(account):
    crypto = MessageCrypto(account.token, account.appid, account.aes_key)
    for raw, key in ((_news(), None), (crypto.encrypt(_news(), "n1"), crypto)):
        reply = decode_reply(200, raw, key, "o")
        assert reply.kind == "news" and reply.article["Title"] == "扶贫政策"
        assert reply.article["Url"] == "http://127.0.0.1/p/policy"
        assert reply.article["Description"] == "说明<b>" and len(reply.articles) == 1


def test_decode_several_articles():
    item = "<item><Title>{0}</Title><Url>http://x/{0}</Url></item>"
    raw = (f"<xml><ToUserName>o</ToUserName><MsgType>news</MsgType><ArticleCount>2"
           f"</ArticleCount><Articles>{item.format('a')}{item.format('b')}</Articles></xml>")
    reply = decode_reply(200, raw, None, "o")
    assert [a["Title"] for a in reply.articles] == ["a", "b"] and reply.article["Url"] == "http://x/a"


def test_decode_refuses_bad_replies(account):
    crypto = MessageCrypto(account.token, account.appid, account.aes_key)
    forged = re.sub(r"<MsgSignature><!\[CDATA\[\w+", "<MsgSignature><![CDATA[" + "0" * 40,
                    crypto.encrypt(_news(), "n1"))
    cases = {
        "signature": (200, forged, crypto, "o"), "not encrypted": (200, _news(), crypto, "o"),
        "addressed": (200, _news("someone-else"), None, "o"),
        "malformed": (200, "<xml><oops", None, "o"), "forbidden": (403, "forbidden", None, "o"),
    }
    for why, args in cases.items():
        reply = decode_reply(*args)
        assert reply.kind == "error", why
        assert reply.text, why
    assert decode_reply(200, "success").kind == "success"
    assert decode_reply(200, "").kind == "success"


# -- hotline sim say ----------------------------------------------------------------------
def test_cli_say(live, cli_env):
    runner = CliRunner()
    result = runner.invoke(cli, ["sim", "say", "帮助", "--url", live.url])
    assert result.exit_code == 0, result.output
    assert HELP_LINE in result.output
    aes = runner.invoke(cli, ["sim", "say", "帮助", "--url", live.url, "--aes", "--openid", "o9"])
    assert aes.exit_code == 0 and HELP_LINE in aes.output
    follow = runner.invoke(cli, ["sim", "say", "--event", "subscribe", "--url", live.url])
    assert follow.exit_code == 0 and "欢迎关注" in follow.output
    leave = runner.invoke(cli, ["sim", "say", "--event", "unsubscribe", "--url", live.url])
    assert leave.exit_code == 0 and "(success: no reply)" in leave.output
    click = runner.invoke(cli, ["sim", "say", "--event", "click", "--key", "HELP",
                                "--url", live.url, "--openid", "o-click"])
    assert click.exit_code == 0 and click.output.strip()


def test_cli_say_uses_public_url(live, cli_env):
    cli_env.setenv("HOTLINE_PUBLIC_URL", live.url)
    result = CliRunner().invoke(cli, ["sim", "say", "帮助"])
    assert result.exit_code == 0 and HELP_LINE in result.output


def test_cli_say_errors(live, cli_env):
    runner = CliRunner()
    down = runner.invoke(cli, ["sim", "say", "帮助", "--url", f"http://127.0.0.1:{free_port()}"])
    assert down.exit_code != 0 and "cannot reach the webhook" in down.output
    nobody = runner.invoke(cli, ["sim", "say", "帮助", "--account", "nobody"])
    assert nobody.exit_code != 0 and "no account" in nobody.output
    assert runner.invoke(cli, ["sim", "say"]).exit_code != 0
    keyless = runner.invoke(cli, ["sim", "say", "--event", "click", "--url", live.url])
    assert keyless.exit_code != 0 and "--key" in keyless.output
    cli_env.setenv("WECHAT_TOKEN", "not-the-servers-token")
    refused = runner.invoke(cli, ["sim", "say", "帮助", "--url", live.url])
    assert refused.exit_code != 0 and "webhook answered 403" in refused.output
    cli_env.delenv("WECHAT_AES_KEY")
    no_key = runner.invoke(cli, ["sim", "say", "帮助", "--aes", "--url", live.url])
    assert no_key.exit_code != 0 and "EncodingAESKey" in no_key.output


# -- the page and its backend -------------------------------------------------------------
def test_page_is_served(live):
    page = requests.get(f"{live.url}/sim/", timeout=5)
    assert page.status_code == 200
    for part in ('id="composer"', 'id="chat"', 'id="menu"', "关注", "取消关注", "安全模式",
                 'id="openid"'):
        assert part in page.text
    assert re.search(r'<select id="account"[^>]* hidden', page.text)
    for name in ("phone.js", "phone.css"):
        assert requests.get(f"{live.url}/sim/static/{name}", timeout=5).status_code == 200


def test_page_offers_the_accounts(client, runtime, account):
    other = replace(account, name="county", title="县扶贫办<script>", aes_key="")
    runtime.settings = runtime.settings.with_overrides(accounts=(account, other))
    page = client.get("/sim/").get_data(as_text=True)
    assert not re.search(r'<select id="account"[^>]* hidden', page)
    assert 'value="county"' in page and "县扶贫办&lt;script&gt;" in page


def test_page_script_never_writes_html():
    script = (STATIC / "phone.js").read_text(encoding="utf-8")
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
        assert sink not in script
    assert "textContent" in script and "safeUrl" in script


def test_send_goes_through_the_webhook(live):
    sent = requests.post(f"{live.url}/sim/send", json={"openid": "o-page", "text": "帮助"},
                         timeout=10).json()
    assert sent["kind"] == "text" and HELP_LINE in sent["text"]
    assert "<xml>" in sent["request_xml"] and sent["raw"] and sent["status"] == 200
    for event, key in (("CLICK", "HELP"), ("click", "HELP"), ("VIEW", "http://127.0.0.1/"),
                       ("subscribe", "")):
        reply = requests.post(f"{live.url}/sim/send", timeout=10, json={
            "openid": "o-page", "kind": "event", "event": event, "key": key, "aes": True})
        assert reply.status_code == 200 and reply.json()["kind"] in ("text", "success")
    assert "<Encrypt>" in reply.json()["raw"] and "欢迎关注" in reply.json()["text"]


@pytest.mark.parametrize("payload", [
    "not json", [1, 2], {"text": "帮助"}, {"openid": "o", "account": "nobody", "text": "x"},
    {"openid": "o", "text": ""}, {"openid": "o", "text": "长" * 2049},
    {"openid": "o", "text": 5}, {"openid": ["o"], "text": "hi"}, {"openid": "x" * 65, "text": "hi"},
    {"openid": "o", "kind": "image"}, {"openid": "o", "kind": "event", "event": "explode"},
    {"openid": "o", "kind": "event"}, {"openid": "o", "kind": "event", "event": "CLICK",
                                       "key": "k" * 1025},
    {"openid": "o", "text": "1", "menuid": "one"}, {"openid": "o", "text": "1", "menuid": 1},
    {"openid": "o", "text": "1", "menuid": "1" * 10},
])
def test_send_refuses_bad_input(live, payload):
    kwargs = {"data": payload} if isinstance(payload, str) else {"json": payload}
    response = requests.post(f"{live.url}/sim/send", timeout=5, **kwargs)
    assert response.status_code == 400 and response.json()["error"]


def test_send_carries_a_tapped_dialog_menu_id(live):
    sent = requests.post(f"{live.url}/sim/send", timeout=10, json={
        "openid": "o-tap", "text": "退出标准", "menuid": "2"}).json()
    assert "<bizmsgmenuid><![CDATA[2]]></bizmsgmenuid>" in sent["request_xml"]
    assert sent["status"] == 200


def test_send_refuses_safe_mode_without_a_key(client, runtime, account):
    plain = replace(account, name="plain", aes_key="")
    runtime.settings = runtime.settings.with_overrides(accounts=(account, plain))
    response = client.post("/sim/send", json={"account": "plain", "openid": "o", "aes": True,
                                              "text": "帮助"})
    assert response.status_code == 400 and "EncodingAESKey" in response.get_json()["error"]


def test_send_reports_an_unreachable_webhook(client):
    response = client.post("/sim/send", json={"openid": "o", "text": "帮助"},
                           base_url=f"http://127.0.0.1:{free_port()}")
    assert response.status_code == 502 and "unreachable" in response.get_json()["error"]


def test_menu_default_created_deleted(live, runtime):
    assert requests.get(f"{live.url}/sim/menu", timeout=5).json() == {
        "button": [{"type": "click", "name": "帮助", "key": "HELP"}]}
    api = runtime.api("default")
    menu = {"button": [{"type": "click", "name": "政策", "key": "POLICY"},
                       {"name": "更多", "sub_button": [
                           {"type": "view", "name": "官网", "url": "http://127.0.0.1/"}]}]}
    api.create_menu(menu)
    assert requests.get(f"{live.url}/sim/menu", timeout=5).json() == menu
    api.delete_menu()
    assert requests.get(f"{live.url}/sim/menu", timeout=5).json()["button"][0]["key"] == "HELP"
    assert requests.get(f"{live.url}/sim/menu?account=x", timeout=5).status_code == 400


def test_pushes_the_page_polls_for(live, runtime, account):
    """The contract phone.js relies on: GET /sim/api/_calls?touser=&since= lists the
    customer-service and template messages sent to the subscriber, with their JSON body."""
    newest = requests.get(f"{live.url}/sim/api/_calls?limit=1", timeout=5).json()
    since = newest[-1]["id"] if newest else 0
    SubscriberClient(live.url, account, "o-push").say("你好")  # opens the 48-hour window
    api = runtime.api("default")
    assert api.send_text("o-push", "您的留言已受理").ok
    assert api.send_template("o-push", "tpl-1", {"first": {"value": "办理进度"}}).ok
    assert api.send_text("o-other", "别人的").ok is False  # never wrote: window closed
    calls = requests.get(f"{live.url}/sim/api/_calls", timeout=5,
                         params={"touser": "o-push", "since": since}).json()
    pushes = [(c["path"], c["body"]) for c in calls if c["path"].startswith("message/")]
    assert pushes[0][0] == "message/custom/send"
    assert pushes[0][1]["text"]["content"] == "您的留言已受理"
    assert pushes[1][0] == "message/template/send"
    assert pushes[1][1]["data"]["first"]["value"] == "办理进度"
    assert all(c["id"] > since and c["appid"] == account.appid for c in calls)
