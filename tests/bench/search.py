"""Knowledge-base search at scale: answer latency, rebuild time, index and per-worker memory.

Knowledge bases of 1k, 10k and 100k items: the 43 real items plus synthetic ones made of the
real content's own words at their real frequencies (tests/bench/search_corpus.py), so common
words stay common. For each size: the cold index build (CPU time, the tokenizer's term cache
emptied first; median of 3 at 1k and 10k, one at 100k), the RSS the index (and the cache) adds,
then a fixed set of queries (the real items' questions,
paraphrases of them, titles, fact labels, keywords, questions of synthetic items, and questions
that should find nothing) searched once to warm up and then twice more, timed one by one:
p50 and p99 of `Index.search`. The garbage collector is set as in a gunicorn worker
(deploy/gunicorn.conf.py: the index frozen, thresholds 20000/20/20). Then the rebuild a staff
edit causes: 1% of the items edited (a new body and question), the index built again with the
cache the previous build left (median of 3 rounds, each editing another 1%), and at 1k and 10k
whether that index is the same as a cold build of the same items. At 10k the cold build is also
timed in new processes (the tokenizer loaded, nothing cached: what a process start pays).

Then gunicorn with the real app, `-w 1` and `-w 3`, the real content loaded in SQLite: each
worker's private memory (Private_Clean + Private_Dirty of /proc/PID/smaps_rollup) after a few
questions.

Targets (the issue): p99 <= 1 ms at 10k items and sublinear growth; rebuild of 10k items under
2 s (checked for both the rebuild after an edit and the cold build in a new process); each extra
worker under 30 MB of private memory. The machine is shared: latency is also
given as ratios to the 1k figures, which noise moves less. A benchmark reports: main() returns
0 whatever it finds.
"""

from __future__ import annotations

import gc
import os
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from array import array
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

SIZES = (1_000, 10_000, 100_000)
BUILDS = {1_000: 3, 10_000: 3, 100_000: 1}  # cold builds, and rebuilds after an edit
EDITED_SHARE = 0.01  # of the items, edited before each rebuild
NEW_PROCESS_SIZE, NEW_PROCESSES = 10_000, 3  # cold builds timed in new processes
SAME_INDEX_UP_TO = 10_000  # sizes whose rebuilt index is compared with a cold build
TIMED_ROUNDS = 2  # after one warm-up round
WORKER_COUNTS = (1, 3)
REQUESTS_PER_WORKER = 12
ROOT = Path(__file__).resolve().parents[2]
TOKEN, APPID, SECRET = "bench-token", "wxbench000000001", "bench-secret"

OFF_TOPIC = (
    "asdf", "哈哈哈", "今天天气怎么样", "明天会下雨吗", "附近有什么好吃的", "股票怎么买",
    "手机坏了怎么修", "昆明到大理的火车票多少钱", "你是机器人吗", "123456", "足球比赛几点开始",
    "怎么减肥", "推荐一部电影", "离婚要什么手续", "驾照怎么考", "房价会不会跌", "猫为什么吃草",
    "量子计算机原理", "hello world", "周杰伦的新歌", "高考分数线是多少", "怎么做红烧肉",
    "医保卡丢了怎么补", "快递到哪了", "我想买车",
)
PARAPHRASE_PREFIXES = ("请问", "你好，我想问一下", "麻烦问下", "")
PARAPHRASE_SUFFIXES = ("？", "呢", "啊？", "")


@dataclass
class Query:
    text: str
    kind: str  # question, paraphrase, title, label, keyword, synthetic, off-topic
    slug: str | None = None  # the item it should find (None: nothing in particular)


