"""The annual report as plain text lines (tab-separated tables), for `hotline report annual`."""

from __future__ import annotations

from bot.models.disputes import DISPUTE_KINDS
from bot.services import case_flow as flow
from bot.services.report import COLUMNS, AnnualReport
from bot.services.report_disputes import RESULT_COLUMNS, TOTAL
from bot.services.report_figures import percent


def text_lines(report: AnnualReport) -> list[str]:
    year, figures = report.year, report.figures
    lines = [f"{year}年 三、收到和处理政府信息公开申请情况（表三）",
             "\t".join(["", *COLUMNS, "总计"])]
    lines += ["\t".join([label, *map(str, values)]) for label, values in report.table3.rows()]
    lines.append("核对 一+二=三（七）+四：" + report.table3.balance_text())
    lines += ["", f"{year}年 四、政府信息公开行政复议、行政诉讼情况（表四）",
              "\t".join(["", *RESULT_COLUMNS.values(), TOTAL])]
    lines += ["\t".join([label, *map(str, values)]) for label, values in report.table4.rows()]
    lines += ["", f"{year}年 留言办理情况", "\t".join(["类型", "收到", "答复", "按期答复"])]
    lines += [f"{c}\t{row.received}\t{row.answered}\t{row.on_time}"
              for c, row in ((c, figures.by_class[c]) for c in flow.CLASSES)]
    median = figures.median_first_reply_days
    lines += [f"按期答复率\t{percent(figures.on_time_rate)}",
              f"年末逾期未答复\t{figures.late_at_year_end}",
              "首次答复用时中位数（天）\t" + ("暂无" if median is None else f"{median:.1f}"),
              f"评价件数\t{figures.rated}", f"满意率\t{percent(figures.satisfaction)}"]
    lines += ["", f"{year}年 主动公开知识库条目", "栏目\t新发布\t更新"]
    lines += [f"{label}\t{published}\t{updated}"
              for label, published, updated in report.items.rows()]
    lines += ["", *report.narrative()]
    if report.disputes:
        lines += ["", "在办的行政复议、行政诉讼："]
        lines += [f"{DISPUTE_KINDS.get(d.kind, d.kind)}\t{d.filed_on}\t{d.case_number or '-'}"
                  for d in report.disputes]
    return lines
