"""The annual disclosure report's Table 3 (requests received and handled), in the format of
国办公开办函〔2021〕30号 (../shared/DOMAIN.md), counted from the 依申请公开 cases.

A disclosure case's answer records its outcome (`case.disclosure["outcome"]`, a key of
OUTCOMES) and the intake its applicant type (`case.disclosure["applicant"]`). Rows: 一 new this
year, 二 carried over from last year, 三 the outcomes of those answered this year, 四 carried
into next year; the check 一 + 二 = 三（七） + 四 must hold.

`annual` gathers the whole report: Table 3, Table 4 (report_disputes), the narrative figures
and the knowledge items disclosed (report_figures).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.clock import year_bounds
from bot.models import Case, DisclosureDispute
from bot.services import case_flow as flow
from bot.services import report_disputes as disputes_service
from bot.services import report_figures
from bot.services.report_disputes import Table4
from bot.services.report_figures import Figures, ItemCounts

YEAR_MIN, YEAR_MAX = 2000, 2100

# Columns: 自然人, then 法人或其他组织 by kind, then 总计.
COLUMNS = ("自然人", "商业企业", "科研机构", "社会公益组织", "法律服务机构", "其他")
APPLICANT_COLUMN = {"自然人": "自然人", "商业企业": "商业企业", "科研机构": "科研机构",
                    "社会公益组织": "社会公益组织", "法律服务机构": "法律服务机构",
                    "其他组织": "其他"}
# Row keys of 三、本年度办理结果 and their labels, in the table's order.
OUTCOMES = {
    "public": "（一）予以公开",
    "partial": "（二）部分公开",
    "withheld-secret": "（三）不予公开 1.属于国家秘密",
    "withheld-law": "（三）不予公开 2.其他法律行政法规禁止公开",
    "withheld-safety": "（三）不予公开 3.危及“三安全一稳定”",
    "withheld-third-party": "（三）不予公开 4.保护第三方合法权益",
    "withheld-internal": "（三）不予公开 5.属于三类内部事务信息",
    "withheld-process": "（三）不予公开 6.属于四类过程性信息",
    "withheld-enforcement": "（三）不予公开 7.属于行政执法案卷",
    "withheld-query": "（三）不予公开 8.属于行政查询事项",
    "unavailable-not-held": "（四）无法提供 1.本机关不掌握相关政府信息",
    "unavailable-to-make": "（四）无法提供 2.没有现成信息需要另行制作",
    "unavailable-unclear": "（四）无法提供 3.补正后申请内容仍不明确",
    "declined-complaint": "（五）不予处理 1.信访举报投诉类申请",
    "declined-repeat": "（五）不予处理 2.重复申请",
    "declined-publication": "（五）不予处理 3.要求提供公开出版物",
    "declined-bulk": "（五）不予处理 4.无正当理由大量反复申请",
    "declined-confirm": "（五）不予处理 5.要求行政机关确认或重新出具已获取信息",
    "other-no-correction": "（六）其他处理 1.申请人无正当理由逾期不补正",
    "other-no-fee": "（六）其他处理 2.申请人逾期未按收费通知要求缴纳费用",
    "other": "（六）其他处理 3.其他",
}


@dataclass
class Table3:
    year: int
    new: dict[str, int] = field(default_factory=dict)  # 一
    carried_in: dict[str, int] = field(default_factory=dict)  # 二
    outcomes: dict[str, dict[str, int]] = field(default_factory=dict)  # 三, by OUTCOMES key
    handled: dict[str, int] = field(default_factory=dict)  # 三（七）总计
    carried_out: dict[str, int] = field(default_factory=dict)  # 四

    @property
    def balanced(self) -> bool:
        """一 + 二 = 三（七） + 四, in every column."""
        return all(self.new[c] + self.carried_in[c] == self.handled[c] + self.carried_out[c]
                   for c in (*COLUMNS, "总计"))

    def difference(self) -> dict[str, int]:
        """(一 + 二) − (三（七） + 四) by column, the columns where it is not 0."""
        gaps = {c: self.new[c] + self.carried_in[c] - self.handled[c] - self.carried_out[c]
                for c in (*COLUMNS, "总计")}
        return {c: gap for c, gap in gaps.items() if gap}

    def balance_text(self) -> str:
        """相符, or 不符 with the difference (一 + 二 − 三（七） − 四) by column."""
        gaps = self.difference()
        if not gaps:
            return "相符"
        return "不符：" + "，".join(f"{column}差{gap:+d}" for column, gap in gaps.items())

    def rows(self) -> list[tuple[str, list[int]]]:
        columns = (*COLUMNS, "总计")
        out = [("一、本年新收政府信息公开申请数量", [self.new[c] for c in columns]),
               ("二、上年结转政府信息公开申请数量", [self.carried_in[c] for c in columns])]
        out += [(f"三、{label}", [self.outcomes[key][c] for c in columns])
                for key, label in OUTCOMES.items()]
        out.append(("三、（七）总计", [self.handled[c] for c in columns]))
        out.append(("四、结转下年度继续办理", [self.carried_out[c] for c in columns]))
        return out


def _zero() -> dict[str, int]:
    return dict.fromkeys((*COLUMNS, "总计"), 0)


def table3(session: Session, year: int) -> Table3:
    start, end = year_bounds(year)  # the Beijing calendar year
    table = Table3(year, _zero(), _zero(), {key: _zero() for key in OUTCOMES}, _zero(), _zero())
    for case in session.scalars(select(Case).where(Case.case_class == flow.DISCLOSURE,
                                                   Case.received_at < end)):
        column = APPLICANT_COLUMN.get((case.disclosure or {}).get("applicant", ""), "自然人")
        done = case.updated_at if case.state == flow.WITHDRAWN else case.answered_at
        if done is not None and done < start:
            continue  # finished in an earlier year
        counted = table.new if case.received_at >= start else table.carried_in
        _add(counted, column)
        if done is not None and done < end:
            key = (case.disclosure or {}).get("outcome") or "other"
            if case.state == flow.WITHDRAWN:
                key = "other"
            _add(table.outcomes[key if key in OUTCOMES else "other"], column)
            _add(table.handled, column)
        else:
            _add(table.carried_out, column)
    return table


def _add(row: dict[str, int], column: str) -> None:
    row[column] += 1
    row["总计"] += 1


@dataclass
class AnnualReport:
    year: int
    table3: Table3
    table4: Table4
    figures: Figures
    items: ItemCounts
    disputes: list[DisclosureDispute]  # the proceedings Table 4 counts

    def narrative(self) -> list[str]:
        return report_figures.narrative(self.figures, self.items)


def parse_year(text: object) -> int:
    """The report's year from user input; ValueError (in Chinese) when it is not one."""
    try:
        year = int(str(text).strip())
    except ValueError:
        raise ValueError(f"年份须为{YEAR_MIN}至{YEAR_MAX}之间的整数") from None
    if not YEAR_MIN <= year <= YEAR_MAX:
        raise ValueError(f"年份须为{YEAR_MIN}至{YEAR_MAX}之间的整数")
    return year


def annual(session: Session, year: int) -> AnnualReport:
    """Everything the year's report states."""
    disputes = disputes_service.active_in(session, year)
    return AnnualReport(year, table3(session, year),
                        disputes_service.table4(session, year, disputes),
                        report_figures.figures(session, year),
                        report_figures.items_disclosed(session, year), disputes)
