"""The staff console (/console/, Simplified Chinese): people and access, the case inbox.

Every view is wrapped by `requires(...)`: anonymous users are sent to the login page, lower
roles get 403. Forms are Flask-WTF forms (CSRF token on every POST). Sessions are signed
cookies (HttpOnly, SameSite=Lax, Secure behind TLS) that expire after IDLE_MINUTES without use
and SESSION_HOURS in all.
"""

from __future__ import annotations

from bot.console.views import blueprint, register

__all__ = ["blueprint", "register"]