@dataclass
class SizeResult:
    size: int
    stats: dict
    builds_cpu: list[float]
    builds_wall: list[float]
    rss_mb: float
    deep_mb: float
    arrays_mb: float
    times: list[float]  # seconds, every timed search
    cache_mb: float = 0.0
    rebuilds_cpu: list[float] = field(default_factory=list)  # after an edit of EDITED_SHARE
    same_as_cold: bool | None = None  # the rebuilt index equals a cold build (None: unchecked)
    by_kind: dict[str, list[float]] = field(default_factory=dict)
    stages: dict[str, list[float]] = field(default_factory=dict)
    confidence: dict[str, int] = field(default_factory=dict)
    top1_real: float = 0.0
    none_off_topic: float = 0.0
    slowest: list[tuple[float, str]] = field(default_factory=list)
    longest: dict[str, int] = field(default_factory=dict)  # documents per keyword / phrase

    @property
    def p50(self) -> float:
        return percentile(self.times, 50)

    @property
    def p99(self) -> float:
        return percentile(self.times, 99)

    @property
    def build(self) -> float:
        return statistics.median(self.builds_cpu)

    @property
    def rebuild(self) -> float:
        return statistics.median(self.rebuilds_cpu)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


def deep_size(index) -> int:
    """Bytes of what an index holds (postings, documents, phrases), shared objects once; the
    items and the tokenizer left out. Within a few % of tracemalloc, at a fraction of its cost."""
    seen: set[int] = set()
    total = 0
    stack = [index._docs, index._postings, index._phrases, index._keywords, index.years]
    getsizeof = sys.getsizeof
    while stack:
        obj = stack.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        total += getsizeof(obj)
        if isinstance(obj, dict):
            stack.extend(obj.keys())
            stack.extend(obj.values())
        elif isinstance(obj, list | tuple | set | frozenset):
            stack.extend(obj)
        elif hasattr(obj, "__slots__") and not isinstance(obj, str | array):
            stack.extend(getattr(obj, name) for name in obj.__slots__)
    return total


def cache_size(cache) -> int:
    """Bytes of what a TermCache keeps: each item's rows and tuples, the term ids."""
    getsizeof = sys.getsizeof
    total = getsizeof(cache.items) + getsizeof(cache.ids) + getsizeof(cache.terms)
    for key, terms in cache.items.items():
        total += getsizeof(key) + getsizeof(terms) + getsizeof(terms.rows)  # data included
        total += sum(getsizeof(part) for part in (terms.lengths, terms.sizes, terms.phrases,
                                                   terms.keywords))
        total += sum(getsizeof(pair) for pair in terms.phrases + terms.keywords)
    return total


def rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


# ---- queries


def make_queries(catalog, generator) -> list[Query]:
    """The fixed query set: deterministic, the same at every size."""
    import opencc

    rng = random.Random(7)
    to_traditional = opencc.OpenCC("s2t.json")
    queries: list[Query] = []
    real_questions = [(q, item.slug) for item in catalog.items for q in item.questions]
    queries += [Query(q, "question", slug) for q, slug in real_questions]
    # Paraphrases: polite wrappers, traditional characters, a synonym for a word.
    groups = [group for group in catalog.synonyms if len(group) > 1]
    for q, slug in rng.sample(real_questions, min(60, len(real_questions))):
        prefix, suffix = rng.choice(PARAPHRASE_PREFIXES), rng.choice(PARAPHRASE_SUFFIXES)
        queries.append(Query(f"{prefix}{q}{suffix}", "paraphrase", slug))
    for q, slug in rng.sample(real_questions, min(30, len(real_questions))):
        queries.append(Query(to_traditional.convert(q), "paraphrase", slug))
    swapped = 0
    for q, slug in real_questions:
        for group in groups:
            word = next((w for w in group if len(w) > 1 and w in q), None)
            if word is not None:
                other = rng.choice([w for w in group if w != word])
                queries.append(Query(q.replace(word, other, 1), "paraphrase", slug))
                swapped += 1
                break
        if swapped >= 40:
            break
    queries += [Query(item.title, "title", item.slug) for item in catalog.items]
    facts = [(item, fact) for item in catalog.items for fact in item.facts]
    for item, fact in rng.sample(facts, min(40, len(facts))):
        asked = fact.label if fact.number is None else f"{fact.label}是多少"
        if fact.year and rng.random() < 0.3:  # a year the content may not have
            asked = f"{fact.year - 1}年{asked}"
        queries.append(Query(asked, "label", item.slug))
    keywords = sorted({kw for item in catalog.items for kw in item.keywords})
    queries += [Query(kw, "keyword") for kw in rng.sample(keywords, min(30, len(keywords)))]
    from tests.bench.search_corpus import sample_words

    words = generator.words()
    content_words = {w: c for w, c in words.items() if len(w) > 1}
    from collections import Counter

    pairs = sample_words(Counter(content_words), 40, rng)
    queries += [Query(f"{a}{b}", "keyword") for a, b in zip(pairs[::2], pairs[1::2], strict=True)]
    synthetic = generator.synthetic(min(SIZES) - len(catalog.items))
    for item in rng.sample(synthetic, 40):
        if item.questions:
            queries.append(Query(rng.choice(item.questions), "synthetic", item.slug))
    queries += [Query(text, "off-topic") for text in OFF_TOPIC]
    return queries


