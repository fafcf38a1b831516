"""Webhook throughput and latency: ours vs WeRoBot (see tests/bench/__main__.py)."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

from bot.config import Account
from bot.wechat.crypto import MessageCrypto, signature
from bot.wechat.parse import parse_xml

HERE = Path(__file__).parent
ROOT = HERE.parents[1]
TOKEN, APPID, SECRET = "bench-token", "wxbench000000001", "bench-secret"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
DURATION, DURATION_ONE = 5, 3


@dataclass
class Variant:
    name: str
    app: str
    env: dict
    aes: bool = False
    port: int = 0
    process: subprocess.Popen | None = None
    runs: list[dict] = field(default_factory=list)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start(variant: Variant, workdir: Path) -> None:
    variant.port = free_port()
    env = {**os.environ, **variant.env, "HOME": str(workdir), "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "deploy" / "gunicorn.conf.py"),
               "--no-control-socket", "-w", "2", "-b", f"127.0.0.1:{variant.port}",
               "--log-level", "warning", variant.app]
    variant.process = subprocess.Popen(command, env=env, cwd=ROOT, start_new_session=True)
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", variant.port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{variant.name} did not start")


def stop(variant: Variant) -> None:
    if variant.process and variant.process.poll() is None:
        os.killpg(variant.process.pid, signal.SIGTERM)
        try:
            variant.process.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(variant.process.pid, signal.SIGKILL)


def query(timestamp: str = "1700000000", nonce: str = "bench") -> str:
    sig = signature(TOKEN, timestamp, nonce)
    return f"/wechat?signature={sig}&timestamp={timestamp}&nonce={nonce}&openid=bench"


def aes_bodies(path: Path, count: int, salt: int) -> None:
    account = Account("default", TOKEN, APPID, SECRET, aes_key=AES_KEY)
    crypto = MessageCrypto(account.token, account.appid, account.aes_key)
    timestamp = str(int(time.time()))
    with path.open("w", encoding="utf-8") as out:
        for n in range(count):
            nonce = f"n{salt}x{n}"
            xml = (f"<xml><ToUserName><![CDATA[gh_bench]]></ToUserName><FromUserName>"
                   f"<![CDATA[bench-aes-{n % 200}]]></FromUserName><CreateTime>{timestamp}"
                   f"</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[帮助]]>"
                   f"</Content><MsgId>{salt}{n:09d}</MsgId></xml>")
            wrapped = parse_xml(crypto.encrypt(xml, nonce, timestamp))
            body = (f"<xml><ToUserName><![CDATA[gh_bench]]></ToUserName><Encrypt><![CDATA["
                    f"{wrapped['Encrypt']}]]></Encrypt></xml>")
            path_q = (query(timestamp, nonce) + "&encrypt_type=aes&msg_signature="
                      + wrapped["MsgSignature"])
            out.write(f"{path_q}\t{body}\n")


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _ms(text: str) -> float:
    value, unit = re.match(r"([\d.]+)(us|ms|s)", text).groups()
    return float(value) * _UNITS[unit]


def wrk(variant: Variant, connections: int, seconds: int, env: dict) -> dict:
    command = ["wrk", "-t", str(min(connections, 2)), "-c", str(connections), "-d",
               f"{seconds}s", "--latency", "-s", str(HERE / "request.lua"),
               f"http://127.0.0.1:{variant.port}"]
    output = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 30,
                            env={**os.environ, **env}).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    p50 = _ms(re.search(r"\s50%\s+(\S+)", output).group(1))
    p99 = _ms(re.search(r"\s99%\s+(\S+)", output).group(1))
    total = int(re.search(r"(\d+) requests in", output).group(1))
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    errors = re.search(r"Socket errors: (.*)", output)
    return {"rps": rps, "p50": p50, "p99": p99, "total": total,
            "non2xx": int(bad.group(1)) if bad else 0, "errors": errors.group(1) if errors else ""}


def check_answer(variant: Variant) -> None:
    body = ("<xml><ToUserName>gh</ToUserName><FromUserName>check</FromUserName><CreateTime>"
            f"{int(time.time())}</CreateTime><MsgType>text</MsgType><Content>帮助</Content>"
            f"<MsgId>{time.time_ns()}</MsgId></xml>").encode()
    response = requests.post(f"http://127.0.0.1:{variant.port}{query()}", data=body, timeout=5)
    assert response.status_code == 200 and "帮助" in response.text, (variant.name, response.text)


def run_round(variant: Variant, workdir: Path, salt: int) -> None:
    env = {"BENCH_PATH": query(), "BENCH_SALT": str(salt), "BENCH_BODIES": ""}
    if variant.aes:
        bodies = workdir / f"bodies-{salt}.tsv"
        aes_bodies(bodies, 25000, salt)
        env["BENCH_BODIES"] = str(bodies)
    many = wrk(variant, 16, DURATION, env)
    env["BENCH_SALT"] = str(salt + 500)
    if variant.aes:
        aes_bodies(workdir / f"bodies-{salt}.tsv", 8000, salt + 500)
    one = wrk(variant, 1, DURATION_ONE, env)
    variant.runs.append({**many, "p50_one": one["p50"],
                         "requests": many["total"] + one["total"],
                         "non2xx_all": many["non2xx"] + one["non2xx"]})


def median(variant: Variant, key: str) -> float:
    return statistics.median(run[key] for run in variant.runs)


def variants(workdir: Path) -> list[Variant]:
    ours_env = {"HOTLINE_ENV": "test", "WECHAT_TOKEN": TOKEN, "WECHAT_APPID": APPID,
                "WECHAT_SECRET": SECRET, "HOTLINE_TIMESTAMP_WINDOW": str(10**9),
                "HOTLINE_SIMULATOR": "0", "HOTLINE_LOG_LEVEL": "WARNING"}
    werobot = {"BENCH_TOKEN": TOKEN}
    return [
        Variant("ours", "bot.wsgi:app",
                {**ours_env, "HOTLINE_DATABASE_URL": f"sqlite:///{workdir}/plain.db"}),
        Variant("ours-aes", "bot.wsgi:app",
                {**ours_env, "HOTLINE_DATABASE_URL": f"sqlite:///{workdir}/aes.db",
                 "WECHAT_AES_KEY": AES_KEY}, aes=True),
        Variant("werobot-default", "tests.bench.werobot_app:app",
                {**werobot, "BENCH_WEROBOT_SESSION": "1",
                 "BENCH_SESSION_FILE": str(workdir / "werobot.sqlite3")}),
        Variant("werobot-bare", "tests.bench.werobot_app:app",
                {**werobot, "BENCH_WEROBOT_SESSION": "0",
                 "BENCH_SESSION_FILE": str(workdir / "unused.sqlite3")}),
    ]


def logged_rows(variant: Variant) -> int:
    path = variant.env["HOTLINE_DATABASE_URL"].split("///", 1)[1]
    with sqlite3.connect(path) as conn:
        return conn.execute("SELECT count(*) FROM inbound_messages").fetchone()[0]


def report(all_variants: list[Variant]) -> None:
    print(f"\n{'variant':18}{'req/s@16':>10}{'p50@16':>9}{'p99@16':>9}{'p50@1':>9}")
    for v in all_variants:
        print(f"{v.name:18}{median(v, 'rps'):>10.0f}{median(v, 'p50'):>8.2f}m"
              f"{median(v, 'p99'):>8.2f}m{median(v, 'p50_one'):>8.2f}m")
    by = {v.name: v for v in all_variants}
    ours, aes = median(by["ours"], "rps"), median(by["ours-aes"], "rps")
    default, bare = median(by["werobot-default"], "rps"), median(by["werobot-bare"], "rps")
    checks = [
        ("ours / WeRoBot default >= 2.0", ours / default, ours / default >= 2.0),
        ("ours / WeRoBot bare >= 0.5", ours / bare, ours / bare >= 0.5),
        ("safe mode / plain >= 0.75", aes / ours, aes / ours >= 0.75),
        ("ours p99@16 <= 10 ms", median(by["ours"], "p99"), median(by["ours"], "p99") <= 10),
        ("ours p50@1 <= 1 ms", median(by["ours"], "p50_one"),
         median(by["ours"], "p50_one") <= 1),
    ]
    print()
    for label, value, ok in checks:
        print(f"{'PASS' if ok else 'MISS'}  {label:32} {value:.2f}")
    for name in ("ours", "ours-aes"):
        v = by[name]
        sent = sum(run["requests"] - run["non2xx_all"] for run in v.runs) + 1
        print(f"check {name}: {sent} requests answered 2xx, {logged_rows(v)} rows logged, "
              f"non-2xx {sum(run['non2xx_all'] for run in v.runs)}")


def main(rounds: str | None = None) -> int:
    if shutil.which("wrk") is None:
        print("wrk is needed: apt-get install wrk")
        return 1
    workdir = Path(tempfile.mkdtemp(prefix="hotline-bench-"))
    all_variants = variants(workdir)
    try:
        from bot.migrate import upgrade

        for v in all_variants:
            if v.name.startswith("ours"):
                upgrade(v.env["HOTLINE_DATABASE_URL"])
            start(v, workdir)
            if v.name == "ours" or v.name.startswith("werobot"):
                check_answer(v)
        for round_no in range(int(rounds or 3)):
            for v in all_variants:
                run_round(v, workdir, 1000 + round_no * 10 + all_variants.index(v))
            print(f"round {round_no + 1} done", flush=True)
        report(all_variants)
    finally:
        for v in all_variants:
            stop(v)
        shutil.rmtree(workdir, ignore_errors=True)
    return 0
