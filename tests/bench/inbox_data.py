"""A million realistic cases for the inbox benchmark (tests/bench/inbox.py), and their loading.

Three years of intake ending on the build day, ~900 a day, numbered per day as the service
numbers them: classes at the office's proportions, states that follow age (old cases closed,
a backlog stuck open and overdue, recent ones still open), 24 departments of very different
sizes with their staff, deadlines on the working-day calendar, and what subscribers wrote,
put together from realistic phrases: common topics (危房改造 in about one case in ten), a
place in one of 30 counties and ~2,400 villages (a village name is a rare word), amounts,
durations. Deterministic for a seed.

Loading: rows go in at revision 0010 (SQLite: executemany; PostgreSQL: COPY), then the
migrations to head run over them, so the search index of 0011 is built from existing rows as
it is in a real upgrade.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import random
from collections.abc import Iterator
from functools import cache

from bot.services import case_flow as flow
from bot.services.privacy import PersonalData
from bot.services.workdays import is_working_day

YEARS = 3
CLASS_WEIGHTS = {"咨询": 45, "求助": 15, "投诉": 20, "举报": 5, "意见建议": 10, "依申请公开": 5}
DEPARTMENTS = (
    "规划财务处", "开发指导处", "社会扶贫处", "考核评估处", "政策法规处", "综合处", "信息中心",
    "产业发展处", "易地搬迁办", "教育资助中心", "医疗保障协调组", "住房安全办", "就业帮扶处",
    "金融扶贫办", "基础设施处", "生态扶贫办", "东西部协作处", "定点帮扶处", "监督检查室",
    "宣传教育处", "机关党委", "人事处", "档案室", "法律顾问室")
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉萍红建国志文斌海燕"
COUNTIES = (
    "镇雄县", "会泽县", "宣威市", "彝良县", "威信县", "永善县", "大关县", "盐津县", "绥江县",
    "巧家县", "鲁甸县", "昭阳区", "寻甸县", "禄劝县", "东川区", "武定县", "永仁县", "大姚县",
    "姚安县", "南华县", "双柏县", "元谋县", "牟定县", "广南县", "富宁县", "西畴县", "麻栗坡县",
    "马关县", "丘北县", "砚山县")
TOWN_SYLLABLES = "大小上下新老石龙凤马牛羊黑白红青金银河山坪坝沟岩林田"
VILLAGE_ENDINGS = ("村", "寨", "坪村", "沟村", "湾村", "塘村", "坝村", "营村")
TOPICS = (  # (topic, weight): how often subscribers write about it
    ("危房改造", 110), ("低保", 90), ("易地扶贫搬迁", 70), ("产业扶贫", 60), ("小额信贷", 45),
    ("教育资助", 50), ("医疗救助", 55), ("公益性岗位", 35), ("建档立卡", 60), ("饮水安全", 30),
    ("道路硬化", 30), ("光伏扶贫", 12), ("雨露计划", 15), ("生态护林员", 14), ("残疾人补贴", 25),
    ("养老保险", 30), ("临时救助", 20), ("农村电网改造", 8), ("扶贫资金", 40), ("防返贫监测", 18),
    ("以工代赈", 9), ("消费扶贫", 7), ("就业补贴", 25), ("贫困户识别", 22))
RELATIONS = ("我家", "我父亲", "我母亲", "我爷爷", "我们组", "邻居家", "我姐姐家", "我们村")
OPENINGS = ("您好，", "你好，", "领导好，", "请问，", "", "", "我想反映一下，", "麻烦问一下，")
TEMPLATES = (
    "{opening}{relation}在{place}，{topic}的补助申请了{months}个月还没有到账，村干部说要等乡里审批，请帮忙问一下。",
    "{opening}{place}的{topic}名额是怎么评的？{relation}条件比别人差，去年没有评上，希望有关部门核实。",
    "{opening}反映{place}{topic}项目的问题：说好的{money}元到现在只发了一半，不知道钱去哪里了。",
    "{opening}{relation}是建档立卡户，想了解{topic}政策，需要准备哪些材料，到哪里办理？",
    "{opening}我要举报{place}有人在{topic}中优亲厚友，把名额给了不符合条件的亲戚。",
    "{opening}{place}{topic}工程{months}个月了还没完工，施工队已经撤走，群众意见很大。",
    "{opening}建议{topic}的办理流程再简化一些，{relation}跑了{times}趟乡政府都没办下来。",
    "{opening}申请公开{place}{year}年度{topic}资金的分配名单和金额。",
    "{opening}{relation}因病致贫，医药费花了{money}元，{topic}能报销多少？",
    "{opening}{place}的{topic}已经办好了，感谢工作人员，但是后续的{topic2}什么时候落实？",
    "{opening}孩子在外地读书，{topic}的钱一直没有收到，{relation}打电话问了{times}次都说在走程序。",
    "{opening}{relation}搬到安置点以后没有工作，{topic}和{topic2}能不能一起申请？",
)
CLOSINGS = (
    "", "", "", "希望尽快给个答复。", "我的电话已经留了，请工作人员联系我。", "谢谢！",
    "之前打过12345也没有解决。", "村里很多户都是这个情况。", "请领导重视，调查清楚。",
    "家里还有两个孩子在上学，老人常年吃药，实在困难。", "乡里说要县里批，县里说要乡里报。")


class Generator:
    """Rows of `cases` (in column order COLUMNS), in id order, deterministic for a seed."""

    COLUMNS = ("id", "number", "account", "openid", "case_class", "state", "description",
               "source_key", "content_hash", "contact_name_enc", "contact_phone_enc",
               "confidential", "disclosure", "department", "assignee", "received_at",
               "deadline", "extended_days", "correction_requested_at", "first_reply_at",
               "answered_at", "closed_at", "rating", "rating_comment", "rated_at", "overdue",
               "reminded_at", "updated_at")

    def __init__(self, total: int, end: dt.date, secret_key: str, seed: int = 5) -> None:
        self.total, self.end, self.rng = total, end, random.Random(seed)
        rng = self.rng
        self.villages = sorted({rng.choice(TOWN_SYLLABLES) + rng.choice(TOWN_SYLLABLES)
                                + rng.choice(VILLAGE_ENDINGS) for _ in range(3000)})
        self.towns = [rng.choice(TOWN_SYLLABLES) + rng.choice(TOWN_SYLLABLES) + "镇"
                      for _ in range(120)]
        self.staff = {d: [rng.choice(SURNAMES) + "".join(rng.choices(GIVEN, k=rng.randint(1, 2)))
                          for _ in range(rng.randint(3, 12))] for d in DEPARTMENTS}
        self.department_weights = [1 / (rank + 2) ** 0.8 for rank in range(len(DEPARTMENTS))]
        vault = PersonalData(secret_key)
        self.names = [vault.seal(rng.choice(SURNAMES) + rng.choice(GIVEN)) for _ in range(200)]
        self.phones = [vault.seal(f"1{rng.randint(3, 9)}{rng.randint(0, 10**9 - 1):09d}")
                       for _ in range(200)]
        self.topics, self.topic_weights = zip(*TOPICS, strict=True)

    def description(self) -> str:
        rng = self.rng
        topic, topic2 = rng.choices(self.topics, self.topic_weights, k=2)
        place = rng.choice(COUNTIES) + rng.choice(self.towns) + rng.choice(self.villages)
        return rng.choice(TEMPLATES).format(
            opening=rng.choice(OPENINGS), relation=rng.choice(RELATIONS), place=place,
            topic=topic, topic2=topic2, months=rng.randint(2, 18), times=rng.randint(2, 9),
            money=rng.choice((800, 1200, 3000, 5000, 12000, 25000)),
            year=self.end.year - rng.randint(0, 3)) + rng.choice(CLOSINGS)

    def rows(self) -> Iterator[tuple]:
        rng, start = self.rng, self.end - dt.timedelta(days=365 * YEARS)
        seconds = (self.end - start).days * 86400
        moments = sorted(rng.randrange(seconds) for _ in range(self.total))
        classes, class_weights = zip(*CLASS_WEIGHTS.items(), strict=True)
        sequence, last_day = 0, None
        for case_id, offset in enumerate(moments, start=1):
            received = dt.datetime.combine(start, dt.time()) + dt.timedelta(seconds=offset)
            day = received.date()
            sequence = sequence + 1 if day == last_day else 1
            last_day = day
            case_class = rng.choices(classes, class_weights)[0]
            yield self._row(case_id, flow.case_number(day, sequence), case_class, received)

    def _row(self, case_id: int, number: str, case_class: str, received: dt.datetime) -> tuple:
        rng = self.rng
        deadline = _deadline(case_class, received.date())
        state, answered, closed = self._fate(received, deadline)
        department = "" if state == flow.NEW else rng.choices(DEPARTMENTS,
                                                              self.department_weights)[0]
        assignee = rng.choice(self.staff[department]) if department and rng.random() < 0.8 \
            else ""
        rating = rng.choice(flow.RATINGS[:3] * 5 + flow.RATINGS[3:]) \
            if closed is not None and rng.random() < 0.7 else ""
        late = (answered.date() if answered else self.end) > deadline
        description = self.description()
        disclosure = {"applicant_type": rng.choice(("natural", "legal"))} \
            if case_class == flow.DISCLOSURE else {}
        touched = closed or answered or received
        return (case_id, number, "default", f"oBench{rng.randrange(300_000):06d}", case_class,
                state, description, None,
                hashlib.sha256(f"{case_id}{description}".encode()).hexdigest(),
                rng.choice(self.names), rng.choice(self.phones) if rng.random() < 0.7 else "",
                rng.random() < 0.05, json.dumps(disclosure), department, assignee, received,
                deadline, 0, None, answered, answered, closed, rating,
                "" if not rating else rng.choice(("", "办得很快", "还可以", "没有解决问题")),
                closed if rating else None, late and state != flow.WITHDRAWN, None, touched)

    def _fate(self, received: dt.datetime, deadline: dt.date):
        """(state, answered_at, closed_at) as of the end day."""
        rng, end = self.rng, dt.datetime.combine(self.end, dt.time())
        roll = rng.random()
        if roll < 0.03:
            return flow.WITHDRAWN, None, None
        if roll < 0.035:  # the backlog: never answered, open and overdue for months
            return (flow.NEW if rng.random() < 0.2 else flow.HANDLING), None, None
        allowed = (deadline - received.date()).days + 1
        answered = received + dt.timedelta(days=rng.uniform(0.2, allowed * 1.15))
        if answered > end:
            return (flow.NEW if answered - end < dt.timedelta(days=1) and rng.random() < 0.5
                    else flow.HANDLING), None, None
        closed = answered + dt.timedelta(days=rng.uniform(1, 10))
        if closed > end:
            return flow.ANSWERED, answered, None
        return flow.CLOSED, answered, closed


@cache
def _deadline(case_class: str, received: dt.date) -> dt.date:
    """bot.services.workdays.add_working_days, with the calendar's answers cached."""
    day, counted = received, 0
    while counted < flow.DEFAULT_DEADLINES[case_class]:
        day += dt.timedelta(days=1)
        counted += _working(day)
    return day


