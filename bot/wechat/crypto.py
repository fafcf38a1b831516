"""Signatures and safe-mode (AES) encryption for the webhook.

Protocol: https://developers.weixin.qq.com/doc/offiaccount/Basic_Information/Access_Overview.html
and the message encryption guide (WXBizMsgCrypt). wechatpy compares signatures with `!=`;
every comparison here is constant-time.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time

from wechatpy.crypto import PrpCrypto
from wechatpy.exceptions import InvalidAppIdException


class SignatureError(Exception):
    """The request is not signed with this account's token."""


class DecryptError(Exception):
    """The Encrypt field does not decrypt with any of the account's keys."""


def signature(*parts: str) -> str:
    """WeChat's signature: SHA-1 of the sorted parts joined."""
    return hashlib.sha1("".join(sorted(parts)).encode("utf-8")).hexdigest()


def verify(expected_parts: tuple[str, ...], given: str) -> None:
    # bytes: compare_digest refuses non-ASCII str, and a forged query may carry any text
    expected = signature(*expected_parts).encode("ascii")
    if not given or not hmac.compare_digest(expected, given.lower().encode("utf-8")):
        raise SignatureError("signature mismatch")


def fresh(timestamp: str, window: int, now: float | None = None) -> bool:
    """True when `timestamp` (seconds) is within `window` seconds of now."""
    try:
        sent = int(timestamp)
    except (TypeError, ValueError):
        return False
    now = time.time() if now is None else now
    return abs(now - sent) <= window


def _aes_key(encoding_aes_key: str) -> bytes:
    key = base64.b64decode(encoding_aes_key + "=")
    if len(key) != 32:
        raise ValueError("an EncodingAESKey decodes to 32 bytes")
    return key


class MessageCrypto:
    """Encrypts replies with the current key; decrypts with the current or previous key."""

    def __init__(self, token: str, appid: str, aes_key: str, previous_aes_key: str = "") -> None:
        self.token = token
        self.appid = appid
        self._keys = [_aes_key(key) for key in (aes_key, previous_aes_key) if key]

    def decrypt(self, encrypted: str, msg_signature: str, timestamp: str, nonce: str) -> str:
        verify((self.token, timestamp, nonce, encrypted), msg_signature)
        for key in self._keys:
            try:
                return PrpCrypto(key).decrypt(encrypted, self.appid)
            except (InvalidAppIdException, ValueError, binascii.Error, UnicodeDecodeError,
                    IndexError, TypeError):
                continue
            except Exception:  # noqa: BLE001 - the cipher library's own errors
                continue
        raise DecryptError("Encrypt does not decrypt with the account's keys")

    def encrypt(self, xml: str, nonce: str, timestamp: str | None = None) -> str:
        timestamp = timestamp or str(int(time.time()))
        encrypted = PrpCrypto(self._keys[0]).encrypt(xml, self.appid).decode("ascii")
        sig = signature(self.token, timestamp, nonce, encrypted)
        return (
            f"<xml><Encrypt><![CDATA[{encrypted}]]></Encrypt>"
            f"<MsgSignature><![CDATA[{sig}]]></MsgSignature>"
            f"<TimeStamp>{timestamp}</TimeStamp><Nonce><![CDATA[{nonce}]]></Nonce></xml>"
        )
