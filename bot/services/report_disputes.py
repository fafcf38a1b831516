"""Table 4 of the annual report (政府信息公开行政复议、行政诉讼情况) and the record of the
proceedings it counts: staff enter each review or lawsuit by hand, every change audited.

A proceeding belongs to every year it was active in: filed on or before the year's last day and
not decided before its first day. Its column group is its kind; its row is its result when it was
decided within the year, else 尚未审结. So a review filed in December and decided in February
shows as 尚未审结 in the first year's report and with its result in the next.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from bot.clock import today as office_today
from bot.db import utcnow
from bot.models import Case, DisclosureDispute
from bot.models.disputes import DISPUTE_KINDS, DISPUTE_RESULTS
from bot.services import staff as staff_service

PENDING = "pending"
# Table 4's columns under each kind: the result keys in order, then 总计
RESULT_COLUMNS = {"upheld": "结果维持", "corrected": "结果纠正", "other": "其他结果",
                  PENDING: "尚未审结"}
TOTAL = "总计"
EARLIEST = dt.date(2000, 1, 1)
MAX_NOTE = 1000


class DisputeError(ValueError):
    """The proceeding as entered cannot be recorded (the message is for staff, in Chinese)."""


@dataclass(frozen=True)
class DisputeInput:
    kind: str
    filed_on: dt.date
    result: str = PENDING
    decided_on: dt.date | None = None
    case_number: str = ""
    note: str = ""


def parse_date(text: str | None, label: str) -> dt.date | None:
    """An ISO date (2026-03-01) from a form; empty → None; anything else → DisputeError."""
    text = (text or "").strip()
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise DisputeError(f"{label}格式不对，请按“2026-03-01”填写") from None


def parse_input(kind: str | None, filed_on: str | None, result: str | None,
                decided_on: str | None, case_number: str | None = "",
                note: str | None = "") -> DisputeInput:
    """The form's text fields as a DisputeInput (checked further by `check`)."""
    filed = parse_date(filed_on, "立案（申请）日期")
    if filed is None:
        raise DisputeError("请填写立案（申请）日期")
    return DisputeInput(kind=(kind or "").strip(), filed_on=filed,
                        result=(result or "").strip(),
                        decided_on=parse_date(decided_on, "审结日期"),
                        case_number=(case_number or "").strip(), note=(note or "").strip())


def check(session: Session, data: DisputeInput, today: dt.date | None = None) -> None:
    """Raises DisputeError with what is wrong; nothing is written."""
    today = today or office_today()
    if data.kind not in DISPUTE_KINDS:
        raise DisputeError("请选择类型（行政复议或行政诉讼）")
    if data.result not in DISPUTE_RESULTS:
        raise DisputeError("请选择结果")
    if not EARLIEST <= data.filed_on <= today:
        raise DisputeError(f"立案（申请）日期须在{EARLIEST:%Y年}以后，且不能晚于今天")
    if data.result == PENDING and data.decided_on is not None:
        raise DisputeError("尚未审结的不填审结日期；已审结的请选择结果")
    if data.result != PENDING:
        if data.decided_on is None:
            raise DisputeError("已审结的请填写审结日期")
        if not data.filed_on <= data.decided_on <= today:
            raise DisputeError("审结日期不能早于立案日期，也不能晚于今天")
    if len(data.note) > MAX_NOTE:
        raise DisputeError(f"备注不超过{MAX_NOTE}字")
    if data.case_number and session.scalar(
            select(Case.id).where(Case.number == data.case_number)) is None:
        raise DisputeError(f"没有编号为 {data.case_number[:20]} 的留言")


def record(session: Session, data: DisputeInput, actor: str, *, ip: str = "",
           today: dt.date | None = None) -> DisclosureDispute:
    """A new proceeding, audited (`actor` is the staff username)."""
    check(session, data, today)
    dispute = DisclosureDispute(**_values(data), recorded_by=actor)
    session.add(dispute)
    session.flush()
    staff_service.audit(session, actor, "dispute_create", f"dispute:{dispute.id}",
                        _values(data, text=True), ip)
    return dispute


def update(session: Session, dispute: DisclosureDispute, data: DisputeInput, actor: str, *,
           ip: str = "", today: dt.date | None = None) -> bool:
    """Change a proceeding (audited with before and after); False when nothing changed."""
    check(session, data, today)
    before = _values(_input_of(dispute), text=True)
    after = _values(data, text=True)
    if before == after:
        return False
    for name, value in _values(data).items():
        setattr(dispute, name, value)
    dispute.updated_at = utcnow()
    staff_service.audit(session, actor, "dispute_update", f"dispute:{dispute.id}",
                        {"before": before, "after": after}, ip)
    return True


def _values(data: DisputeInput, *, text: bool = False) -> dict:
    values = {"kind": data.kind, "case_number": data.case_number, "filed_on": data.filed_on,
              "result": data.result, "decided_on": data.decided_on, "note": data.note}
    if text:  # JSON for the audit log
        values.update(filed_on=data.filed_on.isoformat(),
                      decided_on=data.decided_on.isoformat() if data.decided_on else "")
    return values


def _input_of(dispute: DisclosureDispute) -> DisputeInput:
    return DisputeInput(kind=dispute.kind, filed_on=dispute.filed_on, result=dispute.result,
                        decided_on=dispute.decided_on, case_number=dispute.case_number,
                        note=dispute.note)


def active_in(session: Session, year: int) -> list[DisclosureDispute]:
    """The proceedings active in `year`, oldest first."""
    start, end = dt.date(year, 1, 1), dt.date(year, 12, 31)
    return list(session.scalars(select(DisclosureDispute).where(
        DisclosureDispute.filed_on <= end,
        or_(DisclosureDispute.decided_on.is_(None), DisclosureDispute.decided_on >= start))
        .order_by(DisclosureDispute.filed_on, DisclosureDispute.id)))


def result_in(dispute: DisclosureDispute, year: int) -> str:
    """The proceeding's row in `year`'s table: its result if decided by the year's end."""
    decided = dispute.decided_on
    if dispute.result == PENDING or decided is None or decided > dt.date(year, 12, 31):
        return PENDING
    return dispute.result if dispute.result in RESULT_COLUMNS else "other"


@dataclass
class Table4:
    year: int
    counts: dict[str, dict[str, int]] = field(default_factory=dict)  # kind → column → n

    def rows(self) -> list[tuple[str, list[int]]]:
        """One row per kind: 结果维持, 结果纠正, 其他结果, 尚未审结, 总计."""
        return [(label, [self.counts[kind][c] for c in (*RESULT_COLUMNS, TOTAL)])
                for kind, label in DISPUTE_KINDS.items()]


def table4(session: Session, year: int,
           disputes: list[DisclosureDispute] | None = None) -> Table4:
    table = Table4(year, {kind: dict.fromkeys((*RESULT_COLUMNS, TOTAL), 0)
                          for kind in DISPUTE_KINDS})
    for dispute in active_in(session, year) if disputes is None else disputes:
        row = table.counts.get(dispute.kind)
        if row is not None:
            row[result_in(dispute, year)] += 1
            row[TOTAL] += 1
    return table
