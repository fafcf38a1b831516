"""The webhook: verify, decrypt, parse, claim, dispatch, reply.

`GET /wechat[/<name>]` echoes `echostr` for WeChat's server check; `POST` handles one message.
No input yields a 500: a bad request gets 400/403/413 with the reason logged, and a handler
that fails or runs past the budget still leaves a logged message and a reply.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import re
import secrets
import sqlite3
import time
from concurrent.futures import TimeoutError as FutureTimeout

import psycopg
from flask import Blueprint, Response, abort, current_app, request
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from bot.config import Account
from bot.db import utcnow
from bot.dispatch import Incoming, MoveToPool, normalize
from bot.services import delivery, hotpath, messages, subscribers
from bot.services.dialogs import Dialog
from bot.wechat.crypto import DecryptError, MessageCrypto, SignatureError, fresh, verify
from bot.wechat.parse import BadMessage, message_key, parse_xml, to_message
from bot.wechat.replies import plain_text, render

log = logging.getLogger("hotline.webhook")
blueprint = Blueprint("wechat", __name__)
SUCCESS = "success"
PLAIN_NONCE = re.compile(r"[0-9A-Za-z]{1,64}")
APOLOGY = "抱歉，系统暂时忙不过来。您的消息已经记下，我们会尽快回复您。"


def _runtime():
    return current_app.extensions["hotline"]


def _account(name: str | None) -> Account:
    account = _runtime().settings.account(name or "default")
    if account is None:
        abort(404)
    return account


def _refuse(status: int, reason: str, account: Account) -> Response:
    log.warning("webhook %s refused %s: %s (from %s)", account.name, status, reason,
                request.remote_addr)
    _runtime().metrics.incr("webhook_refused", reason=str(status))
    return Response(reason if status != 403 else "forbidden", status=status,
                    mimetype="text/plain")


def _check_signature(account: Account) -> Response | None:
    args = request.args
    timestamp, nonce = args.get("timestamp", ""), args.get("nonce", "")
    try:
        verify((account.token, timestamp, nonce), args.get("signature", ""))
    except SignatureError:
        return _refuse(403, "bad signature", account)
    if not fresh(timestamp, _runtime().settings.timestamp_window, _runtime().clock()):
        return _refuse(403, "timestamp outside the window", account)
    return None


@blueprint.get("/wechat", defaults={"name": None})
@blueprint.get("/wechat/<name>")
def verify_server(name: str | None) -> Response:
    account = _account(name)
    refused = _check_signature(account)
    if refused is not None:
        return refused
    return Response(request.args.get("echostr", ""), mimetype="text/plain")


@blueprint.post("/wechat", defaults={"name": None})
@blueprint.post("/wechat/<name>")
def receive(name: str | None) -> Response:
    account = _account(name)
    runtime = _runtime()
    limit = runtime.settings.max_body_bytes
    # One byte over: werkzeug ends a streamed (chunked) body at the limit without an error.
    request.max_content_length = limit + 1
    refused = _check_signature(account)
    if refused is not None:
        return refused
    try:
        body = request.get_data(cache=False)
    except RequestEntityTooLarge:
        body = None
    if body is None or len(body) > limit:
        return _refuse(413, "body too large", account)
    safe_mode = request.args.get("encrypt_type", "raw").lower() == "aes"
    try:
        fields, crypto = _open(account, body, safe_mode)
        message = to_message(fields)
    except BadMessage as exc:
        return _refuse(400, str(exc), account)
    except (SignatureError, DecryptError) as exc:
        return _refuse(403 if isinstance(exc, SignatureError) else 400, str(exc), account)
    incoming = _incoming(account, fields, message)
    xml = answer(runtime, account, incoming)
    if not xml:
        return Response(SUCCESS, mimetype="text/plain")
    if crypto is not None:
        nonce = request.args.get("nonce", "")  # echoed into the reply's XML: only if plain
        xml = crypto.encrypt(xml, nonce if PLAIN_NONCE.fullmatch(nonce) else secrets.token_hex(8))
    return Response(xml, mimetype="application/xml")


def _open(account: Account, body: bytes, safe_mode: bool) -> tuple[dict, MessageCrypto | None]:
    """The message fields, decrypted in safe/compatible mode; and the crypto to reply with."""
    outer = parse_xml(body)
    if not safe_mode:
        return outer, None
    if not account.aes_key:
        raise BadMessage("encrypt_type=aes but this account has no EncodingAESKey")
    encrypted = outer.get("Encrypt")
    if not isinstance(encrypted, str) or not encrypted:
        raise BadMessage("encrypt_type=aes without an Encrypt field")
    crypto = MessageCrypto(account.token, account.appid, account.aes_key,
                           account.previous_aes_key)
    args = request.args
    inner = crypto.decrypt(encrypted, args.get("msg_signature", ""), args.get("timestamp", ""),
                           args.get("nonce", ""))
    return parse_xml(inner), crypto


def _text(fields: dict, name: str) -> str:
    value = fields.get(name)
    return value if isinstance(value, str) else ""


def _incoming(account: Account, fields: dict, message) -> Incoming:
    msg_type = fields["MsgType"].lower()
    text = _text(fields, "Content") if msg_type == "text" else _text(fields, "Recognition")
    data = message._data  # wechatpy's fields, with qrscene_ already stripped
    return Incoming(
        account=account.name,
        openid=fields["FromUserName"],
        msg_type=msg_type,
        text=text,
        normalized=normalize(text),
        event=_text(data, "Event").lower() if msg_type == "event" else "",
        event_key=_text(data, "EventKey"),
        media_id=_text(fields, "MediaId"),
        msg_key=message_key(fields),
        create_time=int(fields["CreateTime"].strip()),
        fields={**fields, "_to": fields["ToUserName"]},
    )


def answer(runtime, account: Account, msg: Incoming) -> str:
    """`_answer`, then (its transactions committed, so the window is open) the delivery of
    staff replies that waited for this subscriber to write again."""
    waiting: list[int] = []
    try:
        return _answer(runtime, account, msg, waiting)
    finally:
        if waiting:
            runtime.submit(delivery.deliver_pending, runtime, account.name, msg.openid)


def _answer(runtime, account: Account, msg: Incoming, waiting: list[int]) -> str:
    """Claim the message, run its handlers within the budget, and return the reply XML.

    An empty string means `success`: nothing to say, a retry of a message still being
    handled, or handlers past the budget (their reply then goes out as a customer-service
    message when it is ready).

    The plan's leading @quick handlers answer from memory, so the message is claimed,
    answered and logged at once: on SQLite in one transaction (a retry waits for it on the
    writer lock and gets the reply); on PostgreSQL in one statement, the answer found first
    and stored with the claim unless the subscriber turns out to have a dialog running
    (`_claim_answered`). The rest of the plan (or a quick handler that calls
    `ctx.leave_quick()`) runs on the handler pool after the claim is committed. What the
    handlers did to the subscriber's dialog is written with the reply."""
    started = time.perf_counter()
    runtime.refresh()
    ctx = runtime.context(account)
    with runtime.hot.connection() as conn:
        if conn.dialect.name == "postgresql" and subscribers.touches(msg):
            claim, found = _claim_answered(runtime, account, conn, msg, started)
            if claim.first and claim.pending_replies:
                waiting.append(claim.pending_replies)
            if claim.first and claim.status == "answered":
                return claim.reply_xml
            with hotpath.finishing(conn):
                if claim.first and claim.dialog is None and found is not None:
                    # found in memory with a dialog change (choices offered): recorded with it
                    return _finish(runtime, conn, msg, claim.id, found[:2], started, found[2])
                claim = dataclasses.replace(claim, pending_replies=0)  # counted above
                done = _after_claim(runtime, conn, msg, ctx, claim, started, waiting)
        else:
            with hotpath.write_transaction(conn):
                claim = messages.claim(conn, msg, stale_after=_stale_after(runtime))
                done = _after_claim(runtime, conn, msg, ctx, claim, started, waiting)
    if isinstance(done, str):
        return done
    claim, matches, head = done
    # The connection goes back while the pool works: the handler needs one of its own.
    future = runtime.submit(runtime.handle, ctx, msg, matches[head:])
    remaining = runtime.settings.reply_budget - (time.perf_counter() - started)
    try:
        answered = future.result(timeout=max(remaining, 0.0))
    except FutureTimeout:
        _defer(runtime, account, msg, claim.id, future, started, ctx)
        return ""
    except Exception as exc:  # noqa: BLE001
        with runtime.hot.connection() as conn, hotpath.finishing(conn):
            return _failed(runtime, conn, msg, claim.id, exc, started)
    with runtime.hot.connection() as conn, hotpath.finishing(conn):
        return _finish(runtime, conn, msg, claim.id, answered, started, ctx)


