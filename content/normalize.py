"""Query text as the search compares it: one form for what people type and what the content says.

`normalize_text` is for content (punctuation becomes a clause break); `normalize_query` also
drops polite fillers and punctuation, so "請問，貧困戶認定標準是什麼？" and "贫困户认定标准是什么"
are one query. Chinese numerals become digits only where they are clearly quantities or years
(三百三十二条 → 332条, 二〇一八年 → 2018年, 两万 → 2万); set phrases keep their numerals
(两不愁三保障, 一高一低一无, 五公开, 第一批, 十三五 ...). Everything here is a few regular
expressions and one OpenCC call: a short query takes microseconds.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import opencc

__all__ = ["convert_numerals", "extract_years", "normalize_query", "normalize_text",
           "normalize_texts", "query_form", "to_simplified"]

DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6,
          "七": 7, "八": 8, "九": 9}
SMALL_UNITS = {"十": 10, "百": 100, "千": 1000}
BIG_UNITS = {"万": 10_000, "亿": 100_000_000}
NUMERAL_CHARS = "".join(DIGITS) + "".join(SMALL_UNITS) + "".join(BIG_UNITS)
# Measure words and units after which a numeral is a quantity (一个, 三年, 两项 ...).
MEASURE_CHARS = "条件个次人万元年月日号篇份起名家项户村县乡镇岁天周位批类种所亩块本期届轮%"
MEASURES = frozenset(MEASURE_CHARS)
# Set phrases whose numerals are part of the name: never converted.
PROTECTED = (
    "两不愁三保障", "两不愁", "三保障", "一高一低一无", "一低一无", "五公开", "一把手", "六个精准",
    "五个一批", "十二五", "十三五", "十四五", "一次性", "一起", "一村一品", "一户一策", "一户一档",
    "一村一策", "一县一业", "一人一策", "一事一议", "一家", "一条龙", "一站式", "一线", "一律",
    "四个不摘", "三区三州", "两委", "一肩挑", "一对一", "一年一度", "四议两公开", "两公开", "三农",
    "万一", "千万", "百万", "一带一路", "一卡通", "一折通", "一网通办", "一门式",
    "一号文件", "一次办", "最多跑一次", "三公经费", "三公", "两会", "两学一做", "一岗双责",
    "同一", "统一", "唯一", "这一块", "那一块",
)
# Runs that may be numbers: two numerals or more, or one before a measure word.
NUMERAL_RUN = re.compile(f"[{NUMERAL_CHARS}]{{2,}}|[{NUMERAL_CHARS}](?=[{MEASURE_CHARS}])")
PROTECTED_RE = re.compile("|".join(sorted(map(re.escape, PROTECTED), key=len, reverse=True)))
PROTECTED_REACH = max(map(len, PROTECTED))
# 百分之三 → 3%, 百分之六十 → 60%, 百分之2.5 → 2.5% (the content writes percentages as digits).
PERCENT = re.compile(f"百分之([0-9]+(?:\\.[0-9]+)?|[{NUMERAL_CHARS}]+(?:点[{''.join(DIGITS)}]+)?)")
# 27点6万 → 27.6万: a spoken decimal point before a unit (not 10点30分, a time).
SPOKEN_POINT = re.compile("(?<![0-9.])([0-9]+)点([0-9]+)(?=[万亿元%])")

# Punctuation and symbols (anything neither a letter, a digit nor %) break clauses; a point
# between digits (27.6万) is kept.
PUNCTUATION = re.compile(r"[^\w.%．％\n]+|_+")
LONE_POINT = re.compile(r"(?<![0-9])\.|\.(?![0-9])")
SPACE_BETWEEN = re.compile(r"(?<=[^a-z0-9.%]) | (?=[^a-z0-9.%])")

# Politeness and "I want to ask" around the question; a clause's leading fillers and trailing
# particles go, and a few are dropped anywhere. 请问 after 申/邀/提 is part of another word.
LEADING_FILLERS = re.compile(
    "^(?:你好|您好|嗨|哈喽|请问|麻烦(?:你|您)?|请(?=问|告诉|帮|给)|我?(?:想|要)(?:问问|问一下|问下|问"
    "|知道|了解一下|了解|咨询一下|查一下|查询|查)|问一下|问下|打听一下|查一下|查查|看一下"
    "|(?:能不能|能否|可不可以|可以)?请?(?:帮我|帮忙|给我)(?:查一下|查查|查询|查|看看|看一下)?"
    "|(?:能不能|能否|可不可以|可以)?请?告诉我(?:一下)?)+"
)
ANYWHERE_FILLERS = re.compile("(?<![申邀提聘])请问|谢谢(?:你|您|了)?|你好|您好|一下(?!子)")
TRAILING_PARTICLES = re.compile("(?:吗|呢|吧|啊|呀|哈|啦|嘛|哦|喔|呐|谢谢(?:你|您|了)?)+$")

# A four-digit year, unless it is a quantity (2000人, 2000元).
YEAR_4 = re.compile(
    r"(?<![0-9.])((?:19|20)[0-9]{2})(?![0-9]|\.[0-9]|[条件个次人万元月日号篇份起名家项户%])"
)
# A two-digit year (18年) only at the start, after a non-Chinese character or after a word that
# introduces a time (在18年, 查18年): "扶贫30年" and "近18年" are durations.
YEAR_2 = re.compile(
    r"(?:^|(?<=[^0-9.\u4e00-\u9fff])|(?<=[在是于从到至和与及或查问看找要]))"
    r"([0-9]{2})年(?!来|前|后|间|内|多|左右|以上|以下|以内)"
)


@lru_cache(maxsize=1)
def _converter() -> opencc.OpenCC:
    return opencc.OpenCC("t2s.json")


def to_simplified(text: str) -> str:
    """Traditional characters to simplified (OpenCC t2s, loaded once per process)."""
    return _converter().convert(text)


def normalize_text(text: str) -> str:
    """Content or query text: NFKC, simplified, lower case, numerals as digits where they are
    quantities, punctuation as single spaces between clauses."""
    return normalize_texts([text])[0]


def normalize_texts(texts: list[str]) -> list[str]:
    """`normalize_text` of each text, done in one pass over them all (for indexing).

    Punctuation goes first: Chinese text is then usually NFKC already (the full-width comma
    was what made it not), and the costlier normalization is skipped.
    """
    text = PUNCTUATION.sub(" ", "\n".join(text.replace("\n", " ") for text in texts))
    if not text.isascii() and not unicodedata.is_normalized("NFKC", text):
        text = PUNCTUATION.sub(" ", unicodedata.normalize("NFKC", text))
    text = convert_numerals(to_simplified(text).lower())
    if "." in text:
        text = LONE_POINT.sub(" ", text)
    return [" ".join(part.split()) for part in text.split("\n")]


def normalize_query(text: str) -> str:
    """A query as the index compares it: `normalize_text` without fillers and punctuation.

    Spaces stay only between two Latin words or numbers ("wifi 2018"); a query that is nothing
    but fillers ("你好") normalizes to "".
    """
    return query_form(normalize_text(text))


def query_form(normalized: str) -> str:
    """The rest of `normalize_query` for a text `normalize_text` already did."""
    clauses = [_strip_fillers(clause) for clause in normalized.split(" ")]
    return SPACE_BETWEEN.sub("", " ".join(clause for clause in clauses if clause))


def _strip_fillers(clause: str) -> str:
    clause = LEADING_FILLERS.sub("", clause)
    clause = ANYWHERE_FILLERS.sub("", clause)
    return TRAILING_PARTICLES.sub("", clause)


def convert_numerals(text: str) -> str:
    """Chinese numerals that are quantities or years, as Arabic digits (see the module doc)."""

    def replace(match: re.Match[str]) -> str:
        start, end = match.span()
        if start and text[start - 1] == "第":
            return match[0]  # an ordinal: 第一批, 第十五条
        digits = _numeral(match[0], text[end : end + 1] in MEASURES)
        if digits != match[0] and _protected(text, start, end):
            return match[0]
        return digits

    if "百分之" in text:
        text = PERCENT.sub(_percent, text)
    text = NUMERAL_RUN.sub(replace, text)
    return SPOKEN_POINT.sub(r"\1.\2", text) if "点" in text else text


def _percent(match: re.Match[str]) -> str:
    """百分之三 → 3%; the text unchanged when the numeral is not a number (百分之百 stays)."""
    whole, _, decimals = match[1].partition("点")
    if not whole.isascii():
        value = DIGITS.get(whole) if len(whole) == 1 else _value(whole)
        if value is None:
            return match[0]
        whole = str(value)
    if decimals:
        whole += "." + "".join(str(DIGITS[char]) for char in decimals)
    return f"{whole}%"


def _protected(text: str, start: int, end: int) -> bool:
    """Whether text[start:end] is inside a set phrase (两不愁三保障, 一把手 ...)."""
    low = max(0, start - PROTECTED_REACH)
    window = text[low : end + PROTECTED_REACH]
    return any(low + found.start() < end and start < low + found.end()
               for found in PROTECTED_RE.finditer(window))


def _numeral(run: str, measure: bool) -> str:
    """The run in digits, or the run unchanged when it is not clearly a number."""
    if len(run) == 4 and all(char in DIGITS for char in run) and run[0] in "一二":
        return "".join(str(DIGITS[char]) for char in run)  # 二〇一八 → 2018
    if len(run) == 1:
        return str(DIGITS.get(run, 10)) if measure and run not in "百千万亿" else run
    if run[0] in "百千万亿" or all(char in DIGITS for char in run):
        return run  # 千万 (by all means), 三五 (three or five): not clearly a quantity
    value = _value(run)
    if value is None:
        return run
    for unit, size in (("亿", 100_000_000), ("万", 10_000)):
        if run.endswith(unit) and value % size == 0:
            return f"{value // size}{unit}"  # 两万 → 2万, as the content writes 19.4万
    return str(value)


def _value(run: str) -> int | None:
    """三百三十二 → 332, 十五 → 15, 一千零五 → 1005, 两万 → 20000, 三百五 → 350; None when
    malformed (三五, 万一, 十百)."""
    total = section = 0
    digit: int | None = None
    small, big, last_unit = 10_000, 10**12, 0
    for char in run:
        if char in DIGITS:
            if digit:
                return None  # two digits in a row: 三五, 一二百
            digit = DIGITS[char]
            last_unit = 0 if digit == 0 else last_unit
        elif char in SMALL_UNITS:
            size = SMALL_UNITS[char]
            if size >= small or digit == 0:
                return None
            section += (1 if digit is None else digit) * size  # a leading 十 is 10
            digit, small, last_unit = None, size, size
        else:
            size = BIG_UNITS[char]
            section += digit or 0
            if size >= big or section == 0:
                return None
            total += section * size
            section, digit, small, big, last_unit = 0, None, 10_000, size, size
    if digit and last_unit >= 100:
        digit *= last_unit // 10  # 三百五 is 350, 一万二 is 12000
    return total + section + (digit or 0)


def extract_years(text: str) -> set[int]:
    """The calendar years a text names: 2018, 2018年, 二〇一八年, 18年 (when it reads as a year).

    Relative years (去年, 今年, 明年) are not resolved; "18年来" and "近18年" are durations.
    """
    text = convert_numerals(unicodedata.normalize("NFKC", text or ""))
    years = {int(match[1]) for match in YEAR_4.finditer(text)}
    years.update(2000 + int(match[1]) for match in YEAR_2.finditer(text)
                 if 10 <= int(match[1]) <= 35)
    return years
