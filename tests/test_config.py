from __future__ import annotations

import pytest

from bot.config import SIM_TOKEN, ConfigError, Settings

CREDS = {"WECHAT_TOKEN": "t", "WECHAT_APPID": "wx1", "WECHAT_SECRET": "s"}


def test_defaults_need_nothing_and_turn_the_simulator_on():
    settings = Settings.from_env({})
    assert settings.simulator is True
    assert settings.default_account.token == SIM_TOKEN
    assert len(settings.default_account.aes_key) == 43, "safe mode can be tried at once"
    assert settings.database_url.startswith("sqlite:///")
    assert settings.api_base == "http://127.0.0.1:8000/sim/api/"


def test_credentials_turn_the_simulator_off_unless_asked():
    assert Settings.from_env(CREDS).simulator is False
    assert Settings.from_env(CREDS).api_base == "https://api.weixin.qq.com/cgi-bin/"
    forced = Settings.from_env({**CREDS, "HOTLINE_SIMULATOR": "1"})
    assert forced.simulator is True and forced.default_account.token == "t"
    assert forced.api_base.endswith("/sim/api/")


def test_production_refuses_missing_secrets():
    with pytest.raises(ConfigError, match="HOTLINE_SECRET_KEY"):
        Settings.from_env({"HOTLINE_ENV": "production", **CREDS})
    with pytest.raises(ConfigError, match="credentials"):
        Settings.from_env({"HOTLINE_ENV": "production", "HOTLINE_SECRET_KEY": "x" * 32,
                           "HOTLINE_DATABASE_URL": "postgresql://db/x"})
    ok = Settings.from_env({"HOTLINE_ENV": "production", "HOTLINE_SECRET_KEY": "x" * 32,
                            "HOTLINE_DATABASE_URL": "postgresql://db/x",
                            "HOTLINE_SIMULATOR": "1", **CREDS})
    assert ok.simulator is False


@pytest.mark.parametrize("env,match", [
    ({"HOTLINE_ACCOUNT_TYPE": "enterprise"}, "HOTLINE_ACCOUNT_TYPE"),
    ({"HOTLINE_REPLY_BUDGET": "soon"}, "HOTLINE_REPLY_BUDGET"),
    ({"HOTLINE_REPLY_BUDGET": "-1"}, "positive"),
    ({"HOTLINE_ENV": "staging"}, "HOTLINE_ENV"),
    ({**CREDS, "WECHAT_AES_KEY": "short"}, "43"),
    ({"HOTLINE_ACCOUNTS_FILE": "/nonexistent/accounts.toml"}, "cannot read"),
])
def test_bad_settings_name_the_variable(env, match):
    with pytest.raises(ConfigError, match=match):
        Settings.from_env(env)


def test_accounts_file_adds_accounts(tmp_path):
    path = tmp_path / "accounts.toml"
    path.write_text('[[account]]\nname = "hotline"\ntype = "subscription"\ntoken = "t2"\n'
                    'appid = "wx2"\nsecret = "s2"\ntitle = "云南扶贫热线"\n', encoding="utf-8")
    settings = Settings.from_env({**CREDS, "HOTLINE_ACCOUNTS_FILE": str(path)})
    assert [a.name for a in settings.accounts] == ["default", "hotline"]
    hotline = settings.account("hotline")
    assert hotline.webhook_path == "/wechat/hotline"
    assert hotline.can_send_templates is False


@pytest.mark.parametrize("body,match", [
    ('[[account]]\nname = "x"\n', "missing token, appid"),
    ('[[account]]\nname = "default"\ntoken = "t"\nappid = "a"\n', "plain word"),
    ('[[account]]\nname = "x"\ntoken = "t"\nappid = "a"\ntype = "big"\n', "type"),
    ('[[account]]\nname = "x"\ntoken = "t"\nappid = "a"\n[[account]]\nname = "x"\n'
     'token = "t"\nappid = "a"\n', "used twice"),
    ("this is = not toml [", "accounts.toml"),
])
def test_bad_accounts_file_says_where(tmp_path, body, match):
    path = tmp_path / "accounts.toml"
    path.write_text(body, encoding="utf-8")
    with pytest.raises(ConfigError, match=match):
        Settings.from_env({**CREDS, "HOTLINE_ACCOUNTS_FILE": str(path)})


def test_case_deadlines_override_the_defaults_by_class():
    settings = Settings.from_env({"HOTLINE_CASE_DEADLINES": "咨询=5， 投诉=10"})
    assert settings.case_deadlines["咨询"] == 5 and settings.case_deadlines["投诉"] == 10
    assert settings.case_deadlines["依申请公开"] == 20
    assert Settings.from_env({}).case_deadlines["咨询"] == 3


@pytest.mark.parametrize("value", ["闲聊=3", "咨询=0", "咨询=abc", "咨询=99", "咨询"])
def test_bad_case_deadlines_are_refused(value):
    with pytest.raises(ConfigError, match="HOTLINE_CASE_DEADLINES"):
        Settings.from_env({"HOTLINE_CASE_DEADLINES": value})


def test_development_keeps_a_generated_secret_key(tmp_path):
    from bot.runtime import build_runtime

    env = {"HOTLINE_INSTANCE_PATH": str(tmp_path),
           "HOTLINE_DATABASE_URL": f"sqlite:///{tmp_path}/x.db"}
    first = build_runtime(Settings.from_env(env))
    second = build_runtime(Settings.from_env(env))
    assert first.settings.secret_key and first.settings.secret_key == second.settings.secret_key
    assert second.vault.open(first.vault.seal("13800138000")) == "13800138000"
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600
    first.close()
    second.close()
