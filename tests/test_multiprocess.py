"""Correct with many processes: gunicorn with 4 workers (deploy/gunicorn.conf.py) on
PostgreSQL and Redis. One token refresh for all workers, dedupe across workers, a dialog whose
steps land on different workers, every worker's search index rebuilt after a content change.
Every request opens its own connection, so requests spread over the workers. Skipped unless
HOTLINE_TEST_PG_URL and HOTLINE_TEST_REDIS_URL are set (.ci/run sets them)."""

from __future__ import annotations

import dataclasses
import os
import re
import secrets
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import redis
import requests
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, select, text, update

from bot.config import Settings
from bot.migrate import alembic_config, upgrade
from bot.models import Case, InboundMessage, Subscriber
from bot.runtime import build_runtime
from bot.services import cases as case_service
from bot.services import content as content_service
from bot.services import delivery
from bot.simulator.client import SubscriberClient
from content.schema import load_catalog
from tests.conftest import pg_url

pytestmark = [pytest.mark.pg, pytest.mark.redis, pytest.mark.live]
ROOT = Path(__file__).resolve().parents[1]
WORKERS = 4


@dataclasses.dataclass
class Cluster:
    url: str
    runtime: object
    process: subprocess.Popen
    redis_url: str

    def subscriber(self, openid: str) -> SubscriberClient:
        return SubscriberClient(self.url, self.runtime.settings.default_account, openid)

    def calls(self, path: str, since: int = 0) -> list[dict]:
        return requests.get(f"{self.url}/sim/api/_calls",
                            params={"path": path, "since": since, "limit": 1000}, timeout=10).json()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    base, redis_url = pg_url(), os.environ.get("HOTLINE_TEST_REDIS_URL", "")
    if not base or not redis_url:
        pytest.skip("needs HOTLINE_TEST_PG_URL and HOTLINE_TEST_REDIS_URL")
    schema, port = f"mp_{secrets.token_hex(5)}", _free_port()
    admin = create_engine(base)
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    database = f"{base}{'&' if '?' in base else '?'}options=-csearch_path%3D{schema}"
    instance = tmp_path_factory.mktemp("cluster")
    env = {"HOTLINE_ENV": "test", "HOTLINE_DATABASE_URL": database, "HOTLINE_REDIS_URL": redis_url,
           "HOTLINE_INSTANCE_PATH": str(instance), "WECHAT_TOKEN": "test-token",
           "WECHAT_APPID": "wxtestappid0001", "WECHAT_SECRET": "test-secret",
           "HOTLINE_SIMULATOR": "1", "HOTLINE_PUBLIC_URL": f"http://127.0.0.1:{port}",
           "HOTLINE_SECRET_KEY": "test-secret-key-0123456789",
           "HOTLINE_BIND": f"127.0.0.1:{port}", "HOTLINE_WORKERS": str(WORKERS)}
    upgrade(database)  # before the workers start, as the systemd unit does
    runtime = build_runtime(Settings.from_env(env))
    with runtime.sessionmaker.begin() as session:
        content_service.load(session, load_catalog().items)
    redis.Redis.from_url(redis_url).delete("hotline:token:default", "hotline:token:default:lock")
    gunicorn = Path(sys.executable).with_name("gunicorn")
    log = (instance / "gunicorn.log").open("wb")
    process = subprocess.Popen([str(gunicorn), "-c", "deploy/gunicorn.conf.py"], cwd=ROOT,
                               env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT)
    cluster = Cluster(f"http://127.0.0.1:{port}", runtime, process, redis_url)
    _wait_healthy(cluster, instance / "gunicorn.log")
    yield cluster
    process.terminate()
    process.wait(20)
    runtime.close()
    with admin.begin() as conn:
        conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    admin.dispose()


def _wait_healthy(cluster: Cluster, log: Path) -> None:
    deadline = time.time() + 60
    while time.time() < deadline:
        if cluster.process.poll() is not None:
            raise AssertionError(f"gunicorn exited: {log.read_text()[-2000:]}")
        try:
            healthy = requests.get(f"{cluster.url}/healthz", timeout=2).status_code == 200
        except requests.RequestException:
            healthy = False
        if healthy and len(workers(cluster)) == WORKERS:
            return
        time.sleep(0.3)
    raise AssertionError(f"gunicorn not healthy: {log.read_text()[-2000:]}")


def workers(cluster: Cluster) -> list[str]:
    return subprocess.run(["pgrep", "-P", str(cluster.process.pid)], capture_output=True,
                          text=True).stdout.split()


def all_at_once(jobs, count: int):
    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(lambda job: job(), jobs))


def test_the_workers_are_separate_processes(cluster):
    assert len(workers(cluster)) == WORKERS


