"""Hostile input (issue 7): at least 10,000 malformed, oversized, mis-signed, mis-encrypted and
entity-laden requests against the webhook (the strategies are in tests/hostile.py).

Every request: an allowed status (never 5xx), an answer within TIME_LIMIT, no entity expanded
or file read into the answer; a refused one (4xx) commits nothing to the database; an accepted
one (200: the four required fields were there) is answered with `success` or well-formed XML
and logs at most one message. Every batch: only the message log tables grew, the marker is
nowhere in the database, nobody called the listener named in external entities, and a valid
message still gets its normal answer, in plain and safe mode.
"""

from __future__ import annotations

import io
import socket
import sqlite3
import time
from dataclasses import replace
from pathlib import Path
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.wechat.crypto import MessageCrypto, signature
from bot.wechat.parse import parse_xml
from tests import hostile
from tests.wechat import encrypt_body, signed_query, text_xml, url

MARK = "XXE-LEAK-5f1e9c"
ALLOWED = {200, 400, 403, 404, 405, 413}
TIME_LIMIT = 3.0  # WeChat gives up after 5 s
MESSAGE_TABLES = {"inbound_messages", "subscribers", "dialog_states"}
HELP = "帮助：列出可以问什么"
QUOTAS = {"samples": 2200, "messages": 3000, "queries": 2000, "safe_mode": 2000,
          "oversized": 800}


def fuzz(examples: int):
    return settings(max_examples=examples, derandomize=True, database=None, deadline=None,
                    suppress_health_check=list(HealthCheck))


class Probe:
    """Sends hostile requests, checks every answer and what a batch left behind."""

    def __init__(self, client, runtime, account, tmp_path: Path) -> None:
        self.client, self.runtime, self.account = client, runtime, account
        secret = tmp_path / "secret.txt"
        secret.write_text(f"{MARK} read from a file")
        self.listener = socket.create_server(("127.0.0.1", 0))
        http = f"http://127.0.0.1:{self.listener.getsockname()[1]}/x.dtd"
        self.places = {b"@FILE@": secret.as_uri().encode(), b"@HTTP@": http.encode(),
                       b"@MARK@": MARK.encode()}
        self.db_path = Path(runtime.engine.url.database)
        self.observer = sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True,
                                        isolation_level=None)
        self.sent = self.accepted = 0
        self.assert_healthy()  # also loads the dictionaries before any time is measured
        self.before = self.table_counts()

    def fill(self, data: bytes) -> bytes:
        for placeholder, value in self.places.items():
            data = data.replace(placeholder, value)
        return data

    def query(self, plan: hostile.Query) -> str:
        return urlencode(plan.params(self.account.token, time.time())) + plan.tail

    def send(self, target: str, body: bytes = b"", method: str = "POST", sealed: bytes = b"",
             **extra):
        """One request and its checks; `sealed` is what a safe-mode body carries encrypted."""
        version, logged = self._version(), self._inbound()
        refuse = hostile.has_dtd(body) or hostile.has_dtd(sealed)
        if "input_stream" not in extra:
            extra["data"] = self.fill(body)
        started = time.perf_counter()
        response = self.client.open(target, method=method, **extra)
        elapsed = time.perf_counter() - started
        status, data = response.status_code, response.data
        assert status in ALLOWED, (status, data[:200], target, body[:300])
        assert not (refuse and status == 200), ("accepted", data[:200], body[:300])
        assert elapsed < TIME_LIMIT, (elapsed, target, body[:300])
        assert MARK.encode() not in data and b"root:x:0:0" not in data, (target, body[:300])
        self.sent += method == "POST"
        if status == 200 and method == "POST":
            self.accepted += 1
            assert data == b"success" or parse_xml(data), data[:300]
            assert self._inbound() - logged <= 1
        else:
            assert self._version() == version, ("refused but wrote", status, body[:300])
        return response

    def _version(self) -> int:
        return self.observer.execute("PRAGMA data_version").fetchone()[0]

    def _inbound(self) -> int:
        return self.observer.execute("SELECT count(*) FROM inbound_messages").fetchone()[0]

    def table_counts(self) -> dict[str, int]:
        names = [row[0] for row in self.observer.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'")]
        return {name: self.observer.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0]
                for name in names}

    def assert_healthy(self) -> None:
        token = self.account.token
        plain = self.client.post(url("/wechat", signed_query(token)), data=text_xml("帮助"))
        assert plain.status_code == 200 and HELP in parse_xml(plain.data)["Content"]
        query = signed_query(token)
        body, query = encrypt_body(self.account, text_xml("帮助"), query)
        outer = parse_xml(self.client.post(url("/wechat", query), data=body).data)
        crypto = MessageCrypto(token, self.account.appid, self.account.aes_key)
        inner = crypto.decrypt(outer["Encrypt"], outer["MsgSignature"], outer["TimeStamp"],
                               outer["Nonce"])
        assert HELP in parse_xml(inner)["Content"]

    def finish(self, quota: int) -> None:
        """The batch's checks; `quota` requests with a body must have been sent."""
        assert self.sent >= quota, f"only {self.sent} requests sent"
        after = self.table_counts()
        grown = {name for name, count in after.items() if count != self.before.get(name)}
        assert grown <= (MESSAGE_TABLES if self.accepted else set()), grown
        growth = after["inbound_messages"] - self.before["inbound_messages"]
        assert growth <= self.accepted
        failed = self.observer.execute(
            "SELECT error FROM inbound_messages WHERE status = 'failed'").fetchall()
        assert not failed, failed[:3]  # no handler broke on what it was given
        for path in (self.db_path, self.db_path.with_name(self.db_path.name + "-wal")):
            assert not path.exists() or MARK.encode() not in path.read_bytes()
        self.listener.setblocking(False)
        with pytest.raises(BlockingIOError):
            self.listener.accept()  # nobody fetched an external entity
        self.assert_healthy()
        self.listener.close()
        self.observer.close()


