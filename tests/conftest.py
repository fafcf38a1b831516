from __future__ import annotations

import os

import pytest

from bot.app import create_app
from bot.config import Settings
from bot.migrate import upgrade
from bot.runtime import build_runtime

AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"


def pytest_generate_tests(metafunc):
    """A test module with ON_BOTH_DATABASES = True runs each test on SQLite and again on
    PostgreSQL (when HOTLINE_TEST_PG_URL is set): the hot path differs between the two."""
    if getattr(metafunc.module, "ON_BOTH_DATABASES", False) \
            and "database" in metafunc.fixturenames:
        kinds = ["sqlite", pytest.param("postgresql", marks=pytest.mark.pg)]
        metafunc.parametrize("database", kinds, indirect=True)


@pytest.fixture
def database(request, tmp_path) -> str:
    """The test's database URL: SQLite in tmp_path, or a fresh PostgreSQL schema."""
    if getattr(request, "param", "sqlite") == "postgresql":
        return request.getfixturevalue("pg_database_url")
    return f"sqlite:///{tmp_path}/test.db"


@pytest.fixture
def settings(tmp_path, database) -> Settings:
    env = {
        "HOTLINE_ENV": "test",
        "HOTLINE_DATABASE_URL": database,
        "HOTLINE_INSTANCE_PATH": str(tmp_path),
        "WECHAT_TOKEN": "test-token",
        "WECHAT_APPID": "wxtestappid0001",
        "WECHAT_SECRET": "test-secret",
        "WECHAT_AES_KEY": AES_KEY,
        "HOTLINE_SIMULATOR": "1",
        "HOTLINE_SECRET_KEY": "test-secret-key-0123456789",
    }
    return Settings.from_env(env)


@pytest.fixture
def runtime(settings):
    upgrade(settings.database_url)
    runtime = build_runtime(settings)
    yield runtime
    runtime.close()


@pytest.fixture
def app(runtime):
    return create_app(runtime=runtime)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def account(settings):
    return settings.default_account


def pg_url() -> str:
    return os.environ.get("HOTLINE_TEST_PG_URL", "")


@pytest.fixture
def pg_database_url():
    """A fresh PostgreSQL schema for one test (skipped without HOTLINE_TEST_PG_URL)."""
    import secrets

    from sqlalchemy import create_engine, text

    base = pg_url()
    if not base:
        pytest.skip("HOTLINE_TEST_PG_URL not set")
    schema = f"t_{secrets.token_hex(6)}"
    admin = create_engine(base)
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    separator = "&" if "?" in base else "?"
    yield f"{base}{separator}options=-csearch_path%3D{schema}"
    with admin.begin() as conn:
        conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    admin.dispose()


class LiveServer:
    """The app on a real port in a background thread (werkzeug, threaded)."""

    def __init__(self, app) -> None:
        import threading

        from werkzeug.serving import make_server

        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.port = self.server.server_port
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.thread.join(5)


@pytest.fixture
def live(runtime):
    """A live server whose outbound API points at its own fake WeChat API."""
    from werkzeug.serving import make_server  # noqa: F401 - fail early if missing

    app = create_app(runtime=runtime)
    server = LiveServer(app)
    runtime.settings = runtime.settings.with_overrides(
        public_url=server.url, api_base=f"{server.url}/sim/api/")
    yield server
    server.stop()