def _stale_after(runtime) -> dt.timedelta:
    """How long a first handling may run before a retry takes the message over: past the
    reply budget it has answered, deferred (its own status) or died."""
    return dt.timedelta(seconds=runtime.settings.reply_budget + 1.0)


def _claim_answered(runtime, account: Account, conn, msg: Incoming,
                    started: float) -> tuple[messages.Claim, tuple | None]:
    """PostgreSQL: answer from memory first (unless this process last saw the subscriber in
    a dialog), then claim with that answer in one statement (messages.claim_answered). An
    answer that changes the dialog is not stored with the claim: it is returned (reply, rule,
    context) for the caller to record with its change once the claim shows no dialog ran."""
    found = None if _dialog_hints.running(msg) else _answer_from_memory(runtime, account, msg)
    answer = None
    if found is not None and found[2].change is None:
        answer = _rendered(runtime, msg, found, started)
    claim = messages.claim_answered(conn, msg, answer, stale_after=_stale_after(runtime))
    if claim.first:
        _dialog_hints.note(msg, claim.dialog)
        if claim.status == "answered":
            runtime.metrics.incr("handled", rule=found[1].split(":")[-1])
    return claim, found


def _answer_from_memory(runtime, account: Account, msg: Incoming) -> tuple | None:
    """(reply, rule, context) of the plan's leading @quick handlers as if no dialog ran;
    None when they cannot answer without the database (the full path then runs them again,
    after the claim, and records a failure)."""
    matches = runtime.router.plan(msg, in_dialog=False)
    head = next((n for n, match in enumerate(matches) if not match.quick), len(matches))
    if not head:
        return None
    trial = runtime.context(account)
    trial.quick = True
    try:
        answered = runtime.router.run(matches[:head], msg, trial)
    except Exception:  # noqa: BLE001 - MoveToPool, or a bug the full path will record
        return None
    trial.quick = False
    if answered is None and head == len(matches):
        answered = (None, "none")
    return None if answered is None else (*answered, trial)