@cache
def _working(day: dt.date) -> bool:
    return is_working_day(day)


# ---- loading


def load_sqlite(path: str, generator: Generator, batch: int = 20_000) -> None:
    """Rows into an SQLite database at revision 0010 (SQLAlchemy's storage formats)."""
    import sqlite3

    def sqlite_value(value):
        if isinstance(value, dt.datetime):
            return value.strftime("%Y-%m-%d %H:%M:%S.%f")
        if isinstance(value, dt.date):
            return value.isoformat()
        return value

    columns = ", ".join(Generator.COLUMNS)
    marks = ", ".join("?" * len(Generator.COLUMNS))
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=OFF")
        conn.execute("PRAGMA cache_size=-1000000")  # 1 GB: the random content_hash index
        conn.execute("BEGIN")
        chunk = []
        for row in generator.rows():
            chunk.append(tuple(sqlite_value(v) for v in row))
            if len(chunk) >= batch:
                conn.executemany(f"INSERT INTO cases ({columns}) VALUES ({marks})", chunk)
                chunk.clear()
        conn.executemany(f"INSERT INTO cases ({columns}) VALUES ({marks})", chunk)
        conn.execute("COMMIT")
    finally:
        conn.close()


def load_postgresql(url: str, generator: Generator) -> None:
    """Rows into a PostgreSQL database at revision 0010 with COPY."""
    import psycopg

    columns = ", ".join(Generator.COLUMNS)
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as conn:
        with conn.cursor() as cursor:
            with cursor.copy(f"COPY cases ({columns}) FROM STDIN") as copy:
                for row in generator.rows():
                    copy.write_row(row)
            cursor.execute("SELECT setval(pg_get_serial_sequence('cases', 'id'), "
                           "(SELECT max(id) FROM cases))")
