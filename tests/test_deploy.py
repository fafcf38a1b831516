"""The production deployment: env.example documents every setting, the systemd units are
hardened, nginx keeps the simulator and the monitoring endpoints private, forwarded headers
are believed only from the proxy, /healthz says which dependency is down, and personal data
stays out of the logs."""

from __future__ import annotations

import logging
import os
import re
import runpy
from pathlib import Path

import pytest
from flask import request

from bot.app import create_app
from bot.config import ConfigError, Settings
from bot.simulator.client import SubscriberClient

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
SETTING = re.compile(r"""["'](HOTLINE_[A-Z_]+|WECHAT_[A-Z_]+)["']""")


def settings_read_by_the_code() -> set[str]:
    names = set()
    for path in [*(ROOT / "bot").rglob("*.py"), DEPLOY / "gunicorn.conf.py"]:
        if "simulator" in path.parts or "migrations" in path.parts:
            continue
        names |= set(SETTING.findall(path.read_text(encoding="utf-8")))
    return names


def test_env_example_documents_every_setting():
    documented = set(re.findall(r"^#?\s*([A-Z_]+)=", (DEPLOY / "env.example").read_text(),
                                re.MULTILINE))
    read = settings_read_by_the_code()
    assert read - documented == set(), "settings missing from deploy/env.example"
    assert {"HOTLINE_SECRET_KEY", "HOTLINE_DATABASE_URL", "WECHAT_AES_KEY"} <= read


@pytest.mark.parametrize("unit", ["fupin-hotline-web.service", "fupin-hotline-scheduler.service"])
def test_systemd_units_are_hardened_and_read_the_environment_file(unit):
    text = (DEPLOY / "systemd" / unit).read_text()
    for line in ("NoNewPrivileges=yes", "ProtectSystem=strict", "PrivateTmp=yes",
                 "ProtectHome=yes", "CapabilityBoundingSet=", "User=hotline",
                 "EnvironmentFile=/etc/fupin-hotline/env", "Restart=always"):
        assert line in text, f"{unit}: {line}"


def test_only_one_unit_runs_the_scheduler_and_the_web_unit_migrates_first():
    web = (DEPLOY / "systemd" / "fupin-hotline-web.service").read_text()
    scheduler = (DEPLOY / "systemd" / "fupin-hotline-scheduler.service").read_text()
    assert "hotline db upgrade" in web.split("ExecStart=")[0]
    assert "hotline scheduler" in scheduler and "scheduler" not in web.split("ExecStart=")[1]


def test_nginx_limits_bodies_times_out_before_wechat_and_hides_the_simulator():
    text = (DEPLOY / "nginx" / "fupin-hotline.conf").read_text()
    assert re.search(r"location /sim/ \{\s*return 404;", text)
    assert "client_max_body_size 64k;" in text and "proxy_read_timeout 5s;" in text
    assert "ssl_certificate" in text and "return 301 https://" in text
    for private in ("/healthz", "/metrics"):
        assert re.search(rf"location = {private} \{{\s*allow 127.0.0.1;\s*deny all;", text)


def test_production_refuses_to_start_without_its_secrets():
    with pytest.raises(ConfigError) as refused:
        Settings.from_env({"HOTLINE_ENV": "production"})
    for needed in ("HOTLINE_SECRET_KEY", "PostgreSQL", "credentials"):
        assert needed in str(refused.value)
    production = Settings.from_env({
        "HOTLINE_ENV": "production", "HOTLINE_SECRET_KEY": "s" * 32, "HOTLINE_SIMULATOR": "1",
        "HOTLINE_DATABASE_URL": "postgresql+psycopg://h@127.0.0.1/h", "WECHAT_TOKEN": "tok",
        "WECHAT_APPID": "wxrealappid", "WECHAT_SECRET": "real-secret"})
    assert production.simulator is False and "sim" not in production.api_base


def _remote(client, headers, remote):
    return client.get("/healthz", headers=headers, environ_base={"REMOTE_ADDR": remote})


def test_forwarded_headers_are_believed_only_from_the_proxy(runtime):
    runtime.settings = runtime.settings.with_overrides(trusted_proxies=("10.0.0.5",))
    app = create_app(runtime=runtime)
    seen = []

    @app.before_request
    def record():
        seen.append((request.remote_addr, request.scheme))

    forged = {"X-Forwarded-For": "1.2.3.4", "X-Forwarded-Proto": "https"}
    client = app.test_client()
    _remote(client, forged, "203.0.113.9")
    _remote(client, forged, "10.0.0.5")
    assert seen == [("203.0.113.9", "http"), ("1.2.3.4", "https")]


def test_healthz_names_what_is_down(runtime, client):
    assert client.get("/healthz").get_data(as_text=True) == "ok\n"
    runtime.settings = runtime.settings.with_overrides(redis_url="redis://127.0.0.1:1/0")
    answer = client.get("/healthz")
    assert answer.status_code == 503 and answer.get_data(as_text=True) == "redis unreachable\n"


def test_personal_data_stays_out_of_the_logs(live, account, caplog):
    caplog.set_level(logging.DEBUG)
    phone = SubscriberClient(live.url, account, "oPrivate")
    phone.say("投诉：村里低保评定不公平，我叫王秀英，电话13812345678")
    phone.say("确认")
    logged = "\n".join(record.getMessage() for record in caplog.records)
    for secret in ("13812345678", "王秀英", "低保评定不公平"):
        assert secret not in logged


@pytest.mark.skipif(not os.access("/dev/shm", os.W_OK), reason="no writable /dev/shm")
def test_metric_files_default_to_tmpfs_and_go_when_gunicorn_stops(monkeypatch, tmp_path):
    monkeypatch.delenv("HOTLINE_METRICS_DIR", raising=False)
    # the conf sets PROMETHEUS_MULTIPROC_DIR: recorded here (set, then deleted) to be undone
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", "")
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR")
    monkeypatch.setenv("HOTLINE_INSTANCE_PATH", str(tmp_path))
    conf = runpy.run_path(str(DEPLOY / "gunicorn.conf.py"))
    path = Path(os.environ["PROMETHEUS_MULTIPROC_DIR"])
    assert str(path).startswith("/dev/shm/fupin-hotline-metrics-") and path.is_dir()
    (path / "counter_1.db").write_bytes(b"x")
    conf["on_exit"](None)
    assert not path.exists()


def test_configured_metric_files_are_kept_when_gunicorn_stops(monkeypatch, tmp_path):
    configured = tmp_path / "metrics"
    monkeypatch.setenv("HOTLINE_METRICS_DIR", str(configured))
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", "")
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR")
    conf = runpy.run_path(str(DEPLOY / "gunicorn.conf.py"))
    assert os.environ["PROMETHEUS_MULTIPROC_DIR"] == str(configured)
    (configured / "counter_1.db").write_bytes(b"x")
    conf["on_exit"](None)
    assert (configured / "counter_1.db").exists()
