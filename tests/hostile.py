"""Hostile requests for the webhook fuzz (tests/test_webhook_fuzz.py): hypothesis strategies
for bodies and query strings, and the builders that turn what they draw into bytes.

Placeholders stand for what only the running test knows: `@FILE@` a file:// URL whose file
holds the marker, `@HTTP@` a URL of a listener that must never be called, `@MARK@` the marker
itself (only ever inside a DTD, so seeing it anywhere means an entity was expanded).
"""

from __future__ import annotations

import base64
import random
import string
import struct
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from hypothesis import strategies as st

from bot.wechat.crypto import signature

SAMPLES = [p.read_bytes() for p in
           sorted((Path(__file__).parent / "fixtures" / "wechat-samples").glob("*.xml"))]
REQUIRED = ("ToUserName", "FromUserName", "CreateTime", "MsgType")
QUERY_KEYS = ("signature", "timestamp", "nonce", "encrypt_type", "msg_signature", "echostr")

LAUGHS = "".join(f'<!ENTITY l{n} "{f"&l{n - 1};" * 10}">' for n in range(1, 10))
PROLOGS = ("",) * 40 + (
    '<?xml version="1.0" encoding="UTF-8"?>', "\ufeff", "<!-- note -->\n",
    '<?xml version="1.0" encoding="GBK"?>', '<?xml version="1.0" encoding="UTF-16"?>',
    '<?xml version="1.0" encoding="no-such-codec"?>', '<?xml version="1.0" encoding="utf-7"?>',
    '<?xml version="1.0" encoding="rot13"?>', '<?xml-stylesheet href="@HTTP@"?>',
    "<!DOCTYPE xml>", '<!DOCTYPE xml [<!ENTITY e SYSTEM "@FILE@">]>',
    '<!DOCTYPE xml [<!ENTITY e SYSTEM "@HTTP@">]>', '<!DOCTYPE xml SYSTEM "@HTTP@">',
    '<!DOCTYPE xml [<!ENTITY % p SYSTEM "@HTTP@"> %p;]>',
    f'<!DOCTYPE xml [<!ENTITY l0 "@MARK@">{LAUGHS}<!ENTITY e "&l9;">]>',
    '<!DOCTYPE xml [<!ENTITY e "@MARK@' + "x" * 20000 + '">]>',
    '<?pi <xml?><!DOCTYPE xml [<!ENTITY e "@MARK@">]>',
    '<!--<xml--><!DOCTYPE xml [<!ENTITY e "@MARK@">]>',
    '<?xml version="1.0"?><!DOCTYPE xml [<!ELEMENT xml ANY><!ENTITY e "@MARK@">]>',
)
ENCODINGS = ("utf-8",) * 20 + ("utf-8-sig", "gbk", "utf-16", "utf-16-le", "utf-32", "latin-1")
WORDS = (
    "帮助", "低保", "扶贫政策", "我要投诉", "1", "查询", "", " ", "\t\n", "]]>", "]]]]><![CDATA[>",
    "<![CDATA[x]]>", "&e;", "&e;" * 40, "&lt;&gt;&amp;", "&#0;", "&#xD800;", "&#x1F600;",
    "&nosuch;", "<b>粗</b>", "<!DOCTYPE x>", "<!ENTITY y 'z'>", "@FILE@", "@HTTP@",
    '<xi:include xmlns:xi="http://www.w3.org/2001/XInclude" href="@FILE@" parse="text"/>',
    "\x01\x02", "\ud800", "\uffff", "\u202e", "繁體中文", "qrscene_1", "scanbarcode|x",
)
NUMBERS = ("", " ", "-1", "0", "1e9", "0x10", "1.5", "²", "١٢٣", "１２３", "12 34", "+1",
           "NaN", "9" * 19, "9" * 30, "9" * 4301, "18446744073709551616", "1700000000")
MSG_TYPES = ("text", "image", "voice", "video", "shortvideo", "location", "link", "event",
             "file", "miniprogrampage", "TEXT", "Event", "", "t" * 40, "文本")
EVENTS = ("subscribe", "unsubscribe", "SCAN", "CLICK", "VIEW", "LOCATION", "MASSSENDJOBFINISH",
          "TEMPLATESENDJOBFINISH", "PUBLISHJOBFINISH", "view_miniprogram", "scancode_push",
          "pic_sysphoto", "location_select", "", "unknown_event")