# ---- one size


def bench_size(size: int, items: list, tokenizer, queries: list[Query]) -> SizeResult:
    from content.normalize import extract_years, normalize_query
    from content.scoring import scored
    from content.search import Index

    gc.collect()
    before = rss_mb()
    cpu_times, wall_times = [], []
    index = None
    for run in range(BUILDS[size]):
        if run:
            gc.collect()
        tokenizer.cache.clear()  # cold: every item tokenized
        started_cpu, started_wall = time.process_time(), time.perf_counter()
        built = Index.build(items, tokenizer)
        cpu_times.append(time.process_time() - started_cpu)
        wall_times.append(time.perf_counter() - started_wall)
        if index is None:
            index = built
            gc.collect()
            added = rss_mb() - before
        del built
    postings = index._postings
    arrays = sum(p.ids.itemsize * len(p.ids) + p.weights.itemsize * len(p.weights)
                 + (0 if p.head is None else 8 * len(p.head[0])) for p in postings.values())

    # As in a gunicorn worker: the index frozen out of the collector, high thresholds.
    thresholds = gc.get_threshold()
    gc.collect()
    gc.freeze()
    gc.set_threshold(20000, 20, 20)
    result = SizeResult(size, index.stats(), cpu_times, wall_times, added,
                        deep_size(index) / 2**20, arrays / 2**20, [],
                        cache_size(tokenizer.cache) / 2**20)
    result.longest = {"keyword": max(map(len, index._keywords.values()), default=0),
                      "phrase": max(map(len, index._phrases.values()), default=0)}
    try:
        order = list(queries)
        rng = random.Random(size)
        for query in order:  # warm-up
            index.search(query.text)
        per_query: dict[str, list[float]] = {}
        clock = time.perf_counter
        for _ in range(TIMED_ROUNDS):
            rng.shuffle(order)
            for query in order:
                started = clock()
                index.search(query.text)
                elapsed = clock() - started
                result.times.append(elapsed)
                result.by_kind.setdefault(query.kind, []).append(elapsed)
                per_query.setdefault(query.text, []).append(elapsed)
        result.slowest = sorted(((min(t), text) for text, t in per_query.items()),
                                reverse=True)[:4]
        # Where the time goes: the stages of a search, timed apart (one more round).
        stages = {"normalize": [], "terms": [], "score": [], "rest": []}
        for query in queries:
            t0 = clock()
            normalized = normalize_query(query.text)
            years = extract_years(query.text)
            t1 = clock()
            terms = index.tokenizer.query_terms(normalized, years) if normalized else {}
            t2 = clock()
            scored(index._postings, terms)
            t3 = clock()
            index.search(query.text)
            t4 = clock()
            stages["normalize"].append(t1 - t0)
            stages["terms"].append(t2 - t1)
            stages["score"].append(t3 - t2)
            stages["rest"].append(max(0.0, (t4 - t3) - (t3 - t0)))
        result.stages = stages
        # Quality at this size, for context: do the real questions still find their item?
        real = [q for q in queries if q.kind == "question"]
        found = 0
        for query in queries:
            answer = index.search(query.text)
            result.confidence[answer.confidence] = result.confidence.get(answer.confidence, 0) + 1
            if query.kind == "question" and answer.hits and answer.hits[0].slug == query.slug:
                found += 1
        result.top1_real = found / len(real)
        off = [q for q in queries if q.kind == "off-topic"]
        result.none_off_topic = sum(index.search(q.text).confidence == "none"
                                    for q in off) / len(off)
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()
        del index
        gc.collect()
    return result


