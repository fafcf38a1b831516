"""Routing inbound messages to handlers: groups record rules, one router applies them.

Handlers are plain functions ``handler(msg: Incoming, ctx: Context) -> Reply``. A reply is a
``str`` (text), an ``Article`` (one news article), or ``None`` (nothing to say: ``success``).

The router's order, fixed and documented here (and shown by ``Router.describe()``):

1. ``event``   - events by type (``subscribe``, ``unsubscribe``, ``scan``, ...), and
   ``menu``    - CLICK events by menu key; one owner per event type / key.
2. ``keyword`` - the whole normalized text equals a keyword; one owner per keyword.
3. ``regex``   - a pattern matches the normalized text; groups in priority order.
4. ``contains``- the normalized text contains a word; groups in priority order.
5. ``msg_type``- any message of a type (``image``, ``voice``, ``location``, ...).
6. ``fallback``- text only: the first group (in priority order) that declares one.

Anything else (unknown message types, events nobody claimed) gets no reply: ``success``.

Before step 2, while the subscriber has a dialog in progress (case intake, a pending
numbered choice), each group's ``intercept`` rules run in priority order: the dialog sees the
text first and may decline by returning ``NotHandled``. Without a dialog they are skipped.
Two groups claiming the same keyword, menu key or event is a start-up error.

A handler marked ``@quick`` promises to answer from memory: no database, no network, no
waiting. The webhook runs the quick handlers at the head of a message's plan in the request
thread (a hop to the handler pool costs more than they do) and hands the rest of the plan
to the pool, which keeps the reply budget. A quick handler's context refuses ``session()``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class Article:
    """One news article (passive replies and customer-service news carry one at most)."""

    title: str
    description: str = ""
    url: str = ""
    image: str = ""


Reply = str | Article | None


class _NotHandled:
    def __repr__(self) -> str:
        return "NotHandled"


NotHandled = _NotHandled()
"""Returned by an intercept (or any handler) to let the router go on to the next rule."""


class MoveToPool(Exception):  # noqa: N818 - a signal, not an error
    """Raised through ``ctx.leave_quick()`` by a @quick handler that finds it must wait
    (a dialog that needs the database, say): the webhook commits the claim and runs this
    handler, and the rest of the plan, again on the handler pool."""

    at: int = 0  # the position in the plan of the handler that raised it


@dataclass(frozen=True)
class Incoming:
    """An inbound message or event, with the fields handlers need already as text."""

    account: str
    openid: str
    msg_type: str
    text: str = ""
    normalized: str = ""
    event: str = ""
    event_key: str = ""
    media_id: str = ""
    msg_key: str = ""
    create_time: int = 0
    fields: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def is_event(self) -> bool:
        return self.msg_type == "event"


class Context(Protocol):
    """What a handler may use: services bound to the runtime, never Flask or globals."""

    account: Any
    runtime: Any

    def session(self) -> Any: ...


Handler = Callable[[Incoming, Any], Any]


def quick(handler: Handler) -> Handler:
    """Mark `handler` as answering from memory (see the module docstring)."""
    handler.quick = True  # type: ignore[attr-defined]
    return handler


def is_quick(handler: Handler) -> bool:
    return getattr(handler, "quick", False) is True


class ConfigurationError(RuntimeError):
    """Handler groups disagree (two owners for one keyword, menu key or event)."""


@dataclass
class Rule:
    kind: str
    value: Any
    handler: Handler
    group: str = ""


_FULLWIDTH_PUNCT = "，。！？；：、“”‘’（）【】《》…～·"
_TRIM = " \t\r\n" + "!?.,;:~'\"()[]<>" + _FULLWIDTH_PUNCT


def normalize(text: str) -> str:
    """Text as the router compares it: NFKC (full-width to half-width), lower case,
    inner white space folded, punctuation trimmed at both ends (unless it is all there is)."""
    text = unicodedata.normalize("NFKC", text or "").lower()
    text = " ".join(text.split())
    return text.strip(_TRIM) or text


class HandlerGroup:
    """The rules of one topic module, recorded in the order they are declared."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.rules: list[Rule] = []
        self.fallback_handler: Handler | None = None
        self.intercepts: list[Handler] = []

    def _add(self, kind: str, values: Iterable[Any]) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            for value in values:
                self.rules.append(Rule(kind, value, handler, self.name))
            return handler

        return register

    def keyword(self, *words: str) -> Callable[[Handler], Handler]:
        return self._add("keyword", [normalize(word) for word in words])

    def contains(self, *words: str) -> Callable[[Handler], Handler]:
        return self._add("contains", [normalize(word) for word in words])

    def regex(self, pattern: str, flags: int = 0) -> Callable[[Handler], Handler]:
        return self._add("regex", [re.compile(pattern, flags)])

    def msg_type(self, *types: str) -> Callable[[Handler], Handler]:
        return self._add("msg_type", [kind.lower() for kind in types])

    def event(self, *events: str) -> Callable[[Handler], Handler]:
        return self._add("event", [name.lower() for name in events])

    def menu(self, *keys: str) -> Callable[[Handler], Handler]:
        return self._add("menu", list(keys))

    def fallback(self, handler: Handler) -> Handler:
        self.fallback_handler = handler
        return handler

    def intercept(self, handler: Handler) -> Handler:
        self.intercepts.append(handler)
        return handler

    def help_lines(self) -> list[str]:
        """The first docstring line of each keyword/menu handler, once each."""
        lines: list[str] = []
        for rule in self.rules:
            if rule.kind not in ("keyword", "regex", "contains"):
                continue
            doc = (rule.handler.__doc__ or "").strip().splitlines()
            if doc and doc[0] not in lines:
                lines.append(doc[0])
        return lines