def test_one_retry_body_sent_to_all_workers_at_once_runs_once(cluster):
    phone = cluster.subscriber("oMultiDedupe")
    xml = phone.text_xml("贫困户认定标准是什么")
    replies = all_at_once([lambda: phone.send(xml) for _ in range(24)], 24)
    contents = {reply.text for reply in replies if reply.text}
    assert len(contents) == 1 and "贫困" in contents.pop()
    msg_id = re.search(r"<MsgId>(\d+)</MsgId>", xml).group(1)
    with cluster.runtime.sessionmaker() as session:
        rows = session.scalars(select(InboundMessage).where(
            InboundMessage.msg_key == f"m:{msg_id}")).all()
    assert len(rows) == 1


def test_a_dialog_whose_steps_land_on_different_workers_opens_one_case(cluster):
    phone = cluster.subscriber("oMultiDialog")
    steps = [("留言", "请选择留言类型"), ("3", "类型：投诉"),
             ("村里的扶贫项目资金公示不清楚，想了解去向", "第1段"), ("提交", ""), ("跳过", "")]
    for said, expected in steps:
        assert expected in phone.say(said).text
    confirmed = phone.say("确认").text
    number = re.search(r"编号 (\d{8}-\d{4})", confirmed).group(1)
    with cluster.runtime.sessionmaker() as session:
        cases = session.scalars(select(Case).where(Case.openid == "oMultiDialog")).all()
    assert [case.number for case in cases] == [number]


def test_one_token_fetch_serves_every_worker(cluster):
    openids = [f"oMultiToken{n}" for n in range(16)]
    for openid in openids:
        cluster.subscriber(openid).say("你好")
    runtime = cluster.runtime
    with runtime.sessionmaker.begin() as session:
        for openid in openids:
            case, _ = case_service.open_case(session, case_service.Intake(
                "default", openid, "咨询", "请问雨露计划怎么申请"), runtime.vault)
            delivery.add_reply(session, case, "可以到县扶贫办申请。", "staff:张")
        session.execute(update(Subscriber).where(Subscriber.openid.in_(openids))
                        .values(pending_replies=1))
    redis.Redis.from_url(cluster.redis_url).delete("hotline:token:default")
    marker = max([c["id"] for c in cluster.calls("token")] or [0])
    all_at_once([lambda o=o: cluster.subscriber(o).say("在吗") for o in openids], 16)
    deadline = time.time() + 20
    while time.time() < deadline:
        sent = [c for c in cluster.calls("message/custom/send", marker)
                if c["errcode"] == 0 and "有了答复" in c["body"]["text"]["content"]]
        if len(sent) >= len(openids):
            break
        time.sleep(0.3)
    assert sorted(c["body"]["touser"] for c in sent) == sorted(openids)
    assert len(cluster.calls("token", marker)) == 1


def test_every_worker_answers_from_new_content_within_seconds(cluster):
    catalog = load_catalog()
    item = dataclasses.replace(
        catalog.items[0], slug="multi-worker-news", title="光伏扶贫电站收益分配办法",
        keywords=("光伏扶贫电站收益",), questions=("光伏扶贫电站的收益怎么分配",))
    with cluster.runtime.sessionmaker.begin() as session:
        content_service.save_item(session, item)
    deadline, answers = time.time() + 15, []
    while time.time() < deadline:
        answers = all_at_once([lambda n=n: cluster.subscriber(f"oMultiNews{n}").say(
            "光伏扶贫电站的收益怎么分配").text for n in range(16)], 8)
        if all("光伏扶贫电站收益分配办法" in answer for answer in answers):
            break
        time.sleep(0.5)
    assert all("光伏扶贫电站收益分配办法" in answer for answer in answers), answers


def test_migrations_upgrade_a_postgresql_database_that_has_data(pg_database_url):
    upgrade(pg_database_url, "0009")
    engine = create_engine(pg_database_url)
    with engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO subscribers (account, openid, subscribed, first_seen_at, last_seen_at,"
            " message_window_sent, event_window_sent, pending_replies) VALUES ('default', "
            "'oOld', true, now(), now(), 0, 0, 0)"))
        conn.execute(text(
            "INSERT INTO knowledge_items (slug, category, title, summary, body, source, "
            "source_url, keywords, questions, facts, image, menu_key, status, revision, "
            "created_at, updated_at) VALUES ('old-item', 'policy', '旧条目', '', '', '来源', '',"
            " '[]', '[]', '[]', '', '', 'active', 1, now(), now())"))
    upgrade(pg_database_url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT openid FROM subscribers")).scalar() == "oOld"
        assert conn.execute(text("SELECT title FROM knowledge_items")).scalar() == "旧条目"
        head = ScriptDirectory.from_config(alembic_config(pg_database_url)).get_current_head()
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == head
    engine.dispose()