def bench_rebuilds(size: int, items: list, tokenizer, generator) -> tuple[list[float], bool | None]:
    """CPU seconds of rebuilds after editing EDITED_SHARE of the items (each round edits the
    last round's items again, so the cache has exactly that share to tokenize); whether the
    last rebuilt index equals a cold build of the same items."""
    from content.search import Index

    times, current, rebuilt = [], items, None
    for run in range(BUILDS[size]):
        current = generator.edited(current, EDITED_SHARE, seed=size + run)
        rebuilt = None  # the last round's index goes before the next is built
        gc.collect()
        started = time.process_time()
        rebuilt = Index.build(current, tokenizer)
        times.append(time.process_time() - started)
    same = None
    if size <= SAME_INDEX_UP_TO:
        tokenizer.cache.clear()
        same = same_index(rebuilt, Index.build(current, tokenizer))
    return times, same


def same_index(a, b) -> bool:
    """Two indexes with the same documents, phrases, keywords and postings (to the bit)."""
    columns = ("ids", "slugs", "facts", "titles", "years", "lengths")
    if any(getattr(a._docs, name) != getattr(b._docs, name) for name in columns):
        return False
    if (a._phrases, a._keywords) != (b._phrases, b._keywords):
        return False
    if a._postings.keys() != b._postings.keys():
        return False
    return all(p == b._postings[term] for term, p in a._postings.items())


def cold_build_once(size: int) -> float:
    """CPU seconds of one cold build of `size` items in this process (run in a new one)."""
    from content.schema import load_catalog
    from content.search import Index, Tokenizer
    from tests.bench.search_corpus import Generator

    catalog = load_catalog()
    tokenizer = Tokenizer(catalog.dictionary, catalog.synonyms)
    items = Generator(catalog, tokenizer).corpus(size)
    gc.collect()
    started = time.process_time()
    Index.build(items, tokenizer)
    return time.process_time() - started


def cold_builds_in_new_processes(size: int, count: int) -> list[float]:
    times = []
    for _ in range(count):
        done = subprocess.run([sys.executable, "-m", "tests.bench.search", "--cold-build",
                               str(size)], cwd=ROOT, capture_output=True, text=True, check=True,
                              env={**os.environ, "PYTHONPATH": str(ROOT)})
        times.append(float(done.stdout.split()[-1]))
    return times


# ---- gunicorn: private memory per worker


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(entry))
    return sorted(found)


def _memory(pid: int) -> dict[str, float]:
    """Rss, Pss and private (clean + dirty) MB of a process."""
    values = {}
    with open(f"/proc/{pid}/smaps_rollup") as rollup:
        for line in rollup:
            match = re.match(r"(\w+):\s+(\d+) kB", line)
            if match:
                values[match.group(1)] = int(match.group(2)) / 1024
    return {"rss": values.get("Rss", 0.0), "pss": values.get("Pss", 0.0),
            "private": values.get("Private_Clean", 0.0) + values.get("Private_Dirty", 0.0)}


def _ask(port: int, text: str, number: int) -> int:
    import requests

    from bot.wechat.crypto import signature

    timestamp, nonce = str(int(time.time())), f"mem{number}"
    query = (f"/wechat?signature={signature(TOKEN, timestamp, nonce)}&timestamp={timestamp}"
             f"&nonce={nonce}&openid=bench-mem-{number % 7}")
    body = (f"<xml><ToUserName>gh_bench</ToUserName><FromUserName>bench-mem-{number % 7}"
            f"</FromUserName><CreateTime>{timestamp}</CreateTime><MsgType>text</MsgType>"
            f"<Content>{text}</Content><MsgId>{time.time_ns() + number}</MsgId></xml>")
    response = requests.post(f"http://127.0.0.1:{port}{query}", data=body.encode(), timeout=30)
    return response.status_code


