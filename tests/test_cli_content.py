from __future__ import annotations

from click.testing import CliRunner

from bot.cli import cli


def test_check_and_load_are_idempotent(monkeypatch, settings, runtime):
    monkeypatch.setenv("HOTLINE_DATABASE_URL", settings.database_url)
    runner = CliRunner()
    checked = runner.invoke(cli, ["content", "check"])
    assert checked.exit_code == 0 and "ok:" in checked.output
    first = runner.invoke(cli, ["content", "load"])
    assert first.exit_code == 0 and "content version 1" in first.output
    again = runner.invoke(cli, ["content", "load"])
    assert "0 new, 0 changed, 0 archived" in again.output and "version 1" in again.output


def test_bad_files_load_nothing(monkeypatch, settings, runtime, tmp_path):
    monkeypatch.setenv("HOTLINE_DATABASE_URL", settings.database_url)
    (tmp_path / "bad.yaml").write_text("items:\n- slug: Bad Slug\n", encoding="utf-8")
    runner = CliRunner()
    checked = runner.invoke(cli, ["content", "check", "--path", str(tmp_path)])
    assert checked.exit_code != 0 and "bad.yaml:2:" in checked.output
    loaded = runner.invoke(cli, ["content", "load", "--path", str(tmp_path)])
    assert loaded.exit_code != 0 and "nothing loaded" in loaded.output