NAMES = REQUIRED + ("MsgId", "Content", "Event", "EventKey", "Recognition", "MediaId", "PicUrl",
                    "bizmsgmenuid", "ScanCodeInfo", "SendPicsInfo", "Encrypt", "Location_X",
                    "Label", "Url", "Ticket", "MsgID", "Status")
TRICKS = (b"<", b">", b"]]>", b"<![CDATA[", b"&e;", b"&#0;", b"&amp;", b"<!DOCTYPE x>",
          b'<!ENTITY e SYSTEM "@FILE@">', b"\x00", b"\xff\xfe", b"\xef\xbb\xbf", b"<xml>",
          b"</xml>", b"<MsgId>9</MsgId>", b"<MsgType>text</MsgType>", b"<CreateTime>x</CreateTime>",
          "中文".encode(), "中文".encode("gbk"), b"<?pi <xml?>", b"<!-- -->", b"<a><b><c>",
          b"\r\n", b"</MsgType>", b"<FromUserName>", b"'\"", b"%s%n", b"\\x00")

# Characters to draw text from: ASCII, CJK, BOMs, bidi, emoji; and what XML forbids.
ALPHABET = (string.printable[:-2]  # without \x0b\x0c, which XML forbids
            + "中文扶贫低保政策申请帮助繁體\ufeff\u202e\u200b\U0001f600\u00e9")
FORBIDDEN = "\x00\x01\x08\x0b\x0c\x1f\ud800\udfff\ufffe\uffff"
STYLES = ("cdata",) * 12 + ("escaped",) * 4 + ("raw", "nested", "deep")
SIZES = (0,) * 30 + (3000, 60_000, 70_000, 1_100_000)  # characters of Content


def seeded(build):
    """A strategy of `build(rng)`: hypothesis draws one seed, a Random does the detail (a
    hypothesis draw per detail costs a millisecond; 10,000 examples must fit in the suite)."""
    return st.integers(0, 2**64 - 1).map(lambda seed: build(random.Random(seed)))


def text(rng: random.Random) -> str:
    if rng.random() < 0.5:
        return rng.choice(WORDS)
    alphabet = ALPHABET if rng.random() < 0.9 else ALPHABET + FORBIDDEN
    return "".join(rng.choice(alphabet) for _ in range(rng.randrange(30)))


