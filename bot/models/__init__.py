"""ORM models, one module per area. Rows never commit themselves: the caller owns the session.

Importing this package registers every table on `bot.db.Base.metadata` (Alembic relies on it).
"""

from __future__ import annotations

from bot.models.cases import Case, CaseCounter, CaseEvent, CaseMessage
from bot.models.content import AppState, KnowledgeItem
from bot.models.core import AccessToken, InboundMessage, OutboundMessage, Subscriber
from bot.models.dialog import DialogState
from bot.models.disputes import DisclosureDispute
from bot.models.pushes import (
    Disclosure,
    Push,
    PushDelivery,
    PushSchedule,
    SchedulerLease,
    TopicSubscription,
    TopicTag,
)
from bot.models.simulator import SimulatorCall, SimulatorFault
from bot.models.staff import AuditEntry, StaffUser

__all__ = [
    "AccessToken", "AppState", "AuditEntry", "Case", "CaseCounter", "CaseEvent", "CaseMessage",
    "DialogState", "Disclosure", "DisclosureDispute",
    "InboundMessage", "KnowledgeItem", "OutboundMessage", "Push", "PushDelivery", "PushSchedule",
    "SchedulerLease",
    "SimulatorCall", "SimulatorFault",
    "StaffUser", "Subscriber", "TopicSubscription", "TopicTag",
]
