"""/metrics: Prometheus text with requests and latency by route, webhook outcomes, cases,
pushes and WeChat API results; no openid in it; a failing database leaves the case lines
out instead of failing the scrape; and with several gunicorn workers one scrape sums them."""

from __future__ import annotations

import dataclasses
import datetime as dt
import glob
import os
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.orm import sessionmaker

from bot.db import make_engine, utcnow
from bot.dispatch import HandlerGroup, Router
from bot.metrics import Metrics
from bot.migrate import upgrade
from bot.services import cases as case_service
from bot.services import content as content_service
from bot.services import push_send
from bot.services import pushes as push_service
from content.schema import load_catalog
from handlers import GROUPS
from tests.wechat import signed_query, text_xml, url

ON_BOTH_DATABASES = True  # tests/conftest.py: each test on SQLite and PostgreSQL

ROOT = Path(__file__).resolve().parents[1]
WEBHOOK = ("/wechat", "POST", "200")
SLUG = "criteria-household-standard"


def scrape(client) -> tuple[str, dict]:
    """The text, and every sample as {(name, ((label, value), ...)): value}."""
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain; version=")
    text = response.get_data(as_text=True)
    return text, as_samples(text)


def as_samples(text: str) -> dict:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def value(samples: dict, name: str, **labels: str) -> float | None:
    return samples.get((name, tuple(sorted(labels.items()))))


def requests_of(samples: dict, route: str, method: str, status: str) -> float | None:
    return value(samples, "hotline_http_requests_total", route=route, method=method,
                 status=status)


def with_failing_rule(runtime) -> None:
    group = HandlerGroup("testing")

    @group.keyword("出错")
    def broken(msg, ctx):
        """总是出错"""
        raise RuntimeError("handler bug")

    runtime.router = Router([group, *GROUPS])


def make_push(runtime) -> None:
    """An approved news push of one edited item, due now (as tests/test_pushes.py does)."""
    catalog = load_catalog()
    with runtime.sessionmaker.begin() as session:
        content_service.load(session, catalog.items)
    item = next(i for i in catalog.items if i.slug == SLUG)
    with runtime.sessionmaker.begin() as session:
        content_service.save_item(session, dataclasses.replace(item, title=item.title + "（修订）"))
    with runtime.sessionmaker.begin() as session:
        push = push_service.create_push(session, account="default", slugs=[SLUG],
                                        due_at=utcnow(), by="张")
        push_service.approve(session, push.id, "李")


def post(client, account, body: str, **query: str):
    return client.post(url("/wechat", signed_query(account.token, **query)), data=body)


def test_webhook_traffic_by_route_rule_and_outcome_without_openids(client, account, runtime):
    with_failing_rule(runtime)
    for n in range(3):
        reply = post(client, account, text_xml("你好", openid=f"oMetricSecret{n}"))
        assert reply.status_code == 200
    retry = text_xml("扶贫标准是多少", openid="oMetricSecret3", msg_id=777001)
    assert post(client, account, retry).status_code == 200
    assert post(client, account, retry).status_code == 200  # WeChat's retry: dedupe
    assert "抱歉" in post(client, account, text_xml("出错", openid="oMetricSecret4")).text
    forged = client.post(url("/wechat", {**signed_query(account.token), "signature": "x" * 40}),
                         data=text_xml("你好", openid="oMetricSecret5"))
    assert forged.status_code == 403
    assert client.get("/p/no-such-item-oMetricSecret6").status_code == 404
    assert client.get("/oMetricSecret7/whatever").status_code == 404

    text, samples = scrape(client)
    assert "oMetricSecret" not in text and "no-such-item" not in text
    assert requests_of(samples, *WEBHOOK) == 6
    assert requests_of(samples, "/wechat", "POST", "403") == 1
    assert requests_of(samples, "/p/<slug>", "GET", "404") == 1
    assert requests_of(samples, "unmatched", "GET", "404") == 1
    assert value(samples, "hotline_http_request_seconds_count", route="/wechat") == 7
    assert value(samples, "hotline_http_request_seconds_bucket", route="/wechat",
                 le="+Inf") == 7
    assert value(samples, "hotline_webhook_refused_total", reason="403") == 1
    assert value(samples, "hotline_dedupe_hits_total") == 1
    assert value(samples, "hotline_handler_errors_total") == 1
    handled = {dict(labels)["rule"]: v for (name, labels), v in samples.items()
               if name == "hotline_handled_total"}
    assert sum(handled.values()) == 4 and all(":" not in rule for rule in handled)
    assert runtime.metrics.value("dedupe_hits") == 1  # the facade reads the same counters
    # the scrape itself is counted after it answered, so the next one sees it
    assert requests_of(scrape(client)[1], "/metrics", "GET", "200") == 1