def number(rng: random.Random) -> str:
    if rng.random() < 0.6:
        return str(rng.randrange(10**10, 2 * 10**10) // 10)  # a plausible CreateTime / MsgId
    return rng.choice(NUMBERS) if rng.random() < 0.7 else str(rng.randint(-(2**70), 2**70))


def name(rng: random.Random) -> str:
    if rng.random() < 0.8:
        return rng.choice(NAMES)
    return "".join(rng.choice(string.ascii_letters + "_.-0") for _ in range(rng.randint(1, 12)))


def value(rng: random.Random, content: str) -> str:
    """Element content: CDATA, escaped or raw (maybe malformed) text, or nested elements."""
    style = rng.choice(STYLES)
    if style == "cdata":
        return f"<![CDATA[{content}]]>"
    if style == "escaped":
        return content.replace("&", "&amp;").replace("<", "&lt;")
    if style == "nested":
        return f"<{name(rng)}>{content}</{name(rng)}>"
    if style == "deep":
        depth = rng.randint(2, 3000)
        return "<a>" * depth + content + "</a>" * depth
    return content


def message(rng: random.Random) -> bytes:
    """A message-shaped body: required fields (some missing, duplicated or odd), extras, an
    optional hostile prolog, a huge field, and any of several encodings."""
    prolog, msg_type = rng.choice(PROLOGS), rng.choice(MSG_TYPES + (text(rng),))
    # where the prolog declares an entity, the text refers to it (and the message log keeps it)
    said = "&e;" if "ENTITY e " in prolog and rng.random() < 0.7 else value(rng, text(rng))
    fields = [("ToUserName", value(rng, text(rng))), ("FromUserName", value(rng, text(rng))),
              ("CreateTime", value(rng, number(rng))), ("MsgType", f"<![CDATA[{msg_type}]]>")]
    if msg_type.lower() == "event":
        fields += [("Event", value(rng, rng.choice(EVENTS))), ("EventKey", said)]
    else:
        fields += [("Content", said), ("MsgId", value(rng, number(rng)))]
        if rng.random() < 0.2:  # as when a dialog-menu link was tapped
            fields.append(("bizmsgmenuid", value(rng, rng.choice(NUMBERS))))
    if rng.random() < 0.1:
        fields.remove(rng.choice(fields))
    fields += [(name(rng), value(rng, text(rng))) for _ in range(rng.choice((0, 0, 1, 2, 4)))]
    rng.shuffle(fields)
    size = rng.choice(SIZES)
    inner = "".join(f"<{tag}>{_grown(content, size) if tag == 'Content' else content}</{tag}>"
                    for tag, content in fields)
    document = prolog + f"<xml>{inner}</xml>"
    encoding = rng.choice(ENCODINGS)
    return document.encode(encoding, "surrogatepass" if encoding.startswith("utf") else "replace")


def has_dtd(body: bytes) -> bool:
    """Whether `body` (as UTF-8) declares a DTD before its root: it must be refused."""
    return b"<!DOCTYPE" in body[:body.find(b"<xml>")]


def _grown(content: str, size: int) -> str:
    """`content` repeated to about `size` characters (at least once)."""
    return content * max(size // max(len(content), 1), 1)


def mutate(data: bytes, rng: random.Random) -> bytes:
    """A real sample after a few edits: delete, insert a trick or bytes, overwrite,
    duplicate, truncate."""
    body = bytearray(data)
    for _ in range(rng.choice((1, 1, 1, 2, 3, 6))):
        action, at = rng.randrange(5), rng.randrange(len(body) + 1)
        payload = rng.choice(TRICKS) if rng.random() < 0.7 else rng.randbytes(rng.randrange(12))
        if action == 0:
            del body[at:at + rng.randint(1, 40)]
        elif action == 1:
            body[at:at] = payload
        elif action == 2:
            body[at:at + len(payload)] = payload
        elif action == 3:
            body[at:at] = body[at:at + rng.randrange(64)]
        else:
            del body[at:]
    return bytes(body)


messages = seeded(message)
mutated_samples = seeded(lambda rng: mutate(rng.choice(SAMPLES), rng))


@dataclass(frozen=True)
class Query:
    """How a request is signed: the timestamp's skew from now (or a literal timestamp), the
    nonce, parameters dropped or overwritten after signing, text appended to the raw query."""

    skew: int = 0
    timestamp: str | None = None
    nonce: str = "n0nce"
    drop: frozenset[str] = frozenset()
    override: tuple[tuple[str, str], ...] = ()
    tail: str = ""

    def params(self, token: str, now: float) -> dict[str, str]:
        timestamp = self.timestamp if self.timestamp is not None else str(int(now) + self.skew)
        params = {"signature": signature(token, timestamp, self.nonce),
                  "timestamp": timestamp, "nonce": self.nonce, "openid": "oFuzz"}
        params.update(self.override)
        return {key: value for key, value in params.items() if key not in self.drop}


TAILS = ("", "", "", "", "&signature=0", "&%zz", "&%ff%fe=1", "&&=&", "&timestamp=1&timestamp=2",
         "&encrypt_type=aes", "#frag", "&nonce=" + "n" * 5000)


def clean_text(rng: random.Random) -> str:
    return text(rng).encode("utf-8", "ignore").decode()  # no lone surrogates in a URL


def valid_query(rng: random.Random) -> Query:
    """Signed as WeChat signs, within the timestamp window; the nonce may be odd."""
    nonce = "n0nce" if rng.random() < 0.7 else clean_text(rng)
    return Query(skew=rng.randint(-200, 200), nonce=nonce)


def hostile_query(rng: random.Random) -> Query:
    """Stale or future timestamps (signed or not), parameters missing, garbled, repeated."""
    skew = rng.choice((0, rng.randint(-300, 300), rng.choice((-1, 1)) * rng.randint(301, 10**10)))
    timestamp = None if rng.random() < 0.7 else rng.choice((rng.choice(NUMBERS), clean_text(rng)))
    drop = frozenset(key for key in ("signature", "timestamp", "nonce") if rng.random() < 0.15)
    override = tuple((rng.choice(QUERY_KEYS), rng.choice(("aes", "AES", "raw", "0" * 40, "签名",
                                                          clean_text(rng))))
                     for _ in range(rng.choice((0, 0, 1, 3))))
    nonce = rng.choice(("n0nce", "]]>", "<&>", clean_text(rng)))
    return Query(skew, timestamp, nonce, drop, override, rng.choice(TAILS))


valid_queries, hostile_queries = seeded(valid_query), seeded(hostile_query)
CONTENT_TYPES = ("text/xml", "application/xml", "text/plain", "application/json",
                 "application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
                 "multipart/form-data", "text/xml; charset=GBK", "", "*/*; q=junk")
PATHS = ("/wechat",) * 12 + ("/wechat/default", "/wechat/nobody", "/wechat/%00",
         "/wechat/..%2fconsole")


@dataclass(frozen=True)
class Sealed:
    """What goes inside `Encrypt`: `inner` sealed with the right (or a wrong) key and appid,
    with its length field and padding honest or not; or `junk` as it stands."""

    inner: bytes = b""
    key: str = "right"  # right, wrong
    appid: str = "right"  # right, wrong, empty
    length_skew: int = 0
    padding: int | None = None  # None: PKCS#7 as WeChat pads; otherwise every pad byte
    junk: str | None = None


JUNK = ("", "====", "YWJj", "A" * 44, "%%%%", "AAAAAAAAAAAAAAAAAAAAAA==", "\u00ff" * 16)


def sealing(rng: random.Random) -> Sealed:
    """Mostly a message sealed as WeChat seals it; else a wrong key, appid, length or
    padding; or junk that is no ciphertext at all."""
    if rng.random() < 0.2:
        return Sealed(junk=rng.choice(JUNK) if rng.random() < 0.5 else clean_text(rng))
    kind = rng.randrange(4)
    inner = (message(rng) if kind == 0 else mutate(rng.choice(SAMPLES), rng) if kind == 1
             else rng.choice(SAMPLES) if kind == 2 else rng.randbytes(rng.randrange(200)))
    return Sealed(inner, key="right" if rng.random() < 0.85 else "wrong",
                  appid=rng.choice(("right",) * 8 + ("wrong", "empty")),
                  length_skew=rng.choice((0,) * 10 + (-3, 5, 2**31)),
                  padding=None if rng.random() < 0.85 else rng.randrange(256))


WRONG_KEY = "ZYXWVUTSRQPONMLKJIHGFEDCBA9876543210zyxwvut"


def seal(plan: Sealed, aes_key: str, appid: str) -> str:
    """The Encrypt text for `plan`, built as WXBizMsgCrypt does (random 16 bytes, length in
    network order, message, appid, padding to 32 bytes; AES-256-CBC, IV = key[:16])."""
    if plan.junk is not None:
        return plan.junk
    key = base64.b64decode((aes_key if plan.key == "right" else WRONG_KEY) + "=")
    app = {"right": appid, "wrong": "wx0000000000000000", "empty": ""}[plan.appid]
    length = (len(plan.inner) + plan.length_skew) % 2**32
    text = b"0123456789abcdef" + struct.pack(">I", length) + plan.inner + app.encode()
    pad = 32 - len(text) % 32
    text += bytes([pad if plan.padding is None else plan.padding]) * pad
    encryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    return base64.b64encode(encryptor.update(text) + encryptor.finalize()).decode()


SIG_MODES = ("right",) * 9 + ("wrong", "missing", "of-other")  # msg_signature
ENCRYPTED = ("<xml><ToUserName><![CDATA[gh_test]]></ToUserName>"
             "<Encrypt><![CDATA[{}]]></Encrypt></xml>")
ENVELOPES = (ENCRYPTED,) * 6 + ("<xml><Encrypt>{}</Encrypt></xml>",) * 3 + (
    "<xml><Encrypt><![CDATA[{}]]></Encrypt><Encrypt>x</Encrypt></xml>",  # Encrypt twice
    "<xml><Encrypt><a>{}</a></Encrypt></xml>", "<xml><Other>{}</Other></xml>", "{}")


@dataclass(frozen=True)
class SafeRequest:
    """A safe-mode request: its query, what is sealed, how msg_signature is made, and the
    envelope the Encrypt text goes into."""

    query: Query
    sealed: Sealed
    signing: str
    envelope: str


def safe_request(rng: random.Random) -> SafeRequest:
    query = valid_query(rng) if rng.random() < 0.8 else hostile_query(rng)
    return SafeRequest(query, sealing(rng), rng.choice(SIG_MODES), rng.choice(ENVELOPES))


safe_requests = seeded(safe_request)
