"""Loading items into the database (idempotent, archiving, versioned) and the /p/<slug> page."""

from __future__ import annotations

from bot.services import content
from content.model import Fact, Item, Part

FACT = Fact("website-items", "省扶贫办网站发布扶贫信息条数", "332条",
            "2018年在省扶贫办网站发布332条扶贫信息", section="三（一）", number=332, unit="条",
            year=2018, parts=(Part("扶贫要闻", 111, "条"), Part("其他", 221, "条")))


def item(slug="exit-county", title="贫困县退出标准", body="## 标准\n\n贫困发生率降至2%以下。",
         facts=()):
    return Item(slug=slug, category="criteria", title=title, body=body,
                source="中办国办《关于建立贫困退出机制的意见》（2016）", summary="降至2%以下",
                keywords=("摘帽",), questions=("贫困县怎么摘帽",), facts=facts)


def test_load_is_idempotent_and_versioned(runtime):
    with runtime.sessionmaker.begin() as session:
        first = content.load(session, [item(), item("report", "报告", facts=(FACT,))])
    assert first.created == ("exit-county", "report") and first.version == 1
    with runtime.sessionmaker.begin() as session:
        again = content.load(session, [item(), item("report", "报告", facts=(FACT,))])
    assert not again.changed and again.unchanged == 2 and again.version == 1
    with runtime.sessionmaker.begin() as session:
        changed = content.load(session, [item(title="贫困县退出（摘帽）标准")])
    assert changed.updated == ("exit-county",) and changed.archived == ("report",)
    assert changed.version == 2
    with runtime.sessionmaker() as session:
        items = content.active_items(session)
        assert [i.slug for i in items] == ["exit-county"]
        assert content.get_item(session, "report").status == "archived"
        assert content.get_item(session, "exit-county").revision == 2
    with runtime.sessionmaker.begin() as session:
        back = content.load(session, [item(title="贫困县退出（摘帽）标准"),
                                      item("report", "报告", facts=(FACT,))])
    assert back.updated == ("report",) and back.version == 3


def test_items_round_trip_with_facts(runtime):
    original = item("report", "报告", facts=(FACT,))
    with runtime.sessionmaker.begin() as session:
        content.load(session, [original])
    with runtime.sessionmaker() as session:
        assert content.active_items(session) == [original]


def test_item_page_renders_safely_on_a_phone(client, runtime):
    evil = item(body="正文<script>alert(1)</script>\n\n[链接](javascript:alert(1))",
                facts=(FACT,))
    with runtime.sessionmaker.begin() as session:
        content.load(session, [evil])
    page = client.get("/p/exit-county")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "width=device-width" in html and "贫困县退出标准" in html
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert 'href="javascript:' not in html
    assert "332条" in html and "扶贫要闻 111条" in html and "三（一）" in html
    assert client.get("/p/nothing-here").status_code == 404


def test_archived_item_page_is_gone(client, runtime):
    with runtime.sessionmaker.begin() as session:
        content.load(session, [item()])
    with runtime.sessionmaker.begin() as session:
        content.load(session, [])
    assert client.get("/p/exit-county").status_code == 404