def test_cases_by_state_and_overdue_are_read_at_scrape_time(client, runtime):
    long_ago = dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(days=60)
    with runtime.sessionmaker.begin() as session:
        for description, now in (("村里的路坏了", None), ("低保没有发放", long_ago)):
            intake = case_service.Intake("default", "oCaseSecret", "咨询", description)
            case_service.open_case(session, intake, runtime.vault, now=now)
    text, samples = scrape(client)
    assert value(samples, "hotline_cases", state="待受理") == 2
    assert value(samples, "hotline_cases", state="已办结") == 0
    assert value(samples, "hotline_cases_overdue") == 1
    assert "oCaseSecret" not in text


def test_a_database_error_leaves_the_case_lines_out_and_is_counted(client, runtime, tmp_path):
    runtime.sessionmaker = sessionmaker(make_engine(f"sqlite:///{tmp_path}/missing/no.db"))
    text, samples = scrape(client)
    assert "hotline_cases" not in text
    assert value(samples, "hotline_metrics_errors_total", source="cases") == 1
    assert value(samples, "hotline_dedupe_hits_total") == 0  # the rest is still there


def test_pushes_and_wechat_api_results_are_counted(runtime, live, client):
    make_push(runtime)
    assert [r.state for r in push_send.run_due(runtime)] == ["sent"]
    make_push(runtime)  # a second broadcast to everyone today: deferred by the local quota
    assert [r.state for r in push_send.run_due(runtime)] == ["deferred"]
    requests.post(f"{live.url}/sim/api/_faults", json={"path": "menu/get", "errcode": 48001},
                  timeout=5).raise_for_status()
    with pytest.raises(Exception, match="48001"):
        runtime.api("default").get("menu/get")
    _, samples = scrape(client)
    assert value(samples, "hotline_pushes_total", result="sent") == 1
    assert value(samples, "hotline_pushes_total", result="deferred") == 1
    calls = "hotline_wechat_api_calls_total"
    assert value(samples, calls, endpoint="message/mass/sendall", result="ok") == 1
    assert value(samples, calls, endpoint="draft/add", result="ok") == 1
    assert value(samples, calls, endpoint="menu/get", result="48001") == 1


def test_a_client_chosen_method_never_becomes_a_label():
    metrics = Metrics()
    metrics.observe_request("unmatched", "BREW-oSecret", 405, 0.001)
    samples = as_samples(metrics.render().decode())
    assert requests_of(samples, "unmatched", "other", "405") == 1
    with pytest.raises(KeyError):
        metrics.incr("no_such_metric")


def test_multiprocess_mode_set_too_late_is_refused_not_silently_wrong(monkeypatch, tmp_path):
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))  # prometheus_client is loaded
    with pytest.raises(RuntimeError, match="before the app is imported"):
        Metrics()


# -- several processes -----------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _counted_by(path: str) -> float:
    """Webhook messages counted in one process's file."""
    for metric in MultiProcessCollector.merge([path]):
        for sample in metric.samples:
            if sample.name == "hotline_http_requests_total" and sample.labels.get(
                    "route") == "/wechat":
                return sample.value
    return 0.0