def _rendered(runtime, msg: Incoming, found: tuple, started: float) -> messages.Answer | None:
    """`found` as the reply to store with the claim (None if it cannot be sent)."""
    reply, rule, trial = found
    try:
        kind, xml = render(reply, to_user=msg.openid, from_user=msg.fields["_to"],
                           create_time=int(runtime.clock()))
    except Exception:  # noqa: BLE001 - the full path records the apology
        return None
    logged = f"{rule}:{trial.outcome}" if trial.outcome else rule
    return messages.Answer(kind, xml, plain_text(reply), logged, _ms(started))


class _DialogHints:
    """The subscribers this process last saw in a dialog, and until when: their messages
    skip the answer from memory, which the claim would throw away. Only a hint (another
    process may have started or ended the dialog since): the claim checks the database."""

    LIMIT = 100_000

    def __init__(self) -> None:
        self._until: dict[tuple[str, str], dt.datetime] = {}

    def running(self, msg: Incoming) -> bool:
        until = self._until.get((msg.account, msg.openid))
        return until is not None and until > utcnow()

    def note(self, msg: Incoming, dialog: Dialog | None) -> None:
        key = (msg.account, msg.openid)
        if dialog is None or dialog.expires_at is None:
            self._until.pop(key, None)
            return
        if len(self._until) >= self.LIMIT:
            self._until.clear()
        self._until[key] = dialog.expires_at


_dialog_hints = _DialogHints()


def _after_claim(runtime, conn, msg: Incoming, ctx, claim: messages.Claim, started: float,
                 waiting: list[int]):
    """After the claim (inside the caller's transaction): a retry's answer, or the plan's
    leading @quick handlers' reply recorded; else (claim, matches, head) for the pool."""
    if not claim.first:
        runtime.metrics.incr("dedupe_hits")
        return claim.reply_xml if claim.status in ("answered", "failed") else ""
    if claim.taken_over:
        log.warning("%s %s: the first handling died unanswered; its retry answers",
                    msg.account, msg.msg_key)
        runtime.metrics.incr("taken_over")
    ctx.dialog = claim.dialog
    if claim.pending_replies:
        waiting.append(claim.pending_replies)
    matches = runtime.router.plan(msg, in_dialog=claim.dialog is not None)
    head = next((n for n, match in enumerate(matches) if not match.quick), len(matches))
    answered = None
    if head:
        ctx.quick = True
        try:
            answered = runtime.router.run(matches[:head], msg, ctx)
        except MoveToPool as moved:
            head = moved.at
            ctx.dialog, ctx.change = claim.dialog, None  # the pool starts afresh
        except Exception as exc:  # noqa: BLE001 - a handler's bug must not be a 500
            return _failed(runtime, conn, msg, claim.id, exc, started)
        ctx.quick = False
    if answered is None and head == len(matches):
        answered = (None, "none")
    if answered is not None:
        return _finish(runtime, conn, msg, claim.id, answered, started, ctx)
    return claim, matches, head


