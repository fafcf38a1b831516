"""`hotline menu push`: the menu in content/data goes to the (fake) WeChat API."""

from __future__ import annotations

import shutil

import requests
from click.testing import CliRunner

from bot.cli import cli
from bot.services import content as content_service
from content.schema import DATA_DIR, load_catalog
from tests.test_sim import cli_env  # noqa: F401 - the fixture


def push(live, cli_env, *args):  # noqa: F811
    cli_env.setenv("HOTLINE_PUBLIC_URL", live.url)
    cli_env.setenv("HOTLINE_SIMULATOR", "1")
    return CliRunner().invoke(cli, ["menu", "push", *args])


def test_push_sends_the_menu_and_the_simulator_shows_it(live, cli_env, runtime):  # noqa: F811
    with runtime.sessionmaker.begin() as session:
        content_service.load(session, load_catalog().items)
    result = push(live, cli_env)
    assert result.exit_code == 0, result.output
    assert "menu pushed to default: 3 buttons" in result.output
    calls = requests.get(f"{live.url}/sim/api/_calls", timeout=5).json()
    created = [c for c in calls if c["path"] == "menu/create"]
    assert created and created[-1]["errcode"] == 0
    assert created[-1]["body"]["button"][0]["name"] == "政策查询"
    shown = requests.get(f"{live.url}/sim/menu", timeout=5).json()
    assert shown["button"][2]["sub_button"][3]["key"] == "HELP"


def test_push_refuses_when_the_content_is_not_loaded(live, cli_env):  # noqa: F811
    result = push(live, cli_env)
    assert result.exit_code != 0 and "MENU_POLICY" in result.output
    calls = requests.get(f"{live.url}/sim/api/_calls", timeout=5).json()
    assert not [c for c in calls if c["path"] == "menu/create"]


def test_push_refuses_a_bad_menu_file_with_its_line(live, cli_env, tmp_path):  # noqa: F811
    data = tmp_path / "data"
    shutil.copytree(DATA_DIR, data)
    menu = data / "menu.yaml"
    menu.write_text(menu.read_text(encoding="utf-8").replace("name: 政策查询",
                                                             "name: 政策查询政策查询政策查询"),
                    encoding="utf-8")
    result = push(live, cli_env, "--path", str(data))
    assert result.exit_code != 0 and "menu.yaml:" in result.output


def test_push_reports_an_unknown_account_and_wechat_errors(live, cli_env, runtime):  # noqa: F811
    with runtime.sessionmaker.begin() as session:
        content_service.load(session, load_catalog().items)
    assert "no account named" in push(live, cli_env, "--account", "nobody").output
    requests.post(f"{live.url}/sim/api/_faults", json={"path": "menu/create", "errcode": 40018,
                                                       "count": 1}, timeout=5)
    result = push(live, cli_env)
    assert result.exit_code != 0 and "40018" in result.output
