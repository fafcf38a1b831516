"""What WeChat tells the webhook after a broadcast: MASSSENDJOBFINISH, a moment later, with
how many followers it reached. The fake API posts it to the account's own webhook, signed
like WeChat's, so the push history fills in as it would in production.
https://developers.weixin.qq.com/doc/offiaccount/Message_Management/Batch_Sends_and_Originality_Checks.html
"""

from __future__ import annotations

import logging
import threading
import time

import requests
from sqlalchemy import func, select

from bot.models import Subscriber
from bot.simulator.client import SubscriberClient
from bot.simulator.wechat_assets import tag_members
from bot.simulator.wechat_rules import Call

log = logging.getLogger("hotline.sim")
MASS_PATHS = ("message/mass/sendall", "message/mass/send")
TEMPLATE_PATH = "message/template/send"
REPORTED_PATHS = (*MASS_PATHS, TEMPLATE_PATH)
REPORT_DELAY = 0.3  # seconds
SYSTEM_OPENID = "oWeChatMassSendSystem"


def report_later(runtime, path: str, call: Call, answer: dict) -> None:
    """The JOBFINISH event of a broadcast or a template message, posted a moment later."""
    url = runtime.settings.public_url
    if path == TEMPLATE_PATH:
        xml = _template_report(call, answer["msgid"])
    else:
        xml = _mass_report(call, answer["msg_id"], _audience(runtime, call))
    threading.Thread(target=_post, args=(url, call.account, xml, answer),
                     name="sim-jobfinish", daemon=True).start()


def _audience(runtime, call: Call) -> int:
    users = call.data.get("touser")
    if isinstance(users, list):
        return len(users)
    audience = call.data.get("filter") or {}
    if audience.get("is_to_all"):
        with runtime.sessionmaker() as session:
            return session.scalar(select(func.count()).select_from(Subscriber).where(
                Subscriber.account == call.account.name, Subscriber.subscribed.is_(True))) or 0
    return len(tag_members(call, audience.get("tag_id")))


def _mass_report(call: Call, msg_id: int, total: int) -> str:
    client = SubscriberClient("http://unused", call.account, SYSTEM_OPENID)
    return client.event_xml("MASSSENDJOBFINISH").replace(
        "</xml>", f"<MsgID>{msg_id}</MsgID><Status><![CDATA[send success]]></Status>"
                  f"<TotalCount>{total}</TotalCount><FilterCount>{total}</FilterCount>"
                  f"<SentCount>{total}</SentCount><ErrorCount>0</ErrorCount></xml>")


def _template_report(call: Call, msgid: int) -> str:
    client = SubscriberClient("http://unused", call.account, str(call.data.get("touser", "")))
    return client.event_xml("TEMPLATESENDJOBFINISH").replace(
        "</xml>", f"<MsgID>{msgid}</MsgID><Status><![CDATA[success]]></Status></xml>")


def _post(base_url: str, account, xml: str, answer: dict) -> None:
    time.sleep(REPORT_DELAY)
    client = SubscriberClient(base_url, account, SYSTEM_OPENID)
    try:
        client.send(xml)
    except requests.RequestException as exc:  # the webhook is down: WeChat would give up too
        log.warning("job report for %s not delivered: %s", answer, exc)
