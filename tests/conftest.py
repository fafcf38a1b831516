from __future__ import annotations

import os

import pytest

from bot.app import create_app
from bot.config import Settings
from bot.migrate import upgrade
from bot.runtime import build_runtime

AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"


@pytest.fixture
def settings(tmp_path) -> Settings:
    env = {
        "HOTLINE_ENV": "test",
        "HOTLINE_DATABASE_URL": f"sqlite:///{tmp_path}/test.db",
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