@dataclass(slots=True)
class Match:
    handler: Handler
    kind: str
    group: str
    arguments: dict[str, str] = field(default_factory=dict)

    @property
    def quick(self) -> bool:
        return is_quick(self.handler)

    @property
    def label(self) -> str:
        return self.kind if self.kind == "fallback" else f"{self.group}:{self.kind}"


class Router:
    """Applies the groups' rules in the order documented at the top of this module."""

    ORDER = ("event/menu", "intercept", "keyword", "regex", "contains", "msg_type", "fallback")

    def __init__(self, groups: Sequence[HandlerGroup]) -> None:
        self.groups = list(groups)
        self._exact: dict[tuple[str, Any], Rule] = {}
        self._ordered: dict[str, list[Rule]] = {"regex": [], "contains": [], "msg_type": []}
        for group in self.groups:
            for rule in group.rules:
                if rule.kind in ("keyword", "menu", "event"):
                    self._claim(rule)
                else:
                    self._ordered[rule.kind].append(rule)
        self._fallback = next(
            (g for g in self.groups if g.fallback_handler), None
        )
        self._help: list[str] | None = None

    def _claim(self, rule: Rule) -> None:
        key = (rule.kind, rule.value)
        owner = self._exact.get(key)
        if owner is not None and owner.group != rule.group:
            raise ConfigurationError(
                f"{rule.kind} {rule.value!r} is claimed by both {owner.group!r} and {rule.group!r}"
            )
        self._exact.setdefault(key, rule)

    def candidates(self, msg: Incoming, in_dialog: bool = True) -> Iterable[Match]:
        """Every rule that matches `msg`, best first; dispatch takes the first that answers."""
        if msg.is_event:
            if msg.event == "click" and ("menu", msg.event_key) in self._exact:
                rule = self._exact[("menu", msg.event_key)]
                yield Match(rule.handler, "menu", rule.group)
            rule = self._exact.get(("event", msg.event))
            if rule is not None:
                yield Match(rule.handler, "event", rule.group)
            return
        if msg.msg_type == "text":
            if in_dialog:
                for group in self.groups:
                    for intercept in group.intercepts:
                        yield Match(intercept, "intercept", group.name)
            rule = self._exact.get(("keyword", msg.normalized))
            if rule is not None:
                yield Match(rule.handler, "keyword", rule.group)
            for rule in self._ordered["regex"]:
                found = rule.value.search(msg.normalized)
                if found:
                    yield Match(rule.handler, "regex", rule.group, found.groupdict())
            for rule in self._ordered["contains"]:
                if rule.value in msg.normalized:
                    yield Match(rule.handler, "contains", rule.group)
        for rule in self._ordered["msg_type"]:
            if rule.value == msg.msg_type:
                yield Match(rule.handler, "msg_type", rule.group)

    def plan(self, msg: Incoming, in_dialog: bool = True) -> list[Match]:
        """Every handler that may answer `msg`, in the order they are tried (fallback last);
        the intercepts only `in_dialog`."""
        matches = list(self.candidates(msg, in_dialog))
        if self._fallback is not None and msg.msg_type == "text":
            matches.append(Match(self._fallback.fallback_handler, "fallback",
                                 self._fallback.name))
        return matches

    @staticmethod
    def run(matches: Sequence[Match], msg: Incoming, ctx: Any) -> tuple[Reply, str] | None:
        """The reply of the first match that answers and its label; None if all declined."""
        for position, match in enumerate(matches):
            try:
                reply = match.handler(msg, ctx, **match.arguments)
            except MoveToPool as moved:
                moved.at = position
                raise
            if reply is not NotHandled:
                return reply, match.label
        return None

    def dispatch(self, msg: Incoming, ctx: Any) -> tuple[Reply, str]:
        """The reply and a label of the rule that gave it (``group:kind``)."""
        return self.run(self.plan(msg), msg, ctx) or (None, "none")

    def owner(self, msg: Incoming) -> str | None:
        """The group whose keyword or pattern claims this text outright (None if none does):
        a dialog uses it to let 帮助, 查询 … and the like through instead of swallowing them."""
        if msg.msg_type != "text":
            return None
        rule = self._exact.get(("keyword", msg.normalized))
        if rule is not None:
            return rule.group
        for rule in self._ordered["regex"]:
            if rule.value.search(msg.normalized):
                return rule.group
        return None

    def help_text(self) -> list[str]:
        if self._help is None:
            lines: list[str] = []
            for group in self.groups:
                lines.extend(line for line in group.help_lines() if line not in lines)
            self._help = lines
        return list(self._help)

    def describe(self) -> str:
        """A readable table of every rule in router order (for `hotline routes`)."""
        rows = [f"{kind:8} {value!s:24} {rule.group}.{rule.handler.__name__}"
                for (kind, value), rule in self._exact.items()]
        for kind in ("regex", "contains", "msg_type"):
            rows += [f"{kind:8} {getattr(r.value, 'pattern', r.value)!s:24} "
                     f"{r.group}.{r.handler.__name__}" for r in self._ordered[kind]]
        return "\n".join(rows)
