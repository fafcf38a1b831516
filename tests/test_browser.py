"""In a real browser (Playwright driving Debian's Chromium, /usr/bin/chromium, installed by
`make test`, never downloaded): a subscriber leaves a message on the simulated phone page, the
case goes overdue, a supervisor logs in to the console, finds it among the overdue cases and
replies, and the reply arrives on the phone page. Screenshots at desktop and 375-px widths go
to tests/artifacts/."""

from __future__ import annotations

import datetime as dt
import re
import shutil
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.app import create_app
from bot.models import Case
from bot.services import cases as case_service
from bot.services import staff as staff_service
from tests.conftest import LiveServer

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).parent / "artifacts"
PASSWORD = "correct-horse-7"
sync_api = pytest.importorskip("playwright.sync_api")
pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(),
                                reason="Debian's chromium is not installed (make test installs it)")


@pytest.fixture
def server(runtime):
    server = LiveServer(create_app(runtime=runtime))
    runtime.settings = runtime.settings.with_overrides(public_url=server.url,
                                                       api_base=f"{server.url}/sim/api/")
    with runtime.sessionmaker.begin() as session:
        staff_service.create_user(session, "boss", PASSWORD, "supervisor", display_name="督办员")
    yield server
    server.stop()


@pytest.fixture
def browser():
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield browser
        browser.close()


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_an_overdue_case_is_answered_and_the_reply_reaches_the_phone(server, runtime, browser):
    phone = browser.new_page(viewport={"width": 375, "height": 812})
    phone.goto(f"{server.url}/sim/")
    phone.fill("#openid", "o-browser")
    phone.dispatch_event("#openid", "change")
    phone.fill("#text", "投诉：村里的危房改造补助没有发放")
    phone.click("#send")
    phone.wait_for_selector("text=请核对")
    phone.fill("#text", "确认")
    phone.click("#send")
    phone.wait_for_selector("text=已受理")
    number = re.search(r"\d{8}-\d{4}", phone.inner_text("#chat")).group(0)
    shot(phone, "phone-375-case-opened")

    with runtime.sessionmaker.begin() as session:  # the deadline passes
        case = session.scalars(select(Case).where(Case.number == number)).one()
        case.deadline = dt.date.today() - dt.timedelta(days=1)
        case_service.mark_overdue(session)

    desk = browser.new_page(viewport={"width": 1280, "height": 800})
    desk.goto(f"{server.url}/console/")
    desk.fill("input[name=username]", "boss")
    desk.fill("input[name=password]", PASSWORD)
    desk.click("button[type=submit]")
    desk.wait_for_selector("text=督办员")
    desk.check("input[name=overdue]")
    desk.click("text=筛选")
    row = desk.locator("tr", has_text=number)
    assert "超期" in row.inner_text()
    shot(desk, "console-1280-overdue")
    row.locator(f"a:has-text('{number}')").click()
    desk.fill("textarea[name=text]", "补助已核实，将于本周内发放到户。")
    desk.click("button[name=preview]")
    desk.wait_for_selector("text=用户将收到")
    desk.click("text=发送答复")
    desk.wait_for_selector("text=答复已保存")
    shot(desk, "console-1280-case")

    phone.wait_for_selector("text=补助已核实", timeout=10_000)  # pushed to the phone page
    shot(phone, "phone-375-reply-arrived")

    narrow = browser.new_page(viewport={"width": 375, "height": 812})
    narrow.goto(f"{server.url}/console/login")
    narrow.fill("input[name=username]", "boss")
    narrow.fill("input[name=password]", PASSWORD)
    narrow.click("button[type=submit]")
    narrow.goto(f"{server.url}/console/cases/{number}")
    narrow.wait_for_selector("text=已送达")
    assert narrow.evaluate("document.documentElement.scrollWidth") <= 375 + 1
    shot(narrow, "console-375-case")
