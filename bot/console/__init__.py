"""The staff console (/console/, Simplified Chinese): people and access, the case inbox, the
knowledge base, the annual report, pushes.

Every view is wrapped by `requires(...)`: anonymous users are sent to the login page, lower
roles get 403. Forms are Flask-WTF forms (CSRF token on every POST). Sessions are signed
cookies (HttpOnly, SameSite=Lax, Secure behind TLS) that expire after IDLE_MINUTES without use
and SESSION_HOURS in all.
"""

from __future__ import annotations

from bot.console import push_views, report_views  # add their routes to the blueprint
from bot.console.views import blueprint, register

__all__ = ["blueprint", "push_views", "register", "report_views"]
