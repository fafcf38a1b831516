"""`hotline case show|reply`: staff answer a case from the shell; delivery through the fake
WeChat API of a live server."""

from __future__ import annotations

import re

from click.testing import CliRunner

from bot.cli import cli
from bot.simulator.client import SubscriberClient
from tests.test_sim import cli_env  # noqa: F401 - the fixture


def test_reply_delivers_and_show_lists_history_and_delivery(live, cli_env, account):  # noqa: F811
    cli_env.setenv("HOTLINE_PUBLIC_URL", live.url)
    cli_env.setenv("HOTLINE_SIMULATOR", "1")
    cli_env.setenv("HOTLINE_SECRET_KEY", "test-secret-key-0123456789")
    phone = SubscriberClient(live.url, account, "oShell")
    phone.say("咨询：贫困户的孩子读大学有补助吗")
    number = re.search(r"编号 (\d{8}-\d{4})", phone.say("确认").text).group(1)
    runner = CliRunner()
    replied = runner.invoke(cli, ["case", "reply", number, "可以申请雨露计划。", "--as", "张"])
    assert replied.exit_code == 0 and "已送达" in replied.output, replied.output
    shown = runner.invoke(cli, ["case", "show", number])
    assert shown.exit_code == 0
    assert "已答复" in shown.output and "staff:张" in shown.output
    assert "[已送达] 可以申请雨露计划。" in shown.output
    assert "答复：可以申请雨露计划。" in phone.say("查询 " + number).text


def test_bad_numbers_and_empty_replies_are_refused(live, cli_env):  # noqa: F811
    runner = CliRunner()
    assert "no case numbered" in runner.invoke(cli, ["case", "show", "20200101-0001"]).output
    result = runner.invoke(cli, ["case", "reply", "20200101-0001", "x", "--as", "张"])
    assert result.exit_code != 0 and "no case numbered" in result.output
