"""Knowledge editing in the console: the same validation as the data files (with line
numbers), a phone-page preview, saving that the bot answers from within the check interval,
archiving; supervisors and admins only."""

from __future__ import annotations

import html
import re

from sqlalchemy import select

from bot.models import AuditEntry, KnowledgeItem
from bot.services import content as content_service
from bot.services import staff as staff_service
from content.schema import load_catalog
from tests.test_answers import ask
from tests.test_console_access import PASSWORD, login

SLUG = "report-2018-key-areas"


def setup_office(runtime):
    with runtime.sessionmaker.begin() as session:
        content_service.load(session, load_catalog().items)
        staff_service.create_user(session, "boss", PASSWORD, "supervisor")
        staff_service.create_user(session, "li", PASSWORD, "handler", department="财务处")


def form_of(client, slug):
    page = client.get(f"/console/knowledge/{slug}").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    text = re.search(r"<textarea[^>]*>\r?\n?(.*?)</textarea>", page, re.S).group(1)
    return token, html.unescape(text)


def test_edit_preview_save_and_the_bot_answers_from_it(client, runtime, account):
    setup_office(runtime)
    login(client, "boss")
    assert "知识库" in client.get("/console/knowledge").get_data(as_text=True)
    token, text = form_of(client, SLUG)
    assert text.startswith(f"slug: {SLUG}") and "facts:" in text
    changed = text.replace("value: 332条", "value: 333条")
    assert changed != text
    preview = client.post(f"/console/knowledge/{SLUG}",
                          data={"csrf_token": token, "text": changed, "preview": "1"})
    assert "手机页面预览" in preview.get_data(as_text=True)
    saved = client.post(f"/console/knowledge/{SLUG}", data={"csrf_token": token,
                                                             "text": changed})
    assert saved.status_code == 302
    runtime.knowledge._check_every = 0  # as if the 2-second check interval had passed
    assert "333条" in ask(client, account, "2018年网站发布了多少条扶贫信息")
    with runtime.sessionmaker() as session:
        row = session.scalar(select(KnowledgeItem).where(KnowledgeItem.slug == SLUG))
        actions = [e.action for e in session.scalars(select(AuditEntry))]
    assert row.revision == 2 and "knowledge_updated" in actions


def test_mistakes_are_shown_with_their_line_and_nothing_is_saved(client, runtime):
    setup_office(runtime)
    login(client, "boss")
    token, text = form_of(client, SLUG)
    broken = text.replace("category: report", "category: nonsense")
    response = client.post(f"/console/knowledge/{SLUG}", data={"csrf_token": token,
                                                                "text": broken})
    page = response.get_data(as_text=True)
    assert response.status_code == 422 and re.search(r"编辑\.yaml:\d+:", page)
    renamed = text.replace(f"slug: {SLUG}", "slug: another-slug")
    assert "slug 须为" in client.post(f"/console/knowledge/{SLUG}", data={
        "csrf_token": token, "text": renamed}).get_data(as_text=True)
    bad_yaml = client.post(f"/console/knowledge/{SLUG}", data={"csrf_token": token,
                                                                "text": "title: [unclosed"})
    assert bad_yaml.status_code == 422
    with runtime.sessionmaker() as session:
        assert session.scalar(select(KnowledgeItem.revision).where(
            KnowledgeItem.slug == SLUG)) == 1


def test_new_items_and_archiving(client, runtime, account):
    setup_office(runtime)
    login(client, "boss")
    token, text = form_of(client, "faq-new-hotline-hours")
    assert "slug: faq-new-hotline-hours" in text
    text = (text.replace("category: policy", "category: faq")
            .replace("title: 标题", "title: 热线值班时间")
            .replace("keywords: [关键词]", "keywords: [值班时间, 热线值班]"))
    assert client.post("/console/knowledge/faq-new-hotline-hours",
                       data={"csrf_token": token, "text": text}).status_code == 302
    runtime.knowledge._check_every = 0
    assert "/p/faq-new-hotline-hours" in ask(client, account, "热线值班时间")
    assert client.post("/console/knowledge/faq-new-hotline-hours/archive",
                       data={"csrf_token": token}).status_code == 302
    assert "/p/faq-new-hotline-hours" not in ask(client, account, "热线值班时间")


def test_handlers_may_read_the_list_but_not_edit(client, runtime):
    setup_office(runtime)
    login(client, "li")
    assert client.get("/console/knowledge").status_code == 200
    assert client.get(f"/console/knowledge/{SLUG}").status_code == 403
