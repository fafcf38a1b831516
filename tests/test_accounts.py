"""Two accounts, one backend: each has its own path, credentials and subscribers."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.app import create_app
from bot.config import Settings
from bot.migrate import upgrade
from bot.models import InboundMessage, Subscriber
from bot.runtime import build_runtime
from bot.wechat.parse import parse_xml
from tests.wechat import encrypt_body, signed_query, text_xml, url

HOTLINE_KEY = "HOTLINEaeskey0123456789abcdefghijklmnopqrst"


@pytest.fixture
def two_accounts(tmp_path):
    accounts = tmp_path / "accounts.toml"
    accounts.write_text(
        '[[account]]\nname = "hotline"\ntype = "subscription"\ntitle = "云南扶贫热线"\n'
        f'token = "hotline-token"\nappid = "wxhotline"\nsecret = "hs"\naes_key = "{HOTLINE_KEY}"\n',
        encoding="utf-8")
    settings = Settings.from_env({
        "HOTLINE_DATABASE_URL": f"sqlite:///{tmp_path}/two.db", "HOTLINE_ENV": "test",
        "WECHAT_TOKEN": "main-token", "WECHAT_APPID": "wxmain", "WECHAT_SECRET": "ms",
        "HOTLINE_ACCOUNT_TITLE": "云南扶贫", "HOTLINE_ACCOUNTS_FILE": str(accounts),
    })
    upgrade(settings.database_url)
    runtime = build_runtime(settings)
    yield runtime, create_app(runtime=runtime).test_client()
    runtime.close()


def test_each_account_has_its_path_and_token(two_accounts):
    runtime, client = two_accounts
    hotline = runtime.settings.account("hotline")
    assert client.post(url("/wechat/hotline", signed_query("main-token")),
                       data=text_xml("帮助")).status_code == 403
    ok = client.post(url("/wechat/hotline", signed_query("hotline-token")),
                     data=text_xml("帮助", openid="oSame", msg_id=5))
    assert ok.status_code == 200
    main = client.post(url("/wechat", signed_query("main-token")),
                       data=text_xml("帮助", openid="oSame", msg_id=5))
    assert main.status_code == 200, "the same MsgId on another account is another message"
    body, query = encrypt_body(hotline, text_xml("帮助", openid="oSafe"),
                               signed_query("hotline-token"))
    assert client.post(url("/wechat/hotline", query), data=body).status_code == 200
    with runtime.engine.connect() as conn:
        messages = conn.execute(select(InboundMessage.account, InboundMessage.openid)).all()
        subscribers = conn.execute(select(Subscriber.account, Subscriber.openid)).all()
    assert sorted(messages) == [("default", "oSame"), ("hotline", "oSafe"), ("hotline", "oSame")]
    assert sorted(subscribers) == sorted(messages)


def test_welcome_names_the_account(two_accounts):
    runtime, client = two_accounts
    from tests.wechat import event_xml

    reply = client.post(url("/wechat/hotline", signed_query("hotline-token")),
                        data=event_xml("subscribe"))
    assert "云南扶贫热线" in parse_xml(reply.data)["Content"]