def bench_workers(workers: int, questions: list[str]) -> dict:
    from bot.migrate import upgrade

    workdir = Path(tempfile.mkdtemp(prefix="hotline-bench-search-"))
    url = f"sqlite:///{workdir}/hotline.db"
    process = None
    try:
        upgrade(url)
        _load_content(url)
        port = _free_port()
        env = {**os.environ, "HOME": str(workdir), "PYTHONPATH": str(ROOT),
               "HOTLINE_ENV": "test", "WECHAT_TOKEN": TOKEN, "WECHAT_APPID": APPID,
               "WECHAT_SECRET": SECRET, "HOTLINE_TIMESTAMP_WINDOW": str(10**9),
               "HOTLINE_SIMULATOR": "0", "HOTLINE_LOG_LEVEL": "WARNING",
               "HOTLINE_DATABASE_URL": url}
        config = str(ROOT / "deploy" / "gunicorn.conf.py")
        command = [sys.executable, "-m", "gunicorn", "-c", config, "--no-control-socket",
                   "-w", str(workers), "-b", f"127.0.0.1:{port}",
                   "--log-level", "warning", "bot.wsgi:app"]
        process = subprocess.Popen(command, env=env, cwd=ROOT, start_new_session=True)
        deadline = time.time() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"gunicorn -w {workers} exited with {process.returncode}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                if len(_children(process.pid)) >= workers:
                    break
            except OSError:
                pass
            if time.time() > deadline:
                raise RuntimeError(f"gunicorn -w {workers} did not start")
            time.sleep(0.1)
        time.sleep(0.5)
        pids = _children(process.pid)[:workers]
        booted = {pid: _memory(pid) for pid in pids}
        count = REQUESTS_PER_WORKER * workers
        with ThreadPoolExecutor(workers) as pool:  # sync workers: concurrency spreads them
            statuses = list(pool.map(lambda n: _ask(port, questions[n % len(questions)], n),
                                     range(count)))
        time.sleep(0.3)
        after = {pid: _memory(pid) for pid in pids}
        return {"workers": workers, "master": _memory(process.pid), "booted": booted,
                "after": after, "ok": sum(status == 200 for status in statuses), "sent": count}
    finally:
        if process is not None and process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(5)
        shutil.rmtree(workdir, ignore_errors=True)


def _load_content(url: str) -> None:
    """The real content in the database, as `hotline content load` does."""
    from bot.db import make_engine, make_sessionmaker
    from bot.services import content as content_service
    from content.schema import load_catalog

    engine = make_engine(url)
    try:
        with make_sessionmaker(engine).begin() as session:
            content_service.load(session, load_catalog().items)
    finally:
        engine.dispose()


# ---- report


def us(seconds: float) -> str:
    return f"{seconds * 1e6:,.0f}"


