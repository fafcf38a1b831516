"""What the bot says. `GROUPS` is the priority order the router applies within each rule kind."""

from __future__ import annotations

from handlers import answers, cases, events, fallback, subscriptions

GROUPS = [events.group, cases.group, subscriptions.group, answers.group, fallback.group]
