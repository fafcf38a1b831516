"""Hostile input: whatever arrives, the webhook answers 200/400/403/413, never a 500, and
writes a row only for a message it accepted."""

from __future__ import annotations

import random
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from bot.models import InboundMessage
from tests.wechat import encrypt_body, signed_query, url

SAMPLES = [p.read_bytes() for p in
           sorted((Path(__file__).parent / "fixtures" / "wechat-samples").glob("*.xml"))]
ALLOWED = {200, 400, 403, 413}
FUZZ = settings(max_examples=300, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])


def mutate(data: bytes, seed: int) -> bytes:
    rng = random.Random(seed)
    body = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        action = rng.randrange(4)
        position = rng.randrange(len(body) + 1)
        if action == 0 and body:
            del body[position:position + rng.randint(1, 20)]
        elif action == 1:
            body[position:position] = rng.choice(
                [b"<", b">", b"]]>", b"<![CDATA[", b"&lol;", b"<!DOCTYPE x>", b"\x00", b"\xff",
                 b"<xml>", b"</xml>", b"<MsgId>9</MsgId>", "中文".encode()])
        elif action == 2 and body:
            body[position % len(body)] = rng.randrange(256)
        else:
            body += body[: rng.randint(0, 40)]
    return bytes(body)


def rows(runtime) -> int:
    with runtime.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(InboundMessage)).scalar()


@FUZZ
@given(sample=st.sampled_from(SAMPLES), seed=st.integers(0, 2**32))
def test_mutated_samples(client, account, runtime, sample, seed):
    before = rows(runtime)
    response = client.post(url("/wechat", signed_query(account.token)),
                           data=mutate(sample, seed))
    assert response.status_code in ALLOWED
    if response.status_code != 200:
        assert rows(runtime) == before


@FUZZ
@given(body=st.binary(max_size=3000), query=st.dictionaries(
    st.sampled_from(["signature", "timestamp", "nonce", "encrypt_type", "msg_signature",
                     "echostr"]), st.text(max_size=60)))
def test_random_bodies_and_queries(client, runtime, body, query):
    before = rows(runtime)
    response = client.post("/wechat", query_string=query, data=body)
    assert response.status_code in ALLOWED
    assert rows(runtime) == before
    assert client.get("/wechat", query_string=query).status_code in ALLOWED


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(inner=st.binary(max_size=600), seed=st.integers(0, 2**32))
def test_encrypted_garbage(client, account, runtime, inner, seed):
    before = rows(runtime)
    body, query = encrypt_body(account, inner.decode("utf-8", "replace"),
                               signed_query(account.token))
    response = client.post(url("/wechat", query), data=mutate(body.encode(), seed)
                           if seed % 2 else body)
    assert response.status_code in ALLOWED
    if response.status_code != 200:
        assert rows(runtime) == before