def report(results: list[SizeResult], queries: list[Query], generate_s: float,
           new_process: list[float]) -> list:
    kinds = list(dict.fromkeys(q.kind for q in queries))
    counts = ", ".join(f"{kind} {sum(q.kind == kind for q in queries)}" for kind in kinds)
    print(f"\nqueries: {len(queries)} distinct ({counts}); "
          f"{TIMED_ROUNDS} timed rounds after a warm-up; corpus generated in {generate_s:.1f} s")
    print(f"\n{'items':>7} {'docs':>7} {'terms':>9} {'postings':>10} {'cold cpu s':>11} "
          f"{'(wall)':>7} {'1% edit s':>10} {'index MB':>9} {'arrays':>7} {'cache MB':>9} "
          f"{'RSS +MB':>8} {'p50 µs':>8} {'p99 µs':>8} {'max µs':>8}")
    for r in results:
        print(f"{r.size:>7,} {r.stats['docs']:>7,} {r.stats['terms']:>9,} "
              f"{r.stats['postings']:>10,} {r.build:>11.2f} "
              f"{statistics.median(r.builds_wall):>7.2f} {r.rebuild:>10.2f} {r.deep_mb:>9.0f} "
              f"{r.arrays_mb:>7.0f} {r.cache_mb:>9.0f} {r.rss_mb:>8.0f} {us(r.p50):>8} "
              f"{us(r.p99):>8} {us(max(r.times)):>8}")
    print("(cold: the term cache emptied first; 1% edit: the rebuild after editing 1% of the "
          "items, with the cache the build before left; index MB: the index's objects, deep "
          "size; arrays: of it, the postings' arrays; cache MB: the term cache's; RSS +MB: what "
          "the first build added to the process, the cache and garbage the allocator kept "
          "included)")
    for r in results:
        same = {None: "not compared", True: "yes", False: "NO"}[r.same_as_cold]
        print(f"{r.size:>7,}  cold builds {'/'.join(f'{t:.2f}' for t in r.builds_cpu)}   "
              f"rebuilds after a 1% edit {'/'.join(f'{t:.2f}' for t in r.rebuilds_cpu)}   "
              f"rebuilt index same as a cold build: {same}")
    cold = statistics.median(new_process) if new_process else float("nan")
    print(f"cold build of {NEW_PROCESS_SIZE:,} items in a new process (tokenizer loaded, nothing "
          f"cached), CPU s: {'/'.join(f'{t:.2f}' for t in new_process)}, median {cold:.2f}")
    print("\np50 / p99 µs by kind of query:")
    print(f"{'items':>7} " + " ".join(f"{k:>17}" for k in kinds))
    for r in results:
        cells = [f"{us(percentile(r.by_kind[k], 50))}/{us(percentile(r.by_kind[k], 99))}"
                 for k in kinds]
        print(f"{r.size:>7,} " + " ".join(f"{c:>17}" for c in cells))
    print("\nstages, p50 / p99 µs (normalize: normalize_query + extract_years; terms: "
          "Tokenizer.query_terms; score: scoring.scored; rest: ranking, hits, coverage):")
    for r in results:
        cells = [f"{name} {us(percentile(v, 50))}/{us(percentile(v, 99))}"
                 for name, v in r.stages.items()]
        print(f"{r.size:>7,}  " + "   ".join(cells))
    print("\nquality at size: real questions whose own item is hit 1; off-topic answered none; "
          "confidences over all queries")
    for r in results:
        print(f"{r.size:>7,}  top-1 {r.top1_real:.0%}   off-topic none {r.none_off_topic:.0%}   "
              f"{r.confidence}   most documents behind one keyword {r.longest['keyword']:,}, "
              f"one phrase {r.longest['phrase']:,}")
    largest = results[-1]
    print(f"\nslowest queries at {largest.size:,} (best of {TIMED_ROUNDS} µs): "
          + "; ".join(f"{text} {us(t)}" for t, text in largest.slowest))

    small, mid, big = sorted(results, key=lambda r: r.size)  # SIZES: 1k, 10k, 100k
    print("\nratios (noise-resistant):")
    print(f"  p50(10k)/p50(1k) {mid.p50 / small.p50:.2f}   p99(10k)/p50(1k) "
          f"{mid.p99 / small.p50:.2f}   p99(10k)/p99(1k) {mid.p99 / small.p99:.2f}")
    print(f"  p50(100k)/p50(1k) {big.p50 / small.p50:.2f}   p99(100k)/p50(1k) "
          f"{big.p99 / small.p50:.2f}   p99(100k)/p99(1k) {big.p99 / small.p99:.2f}")
    print(f"  cold build(10k)/build(1k) {mid.build / small.build:.1f}   "
          f"build(100k)/build(10k) {big.build / mid.build:.1f}   "
          f"rebuild after a 1% edit / cold build, at 10k {mid.rebuild / mid.build:.2f}")
    return [
        ("p99 <= 1 ms at 10k items", f"{mid.p99 * 1e3:.3f} ms", mid.p99 <= 0.001),
        ("sublinear: p99(100k)/p99(1k) < 10", f"{big.p99 / small.p99:.2f}",
         big.p99 / small.p99 < 10),
        ("rebuild of 10k items after a 1% edit < 2 s (CPU)", f"{mid.rebuild:.2f} s",
         mid.rebuild < 2.0 and mid.same_as_cold is not False),
        ("cold build of 10k items < 2 s (new process, CPU)", f"{cold:.2f} s", cold < 2.0),
    ]