@pytest.fixture
def probe(client, runtime, account, tmp_path):
    return Probe(client, runtime, account, tmp_path)


def test_the_quotas_add_up_to_ten_thousand_bodies():
    assert sum(QUOTAS.values()) >= 10_000


def test_mutated_samples(probe):
    @fuzz(QUOTAS["samples"])
    @given(body=hostile.mutated_samples, plan=hostile.valid_queries)
    def run(body, plan):
        probe.send("/wechat?" + probe.query(plan), body)

    run()
    probe.finish(QUOTAS["samples"])


def test_hostile_messages(probe):
    @fuzz(QUOTAS["messages"])
    @given(body=hostile.messages, plan=hostile.valid_queries)
    def run(body, plan):
        probe.send("/wechat?" + probe.query(plan), body)

    run()
    probe.finish(QUOTAS["messages"])


def test_hostile_queries(probe):
    bodies = st.one_of(hostile.messages, hostile.mutated_samples, st.binary(max_size=2000))

    @fuzz(QUOTAS["queries"])
    @given(body=bodies, plan=hostile.hostile_queries, path=st.sampled_from(hostile.PATHS),
           content_type=st.sampled_from(hostile.CONTENT_TYPES))
    def run(body, plan, path, content_type):
        target = f"{path}?{probe.query(plan)}"
        probe.send(target, body, content_type=content_type)
        probe.send(target, method="GET")

    run()
    probe.finish(QUOTAS["queries"])


def test_safe_mode_garbage(probe):
    account = probe.account

    @fuzz(QUOTAS["safe_mode"])
    @given(request=hostile.safe_requests)
    def run(request):
        sealed = replace(request.sealed, inner=probe.fill(request.sealed.inner))
        encrypted = hostile.seal(sealed, account.aes_key, account.appid)
        params = {**request.query.params(account.token, time.time()), "encrypt_type": "aes"}
        signed = encrypted if request.signing != "of-other" else encrypted + "x"
        if request.signing != "missing":
            params["msg_signature"] = "f" * 40 if request.signing == "wrong" else signature(
                account.token, params.get("timestamp", ""), params.get("nonce", ""), signed)
        body = request.envelope.format(encrypted).encode("utf-8", "surrogatepass")
        probe.send(f"/wechat?{urlencode(params)}{request.query.tail}", body, sealed=sealed.inner)

    run()
    probe.finish(QUOTAS["safe_mode"])


def test_oversized_bodies(probe, settings):
    limit = settings.max_body_bytes

    @fuzz(QUOTAS["oversized"])
    @given(size=st.sampled_from((limit + 1, 2 * limit, 2**20, 3 * 2**20)),
           more=st.integers(0, 4096), streamed=st.booleans(), signed=st.booleans(),
           head=st.sampled_from((text_xml("帮助").encode(), b"", b"\xff" * 10)),
           filler=st.sampled_from((b" ", b"\n", b"a", b"<a/>", b"\x00")))
    def run(size, more, streamed, signed, head, filler):
        size += more
        stream = io.BytesIO(head + filler * ((size - len(head)) // len(filler) + 1))
        query = signed_query(probe.account.token if signed else "wrong-token")
        extra = {"environ_overrides": {"wsgi.input_terminated": True, "CONTENT_LENGTH": None}
                 } if streamed else {}
        response = probe.send(url("/wechat", query), input_stream=stream, **extra)
        assert response.status_code == (413 if signed else 403)
        assert stream.tell() <= limit + 1  # refused without reading the whole body

    run()
    probe.finish(QUOTAS["oversized"])
