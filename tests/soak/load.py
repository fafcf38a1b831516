"""The soak's load: simulated subscribers on loopback, paced to a target rate.

Each subscriber runs scripts (a question, a menu tap, a topic subscription, a whole case
intake) and sends signed XML to the webhook over a fresh connection per request (gunicorn's
sync workers close every connection). Like WeChat, a request that fails (connection reset, 5xx,
timeout) is sent again with the same MsgId; some messages are also sent again after their
answer (WeChat's retry when our answer was late), and some twice at once. Every exchange is
recorded for the checks.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
import re
import secrets
import time
from dataclasses import dataclass, field
from urllib.parse import urlencode, urlsplit

from bot.config import Account
from bot.simulator.client import SubscriberClient

NUMBER = re.compile(r"编号 (\d{8}-\d{4})")
MSG_TYPE = re.compile(r"<MsgType><!\[CDATA\[(\w+)\]\]></MsgType>")
CONTENT = re.compile(r"<Content><!\[CDATA\[(.*?)\]\]></Content>", re.DOTALL)
MAX_TRIES = 8  # WeChat tries 3 times in 15 s; a restart of PostgreSQL may take longer here
RETRY_AFTER = (0.3, 0.6, 1.0, 1.5, 2.0, 2.0, 3.0)
TIMEOUT = 10.0


@dataclass
class Exchange:
    """One message and what came of it."""

    key: str  # MsgId, or "e:" + openid + CreateTime for events
    openid: str
    started: float
    latency: float = 0.0  # of the try that got a 200
    status: int = 0
    text: str = ""
    kind: str = ""
    tries: int = 0
    errors: list[str] = field(default_factory=list)
    retry_of: str = ""  # "after": sent again after the answer; "twin": at the same time
    step: str = ""  # what the message was: ask, tap, topic, or the intake step


@dataclass
class Record:
    exchanges: list[Exchange] = field(default_factory=list)
    cases: dict[str, str] = field(default_factory=dict)  # dialog openid -> case number ("" = none)
    subscribed: set[str] = field(default_factory=set)


def read_reply(raw: str) -> tuple[str, str]:
    """(kind, text) of a plaintext reply: "success" for an empty one. A regex, not the XML
    parser the tests use (bot.simulator.client.decode_reply): the generator shares the two
    cores with the service, so its cost per message is kept small."""
    if raw.strip() in ("", "success"):
        return "success", ""
    kind, content = MSG_TYPE.search(raw), CONTENT.search(raw)
    return (kind.group(1) if kind else "error"), (content.group(1) if content else "")


class Pacer:
    """Hands out send slots at `rate` per second (open loop: slots do not wait for answers)."""

    def __init__(self, rate: float) -> None:
        self.interval = 1.0 / rate
        self.next = time.perf_counter()
        self.lock = asyncio.Lock()

    async def slot(self) -> None:
        async with self.lock:
            now = time.perf_counter()
            self.next = max(self.next + self.interval, now - 0.5)
            wait = self.next - now
        if wait > 0:
            await asyncio.sleep(wait)


async def post(host: str, port: int, target: str, body: bytes) -> tuple[int, str]:
    reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), TIMEOUT)
    try:
        writer.write(f"POST {target} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: text/xml\r\n"
                     f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode() + body)
        await writer.drain()
        raw = await asyncio.wait_for(reader.read(), TIMEOUT)
    finally:
        writer.close()
    head, _, payload = raw.partition(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1."):
        raise ConnectionError("no HTTP answer")
    return int(head.split(b" ", 2)[1]), payload.decode("utf-8", "replace")


class Subscriber:
    def __init__(self, load: Load, openid: str) -> None:
        self.load, self.openid = load, openid
        self.client = SubscriberClient(load.base_url, load.account, openid)

    def _target(self) -> str:
        timestamp, nonce = str(int(time.time())), secrets.token_hex(5)
        parts = sorted([self.load.account.token, timestamp, nonce])
        signature = hashlib.sha1("".join(parts).encode()).hexdigest()
        query = urlencode({"signature": signature, "timestamp": timestamp, "nonce": nonce,
                           "openid": self.openid})
        return f"{self.load.account.webhook_path}?{query}"

    async def send(self, xml: str, retry_of: str = "", step: str = "") -> Exchange:
        found = re.search(r"<MsgId>(\d+)</MsgId>", xml)
        key = found.group(1) if found else "e:" + re.search(
            r"<CreateTime>(\d+)</CreateTime>", xml).group(1) + ":" + self.openid
        exchange = Exchange(key, self.openid, time.time(), retry_of=retry_of, step=step)
        self.load.record.exchanges.append(exchange)
        for attempt in range(MAX_TRIES):
            await self.load.pacer.slot()
            exchange.tries += 1
            started = time.perf_counter()
            try:
                status, raw = await post(self.load.host, self.load.port, self._target(),
                                         xml.encode())
            except (TimeoutError, OSError, ConnectionError) as exc:
                exchange.errors.append(type(exc).__name__)
            else:
                if status == 200:
                    exchange.latency = time.perf_counter() - started
                    exchange.status = 200
                    exchange.kind, exchange.text = read_reply(raw)
                    return exchange
                exchange.errors.append(str(status))
                exchange.status = status
            if attempt < len(RETRY_AFTER):
                await asyncio.sleep(RETRY_AFTER[attempt])
        return exchange

    async def say(self, text: str, step: str) -> Exchange:
        xml = self.client.text_xml(text)
        first = await self.send(xml, step=step)
        roll = self.load.rng.random()
        if roll < self.load.retry_share:  # WeChat's retry after a late answer: same MsgId
            await self.send(xml, retry_of="after", step=step)
        elif roll < self.load.retry_share * 1.3:  # two copies in flight at once
            await asyncio.gather(self.send(xml, retry_of="twin", step=step),
                                 self.send(xml, retry_of="twin", step=step))
        return first

    async def tap(self, key: str) -> Exchange:
        return await self.send(self.client.event_xml("CLICK", key), step="tap")


class Load:
    def __init__(self, base_url: str, account: Account, questions: list[str], menu_keys: list[str],
                 rate: float, seed: int = 7, retry_share: float = 0.08) -> None:
        self.base_url, self.account = base_url, account
        address = urlsplit(base_url)
        self.host, self.port = address.hostname, address.port
        self.questions, self.menu_keys = questions, menu_keys
        self.rate, self.rng, self.retry_share = rate, random.Random(seed), retry_share
        self.pacer = Pacer(rate)
        self.record = Record()
        self.counter = 0

    def _openid(self, kind: str) -> str:
        self.counter += 1
        return f"oSoak{kind}{self.counter:06d}"

    async def conversation(self) -> None:
        """One subscriber's visit, of a kind drawn by weight."""
        kind = self.rng.choices(["ask", "tap", "topic", "case"], [70, 12, 6, 12])[0]
        subscriber = Subscriber(self, self._openid(kind))
        if kind == "ask":
            for _ in range(self.rng.randint(1, 3)):
                await subscriber.say(self.rng.choice(self.questions), "ask")
        elif kind == "tap":
            await subscriber.tap(self.rng.choice(self.menu_keys))
        elif kind == "topic":
            reply = await subscriber.say(self.rng.choice(["订阅 政策", "订阅 资金", "订阅 认定"]),
                                         "topic")
            if "已订阅" in reply.text or "订阅成功" in reply.text or "将收到" in reply.text:
                self.record.subscribed.add(subscriber.openid)
        else:
            await self._intake(subscriber)

    async def _intake(self, subscriber: Subscriber) -> None:
        description = self.rng.choice(self.questions) + "，请帮忙核实处理"
        steps = [("留言", "intake:start"), (str(self.rng.randint(1, 3)), "intake:class"),
                 (description, "intake:text"), ("提交", "intake:submit"),
                 ("跳过", "intake:contact")]
        for text, step in steps:
            await subscriber.say(text, step)
        done = await subscriber.say("确认", "intake:confirm")
        found = NUMBER.search(done.text)
        self.record.cases[subscriber.openid] = found.group(1) if found else ""

    async def run(self, seconds: float, concurrency: int) -> None:
        self.pacer = Pacer(self.rate)  # each phase runs in its own event loop
        deadline = time.perf_counter() + seconds

        async def visitor() -> None:
            while time.perf_counter() < deadline:
                await self.conversation()

        await asyncio.gather(*(visitor() for _ in range(concurrency)))