def report_workers(runs: list[dict]) -> list:
    print("\ngunicorn (deploy/gunicorn.conf.py, real content in SQLite), MB per process: "
          "private = Private_Clean + Private_Dirty")
    checks = []
    for run in runs:
        master = run["master"]
        print(f"  -w {run['workers']}: master private {master['private']:.1f} rss "
              f"{master['rss']:.1f}; {run['ok']}/{run['sent']} requests answered 200")
        for pid, mem in run["after"].items():
            boot = run["booted"][pid]
            print(f"    worker {pid}: private {boot['private']:.1f} after boot -> "
                  f"{mem['private']:.1f} after requests (pss {mem['pss']:.1f}, rss "
                  f"{mem['rss']:.1f})")
        worst = max(mem["private"] for mem in run["after"].values())
        checks.append((f"-w {run['workers']}: private per worker < 30 MB", f"{worst:.1f} MB (max)",
                       worst < 30))
    if len(runs) == 2 and runs[1]["workers"] > runs[0]["workers"]:
        def total(run: dict) -> float:  # the whole server: master and workers, by Pss
            return run["master"]["pss"] + sum(mem["pss"] for mem in run["after"].values())

        extra = (total(runs[1]) - total(runs[0])) / (runs[1]["workers"] - runs[0]["workers"])
        print(f"  each extra worker, by the server's total Pss: {extra:.1f} MB "
              f"({total(runs[0]):.0f} MB at -w {runs[0]['workers']}, {total(runs[1]):.0f} MB at "
              f"-w {runs[1]['workers']})")
    return checks


def main() -> int:
    from content.schema import load_catalog
    from content.search import Tokenizer
    from tests.bench.search_corpus import Generator

    started = time.perf_counter()
    catalog = load_catalog()
    tokenizer = Tokenizer(catalog.dictionary, catalog.synonyms)
    generator = Generator(catalog, tokenizer)
    queries = make_queries(catalog, generator)
    new_process = cold_builds_in_new_processes(NEW_PROCESS_SIZE, NEW_PROCESSES)
    print(f"{NEW_PROCESS_SIZE:,} items: cold build in a new process "
          f"{statistics.median(new_process):.2f} s", flush=True)
    results = []
    generate_s = 0.0
    for size in SIZES:
        t0 = time.perf_counter()
        items = generator.corpus(size)
        generate_s += time.perf_counter() - t0
        result = bench_size(size, items, tokenizer, queries)
        result.rebuilds_cpu, result.same_as_cold = bench_rebuilds(size, items, tokenizer,
                                                                  generator)
        tokenizer.cache.clear()
        results.append(result)
        print(f"{size:,} items: cold build {result.build:.2f} s, rebuild after a 1% edit "
              f"{result.rebuild:.2f} s, p50 {us(result.p50)} µs, p99 {us(result.p99)} µs",
              flush=True)
        del items
    generator = None  # the 100k corpus: let it go before gunicorn starts
    gc.collect()
    checks = report(results, queries, generate_s, new_process)
    questions = [q.text for q in queries if q.kind in ("question", "paraphrase")]
    runs = []
    for workers in WORKER_COUNTS:
        try:
            runs.append(bench_workers(workers, questions))
        except Exception as error:  # noqa: BLE001 - report it; the latency figures stand
            print(f"\ngunicorn -w {workers}: {error}")
    if runs:
        checks += report_workers(runs)
    print()
    for label, value, ok in checks:
        print(f"{'PASS' if ok else 'MISS'}  {label:50} {value}")
    print(f"\n(search benchmark: {time.perf_counter() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["--cold-build"]:  # one cold build, in this new process
        print(f"{cold_build_once(int(sys.argv[2])):.4f}")
        sys.exit(0)
    sys.exit(main())
