"""Public mobile pages: `/p/<slug>` shows one knowledge item (news replies link here)."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, render_template
from markdown_it import MarkdownIt
from markupsafe import Markup

from bot.services import content as content_service
from content.model import CATEGORIES

blueprint = Blueprint("pages", __name__, template_folder="templates")
_markdown = MarkdownIt("js-default")  # raw HTML in the text is escaped, never rendered


def render_markdown(text: str) -> Markup:
    return Markup(_markdown.render(text or ""))  # noqa: S704 - markdown-it escapes HTML


@blueprint.get("/p/<slug>")
def item_page(slug: str):
    runtime = current_app.extensions["hotline"]
    with runtime.sessionmaker() as session:
        row = content_service.get_item(session, slug)
    if row is None or row.status != "active":
        abort(404)
    return render_template("pages/item.html", item=row, body=render_markdown(row.body),
                           category=CATEGORIES.get(row.category, row.category))
