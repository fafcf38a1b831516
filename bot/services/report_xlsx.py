"""The annual report as an XLSX workbook: one sheet per table, with the standard labels.

Every text cell is formula-safe (a leading =, +, -, @ is quoted), as the console's exports are:
the proceedings' notes and case numbers are typed by people.
"""

from __future__ import annotations

import io

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from openpyxl.worksheet.worksheet import Worksheet

from bot.models.disputes import DISPUTE_KINDS, DISPUTE_RESULTS
from bot.services import case_flow as flow
from bot.services.report import COLUMNS, AnnualReport
from bot.services.report_disputes import RESULT_COLUMNS, TOTAL, result_in
from bot.services.report_figures import percent

SHEETS = ("表三 申请情况", "表四 复议诉讼", "复议诉讼明细", "办理情况", "主动公开条目")
MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
UNSAFE_START = ("=", "+", "-", "@", "\t", "\r")


def safe(value: object) -> object:
    """A cell value a spreadsheet will not run as a formula."""
    if isinstance(value, str) and value[:1] in UNSAFE_START:
        return "'" + value
    return value


def workbook(report: AnnualReport) -> bytes:
    book = Workbook()
    book.remove(book.active)
    for name, fill in zip(SHEETS, (_table3, _table4, _disputes, _figures, _items), strict=True):
        sheet = book.create_sheet(name)
        fill(sheet, report)
        sheet["A1"].font = Font(bold=True)
        sheet.column_dimensions["A"].width = 48
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _append(sheet: Worksheet, row: list) -> None:
    sheet.append([safe(value) for value in row])


def _table3(sheet: Worksheet, report: AnnualReport) -> None:
    _append(sheet, [f"三、收到和处理政府信息公开申请情况（{report.year}年）"])
    _append(sheet, ["申请人情况", "自然人", "法人或其他组织", "", "", "", "", "总计"])
    _append(sheet, ["", "", *COLUMNS[1:], ""])
    for ref in ("A2:A3", "B2:B3", "C2:G2", "H2:H3"):
        sheet.merge_cells(ref)
    sheet["C2"].alignment = Alignment(horizontal="center")
    for label, values in report.table3.rows():
        _append(sheet, [label, *values])
    _append(sheet, ["核对：一＋二＝三（七）＋四", report.table3.balance_text()])


def _table4(sheet: Worksheet, report: AnnualReport) -> None:
    _append(sheet, [f"四、政府信息公开行政复议、行政诉讼情况（{report.year}年）"])
    width = len(RESULT_COLUMNS) + 1
    heading: list = []
    for label in DISPUTE_KINDS.values():
        heading += [label] + [""] * (width - 1)
    _append(sheet, heading)
    _append(sheet, [*RESULT_COLUMNS.values(), TOTAL] * len(DISPUTE_KINDS))
    _append(sheet, [n for _, values in report.table4.rows() for n in values])
    for group in range(len(DISPUTE_KINDS)):
        first = group * width + 1
        sheet.merge_cells(start_row=2, start_column=first, end_row=2,
                          end_column=first + width - 1)
        sheet.cell(2, first).alignment = Alignment(horizontal="center")


def _disputes(sheet: Worksheet, report: AnnualReport) -> None:
    _append(sheet, [f"{report.year}年在办的行政复议、行政诉讼"])
    _append(sheet, ["类型", "相关留言", "立案（申请）日期", "结果", "审结日期", "本年度计为",
                    "备注", "登记人"])
    for item in report.disputes:
        _append(sheet, [DISPUTE_KINDS.get(item.kind, item.kind), item.case_number,
                        item.filed_on.isoformat(), DISPUTE_RESULTS.get(item.result, item.result),
                        item.decided_on.isoformat() if item.decided_on else "",
                        RESULT_COLUMNS[result_in(item, report.year)], item.note,
                        item.recorded_by])


def _figures(sheet: Worksheet, report: AnnualReport) -> None:
    figures = report.figures
    _append(sheet, [f"{report.year}年留言办理情况"])
    _append(sheet, ["类型", "收到", "答复", "按期答复"])
    for case_class in flow.CLASSES:
        row = figures.by_class[case_class]
        _append(sheet, [case_class, row.received, row.answered, row.on_time])
    _append(sheet, ["合计", figures.total("received"), figures.total("answered"),
                    figures.total("on_time")])
    _append(sheet, [])
    median = figures.median_first_reply_days
    for label, value in (("按期答复率", percent(figures.on_time_rate)),
                         ("年末逾期未答复（件）", figures.late_at_year_end),
                         ("首次答复用时中位数（天）", "暂无" if median is None else median),
                         ("评价件数", figures.rated),
                         ("满意（含非常满意）件数", figures.satisfied),
                         ("满意率", percent(figures.satisfaction))):
        _append(sheet, [label, value])
    _append(sheet, [])
    for sentence in report.narrative():
        _append(sheet, [sentence])


def _items(sheet: Worksheet, report: AnnualReport) -> None:
    _append(sheet, [f"{report.year}年主动公开知识库条目"])
    _append(sheet, ["栏目", "新发布", "更新"])
    for label, published, updated in report.items.rows():
        _append(sheet, [label, published, updated])
    _append(sheet, ["合计", sum(report.items.published.values()),
                    sum(report.items.updated.values())])
