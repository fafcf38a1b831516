"""Console: the annual disclosure report (page, print, XLSX) and the record of the reviews and
lawsuits its Table 4 counts. Routes live on the console blueprint (bot/console/views.py)."""

from __future__ import annotations

import re

from flask import Response, abort, current_app, g, redirect, render_template, request, url_for

from bot.clock import today
from bot.console.forms import DisputeForm
from bot.console.views import RANK, blueprint, requires
from bot.models import DisclosureDispute
from bot.models.disputes import DISPUTE_KINDS, DISPUTE_RESULTS
from bot.services import case_flow as flow
from bot.services import report as report_service
from bot.services import report_disputes as disputes_service
from bot.services import report_xlsx
from bot.services import staff as staff_service
from bot.services.report import COLUMNS, OUTCOMES
from bot.services.report_disputes import RESULT_COLUMNS, TOTAL
from bot.services.report_figures import percent
from content.model import CATEGORIES

DISPUTE_ID = re.compile(r"[0-9]{1,18}")


def _runtime():
    return current_app.extensions["hotline"]


def _year() -> tuple[int | None, str]:
    """The year asked for (last year when none is) and the error when it is not a year."""
    text = request.args.get("year", "").strip()
    if not text:
        return today().year - 1, ""
    try:
        return report_service.parse_year(text), ""
    except ValueError as exc:
        return None, str(exc)


def _bad_year(error: str):
    return render_template("console/report.html", report=None, error=error,
                           year_text=request.args.get("year", "")[:12]), 400


@blueprint.get("/report")
@requires("viewer")
def report():
    year, error = _year()
    if year is None:
        return _bad_year(error)
    with _runtime().sessionmaker() as db:
        annual = report_service.annual(db, year)
        db.expunge_all()
    return render_template(
        "console/report.html", report=annual, error="", year_text=str(year),
        columns=COLUMNS, outcomes=OUTCOMES, kinds=DISPUTE_KINDS, results=DISPUTE_RESULTS,
        result_columns=[*RESULT_COLUMNS.values(), TOTAL], classes=flow.CLASSES,
        categories=CATEGORIES, percent=percent, result_in=disputes_service.result_in,
        can_record=RANK[g.user.role] >= RANK["supervisor"])


@blueprint.get("/report.xlsx")
@requires("viewer")
def report_workbook():
    year, error = _year()
    if year is None:
        return _bad_year(error)
    with _runtime().sessionmaker() as db:
        annual = report_service.annual(db, year)
        data = report_xlsx.workbook(annual)
    with _runtime().sessionmaker.begin() as db:
        staff_service.audit(db, g.user.username, "export", "report.xlsx", {"year": year},
                            request.remote_addr or "")
    return Response(data, mimetype=report_xlsx.MIMETYPE, headers={
        "Content-Disposition": f"attachment; filename=annual-report-{year}.xlsx"})


@blueprint.route("/report/disputes/new", methods=["GET", "POST"])
@requires("supervisor")
def dispute_new():
    form = DisputeForm()
    if request.method == "GET":
        form.result.data = disputes_service.PENDING
    return _dispute_page(form, None)


@blueprint.route("/report/disputes/<dispute_id>", methods=["GET", "POST"])
@requires("supervisor")
def dispute_edit(dispute_id: str):
    if not DISPUTE_ID.fullmatch(dispute_id):
        abort(404)
    with _runtime().sessionmaker() as db:
        dispute = db.get(DisclosureDispute, int(dispute_id))
    if dispute is None:
        abort(404)
    if request.method == "POST":
        return _dispute_page(DisputeForm(), dispute)
    form = DisputeForm(formdata=None, data={
        "kind": dispute.kind, "case_number": dispute.case_number,
        "filed_on": dispute.filed_on.isoformat(), "result": dispute.result,
        "decided_on": dispute.decided_on.isoformat() if dispute.decided_on else "",
        "note": dispute.note})
    return _dispute_page(form, dispute)


def _dispute_page(form: DisputeForm, dispute: DisclosureDispute | None):
    """The form (GET), or save it: a new proceeding or changes to `dispute`, audited; errors
    come back on the form (422) and nothing is written."""
    error = ""
    if request.method == "POST":
        if form.validate_on_submit():
            try:
                return _save(form, dispute)
            except disputes_service.DisputeError as exc:
                error = str(exc)
        elif "csrf_token" in form.errors:
            error = "页面已过期，请刷新后重试"
        else:
            error = "；".join(e for errors in form.errors.values() for e in errors)
    return render_template("console/report_dispute.html", form=form, dispute=dispute,
                           error=error), 422 if error else 200


def _save(form: DisputeForm, dispute: DisclosureDispute | None):
    data = disputes_service.parse_input(form.kind.data, form.filed_on.data, form.result.data,
                                        form.decided_on.data, form.case_number.data,
                                        form.note.data)
    ip = request.remote_addr or ""
    with _runtime().sessionmaker.begin() as db:
        if dispute is None:
            disputes_service.record(db, data, g.user.username, ip=ip)
            said = "已登记"
        else:
            row = db.get(DisclosureDispute, dispute.id)
            if row is None:
                abort(404)
            changed = disputes_service.update(db, row, data, g.user.username, ip=ip)
            said = "已保存" if changed else "没有变化"
    return redirect(url_for("console.report", year=data.filed_on.year, ok=said))
