"""What the bot says. `GROUPS` is the priority order the router applies within each rule kind."""

from __future__ import annotations

from handlers import answers, events, fallback

GROUPS = [events.group, answers.group, fallback.group]
