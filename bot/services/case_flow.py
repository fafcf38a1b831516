"""The rules every case follows, written down in one place: classes, states, transitions,
deadlines. Pure data and functions; bot/services/cases.py applies them to database rows.

Lifecycle (国办发〔2020〕53号; GB/T 33358-2016): 待受理 → 办理中 → 已答复 → 已办结, with
退回/改派 (send back, re-dispatch), 撤回 by the subscriber, and 重新办理 after a bad rating.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

from bot.services.workdays import add_working_days


class IllegalTransition(ValueError):
    """The action is not allowed from the case's current state (never a silent no-op)."""


# Classes and their default deadlines in working days (configurable per deployment).
CLASSES = ("咨询", "求助", "投诉", "举报", "意见建议", "依申请公开")
DEFAULT_DEADLINES: Mapping[str, int] = {
    "咨询": 3, "求助": 7, "意见建议": 7, "投诉": 15, "举报": 15, "依申请公开": 20,
}
DISCLOSURE = "依申请公开"
DISCLOSURE_EXTENSION_MAX = 20  # 条例 Art. 33: once, at most 20 working days
CORRECTION_DAYS = 7  # 条例 Art. 30: the notice to correct goes out within 7 working days

NEW, HANDLING, ANSWERED, CLOSED, WITHDRAWN = "待受理", "办理中", "已答复", "已办结", "已撤回"
STATES = (NEW, HANDLING, ANSWERED, CLOSED, WITHDRAWN)
OPEN_STATES = (NEW, HANDLING)

RATINGS = ("非常满意", "满意", "基本满意", "不满意", "非常不满意")
BAD_RATINGS = ("不满意", "非常不满意")


@dataclass(frozen=True)
class Transition:
    action: str
    sources: tuple[str, ...]
    target: str | None  # None: the state does not change (a note, a transfer)
    label: str


TRANSITIONS: dict[str, Transition] = {t.action: t for t in (
    Transition("accept", (NEW,), HANDLING, "受理"),
    Transition("assign", (NEW, HANDLING), None, "派单"),
    Transition("transfer", (NEW, HANDLING), None, "改派"),
    Transition("send_back", (HANDLING,), NEW, "退回"),
    Transition("reply", (HANDLING,), ANSWERED, "答复"),
    Transition("follow_up", (ANSWERED,), None, "补充答复"),
    Transition("close", (ANSWERED,), CLOSED, "办结"),
    Transition("withdraw", (NEW, HANDLING), WITHDRAWN, "撤回"),
    Transition("rate", (ANSWERED, CLOSED), None, "评价"),
    Transition("reopen", (ANSWERED, CLOSED), HANDLING, "重新办理"),
    Transition("extend", (NEW, HANDLING), None, "延期"),
    Transition("request_correction", (NEW, HANDLING), None, "要求补正"),
    Transition("corrected", (NEW, HANDLING), None, "补正完成"),
    Transition("note", STATES, None, "内部备注"),
    Transition("remind", (NEW, HANDLING), None, "催办"),
    Transition("mark_overdue", (NEW, HANDLING), None, "标记超期"),
)}


def check(action: str, state: str) -> str:
    """The state after `action` from `state`; raises IllegalTransition when not allowed."""
    transition = TRANSITIONS.get(action)
    if transition is None:
        raise IllegalTransition(f"unknown action {action!r}")
    if state not in transition.sources:
        raise IllegalTransition(f"留言当前为“{state}”，不能{transition.label}")
    return transition.target or state


def allowed_actions(state: str) -> list[str]:
    return [action for action, t in TRANSITIONS.items() if state in t.sources]


def deadline(case_class: str, received: dt.date,
             deadlines: Mapping[str, int] = DEFAULT_DEADLINES) -> dt.date:
    if case_class not in CLASSES:
        raise ValueError(f"unknown case class {case_class!r}")
    return add_working_days(received, deadlines[case_class])


def extended_deadline(current: dt.date, days: int) -> dt.date:
    if not 1 <= days <= DISCLOSURE_EXTENSION_MAX:
        raise ValueError(f"延期为1到{DISCLOSURE_EXTENSION_MAX}个工作日")
    return add_working_days(current, days)


def restarted_deadline(corrected_on: dt.date,
                       deadlines: Mapping[str, int] = DEFAULT_DEADLINES) -> dt.date:
    """条例 Art. 30: the clock restarts on the day the corrected request arrives."""
    return add_working_days(corrected_on, deadlines[DISCLOSURE])


def case_number(day: dt.date, sequence: int) -> str:
    """Short and readable over the phone: 20261125-0007."""
    return f"{day:%Y%m%d}-{sequence:04d}"