def _finish(runtime, conn, msg: Incoming, message_id: int, answered: tuple,
            started: float, ctx) -> str:
    """Render the reply and record it with the dialog change (in the caller's transaction)."""
    reply, rule = answered
    try:
        kind, xml = render(reply, to_user=msg.openid, from_user=msg.fields["_to"],
                           create_time=int(runtime.clock()))
    except Exception as exc:  # noqa: BLE001 - a handler returned something unsendable
        return _failed(runtime, conn, msg, message_id, exc, started)
    logged = f"{rule}:{ctx.outcome}" if ctx.outcome else rule
    messages.finish(conn, message_id, status="answered", reply_kind=kind, reply_xml=xml,
                    reply_text=plain_text(reply), handled_ms=_ms(started), rule=logged,
                    msg=msg, change=ctx.change)
    if ctx.change is not None:
        _dialog_hints.note(msg, ctx.change.dialog)
    runtime.metrics.incr("handled", rule=rule.split(":")[-1])
    return xml


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)


def _failed(runtime, conn, msg: Incoming, message_id: int, exc: BaseException,
            started: float) -> str:
    """The apology, recorded with the error (inside the caller's transaction)."""
    log.error("handler failed for %s %s", msg.account, msg.msg_key, exc_info=exc)
    runtime.metrics.incr("handler_errors")
    kind, xml = render(APOLOGY, to_user=msg.openid, from_user=msg.fields["_to"],
                       create_time=int(runtime.clock()))
    messages.finish(conn, message_id, status="failed", reply_kind=kind, reply_xml=xml,
                    reply_text=APOLOGY, handled_ms=_ms(started), error=repr(exc))
    return xml


def _defer(runtime, account: Account, msg: Incoming, message_id: int, future,
           started: float, ctx) -> None:
    """Past the budget: answer `success` now, send the reply when the handler is done."""
    log.info("handler past the %.1fs budget for %s; replying later",
             runtime.settings.reply_budget, msg.msg_key)
    runtime.metrics.incr("deferred")
    with hotpath.write_transaction(runtime.engine) as conn:
        messages.finish(conn, message_id, status="deferred", handled_ms=_ms(started))

    def deliver(done) -> None:
        change = ctx.change
        try:
            reply, _rule = done.result()
        except Exception as exc:  # noqa: BLE001
            reply, change = APOLOGY, None
            log.error("deferred handler failed for %s", msg.msg_key, exc_info=exc)
        try:
            result = runtime.api(account.name).send_reply(msg.openid, reply,
                                                          inbound_id=message_id)
            status, error = ("sent", "") if result.ok else ("failed", result.error)
        except Exception as exc:  # noqa: BLE001 - keep the row honest whatever happens
            log.error("deferred reply to %s not sent", msg.msg_key, exc_info=exc)
            status, error = "failed", repr(exc)
        with hotpath.write_transaction(runtime.engine) as conn:
            messages.finish(conn, message_id, status=status, reply_kind="custom",
                            reply_text=plain_text(reply), handled_ms=_ms(started), error=error,
                            msg=msg, change=change)

    future.add_done_callback(deliver)


@blueprint.errorhandler(SQLAlchemyError)
@blueprint.errorhandler(sqlite3.Error)
@blueprint.errorhandler(psycopg.Error)
def _database_error(exc: Exception) -> Response:
    """The database is down or overloaded: nothing was claimed, so WeChat's retry of this
    message is handled afresh. 503, never a 500."""
    log.error("webhook: database unavailable: %s", exc)
    _runtime().metrics.incr("webhook_refused", reason="503")
    return Response("database unavailable", status=503, mimetype="text/plain")


@blueprint.errorhandler(HTTPException)
def _http_error(exc: HTTPException) -> Response:
    return Response(exc.description or exc.name, status=exc.code or 400, mimetype="text/plain")