@pytest.fixture
def gunicorn(tmp_path):
    """deploy/gunicorn.conf.py with two workers on a temporary SQLite database."""
    port, metrics_dir = _free_port(), tmp_path / "metrics"
    metrics_dir.mkdir()
    (metrics_dir / "counter_1.db").write_bytes(b"left by the last run")
    database = f"sqlite:///{tmp_path}/hotline.db"
    upgrade(database)
    env = {key: value for key, value in os.environ.items()
           if key != "PROMETHEUS_MULTIPROC_DIR"}
    env.update(HOME=str(tmp_path), HOTLINE_ENV="test", HOTLINE_DATABASE_URL=database,
               HOTLINE_INSTANCE_PATH=str(tmp_path), HOTLINE_METRICS_DIR=str(metrics_dir),
               HOTLINE_BIND=f"127.0.0.1:{port}", HOTLINE_WORKERS="2",
               WECHAT_TOKEN="test-token", WECHAT_APPID="wxtestappid0001",
               WECHAT_SECRET="test-secret", HOTLINE_SIMULATOR="1",
               HOTLINE_SECRET_KEY="test-secret-key-0123456789")
    log = (tmp_path / "gunicorn.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "deploy/gunicorn.conf.py",
         "--no-control-socket"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while time.time() < deadline and process.poll() is None:
        try:
            if requests.get(f"{base}/healthz", timeout=2).status_code == 200:
                break
        except requests.RequestException:
            time.sleep(0.2)
    else:
        process.kill()
        raise AssertionError((tmp_path / "gunicorn.log").read_text()[-2000:])
    yield base, metrics_dir, process
    process.send_signal(signal.SIGTERM)
    process.wait(20)
    log.close()


def _send(base: str, count: int, start: int) -> None:
    query = url("/wechat", signed_query("test-token"))

    def one(n: int) -> None:
        body = text_xml("你好", openid=f"oWorkerSecret{n % 7}", msg_id=start + n)
        assert requests.post(f"{base}{query}", data=body.encode(), timeout=20).ok

    with ThreadPoolExecutor(6) as pool:
        list(pool.map(one, range(count)))


@pytest.mark.live
def test_one_scrape_sums_every_worker_the_dead_ones_too(gunicorn):
    base, metrics_dir, master = gunicorn
    assert not (metrics_dir / "counter_1.db").exists()  # the last run's files are gone
    sent = 0
    for _round in range(10):  # until both workers have answered some
        _send(base, 30, 10**6 + sent)
        sent += 30
        files = glob.glob(str(metrics_dir / "counter_*.db"))
        busy = [f for f in files if _counted_by(f) > 0 and f"_{master.pid}." not in f]
        if len(busy) >= 2:
            break
    assert len(busy) >= 2, "the second worker never answered"
    samples = as_samples(requests.get(f"{base}/metrics", timeout=5).text)
    assert requests_of(samples, *WEBHOOK) == sent
    assert value(samples, "hotline_http_request_seconds_count", route="/wechat") == sent
    handled = sum(v for (name, _), v in samples.items() if name == "hotline_handled_total")
    assert handled == sent

    os.kill(int(Path(busy[0]).stem.split("_")[1]), signal.SIGKILL)  # gunicorn replaces it
    _send(base, 12, 2 * 10**6)
    _scheduler_sends_a_push(metrics_dir / "scheduler")
    text = requests.get(f"{base}/metrics", timeout=5).text
    samples = as_samples(text)
    assert requests_of(samples, *WEBHOOK) == sent + 12
    assert value(samples, "hotline_pushes_total", result="sent") == 1
    assert "oWorkerSecret" not in text


def _scheduler_sends_a_push(directory: Path) -> None:
    """Another process (the scheduler's unit sets this directory) counting a push."""
    directory.mkdir()
    code = ("from bot.metrics import Metrics; m = Metrics(); assert m.directory; "
            "m.incr('pushes', result='sent')")
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, timeout=60,
                   env={**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(directory)})
