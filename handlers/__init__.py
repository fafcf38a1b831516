"""What the bot says. `GROUPS` is the priority order the router applies within each rule kind."""

from __future__ import annotations

from handlers import answers, cases, events, fallback

GROUPS = [events.group, cases.group, answers.group, fallback.group]
