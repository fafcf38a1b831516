"""The shipped content: loads cleanly, quotes the 2018 report verbatim and completely, adds up."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import pytest

from content.model import CATEGORIES, Catalog, Fact
from content.schema import DATA_DIR, RESERVED_MENU_KEYS, check, load_catalog

SEED_COPY = Path(__file__).parent / "fixtures" / "seed" / "report-2018.txt"
SEED_SHARED = Path(__file__).resolve().parents[2] / "shared" / "seed" / "000_d87599991fd7c1af.txt"


def seed_path() -> Path:
    """The copy in tests/fixtures first (CI's layout may lack ../shared)."""
    return SEED_COPY if SEED_COPY.exists() else SEED_SHARED


def squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


@cache
def catalog() -> Catalog:
    return load_catalog()


@cache
def seed() -> str:
    return squash(seed_path().read_text(encoding="utf-8"))


def facts() -> dict[str, Fact]:
    return {f"{item.slug}#{fact.id}": fact for item in catalog().items for fact in item.facts}


def test_shipped_data_has_no_problems():
    assert check() == []


def test_seed_copy_matches_the_shared_seed():
    if not SEED_SHARED.exists():
        pytest.skip("no ../shared/seed in this checkout")
    assert SEED_COPY.read_bytes() == SEED_SHARED.read_bytes()


def test_every_sentence_is_quoted_verbatim():
    missing = [key for key, fact in facts().items() if squash(fact.sentence) not in seed()]
    assert missing == []


def report_body_sentences() -> list[str]:
    """The report's sentences, without the page furniture and the section headings."""
    text = seed_path().read_text(encoding="utf-8")
    body = text[text.index("一、总体情况"):text.rindex("。") + 1]
    lines = [line for line in body.splitlines()
             if line.strip() and not re.match(r"^[一二三四五六七八九十]+、", line.strip())]
    return [sentence for line in lines for sentence in re.findall(r"[^。]+。?", squash(line))]


def test_every_sentence_of_the_report_is_covered_by_facts():
    quoted = [squash(fact.sentence) for fact in facts().values()]
    uncovered = [s for s in report_body_sentences() if not _covered(s, quoted)]
    assert uncovered == []


def _covered(sentence: str, quoted: list[str]) -> bool:
    """Every character of `sentence` lies inside some quoted fact sentence (or fragment)."""
    marks = [False] * len(sentence)
    for quote in quoted:
        for match in re.finditer(re.escape(quote), sentence):
            marks[match.start():match.end()] = [True] * (match.end() - match.start())
        if quote.find(sentence) >= 0:
            return True
    return all(marks)


def test_every_figure_of_the_report_is_in_some_fact():
    numbers = set(re.findall(r"\d+(?:\.\d+)?", "".join(report_body_sentences())))
    quoted = " ".join(fact.sentence for fact in facts().values())
    assert sorted(n for n in numbers if n not in quoted) == []


def test_every_figure_in_a_value_appears_in_its_sentence():
    for key, fact in facts().items():
        for number in re.findall(r"\d+(?:\.\d+)?", fact.value):
            assert number in fact.sentence, (key, number)


def test_facts_have_sections_and_sane_numbers():
    for key, fact in facts().items():
        assert fact.section, key
        assert fact.number is None or fact.number >= 0, key
        assert bool(fact.unit) == (fact.number is not None), key


DOMAIN_FIGURES = {
    "report-2018-key-areas#website-items": 332,
    "report-2018-key-areas#wechat-items": 2889,
    "report-2018-key-areas#service-followers": 20000,
    "report-2018-key-areas#service-reads": 190000,
    "report-2018-key-areas#hotline-followers": 194000,
    "report-2018-key-areas#hotline-clicks": 6020000,
    "report-2018-key-areas#financial-items": 13,
    "report-2018-key-areas#media-meetings": 11,
    "report-2018-proposals#led": 41,
    "report-2018-proposals#co-handled": 30,
    "report-2018-public-opinion#complaints-answered": 46,
    "report-2018-requests#requests": 2,
    "report-2018-review#reviews": 0,
    "report-2018-public-opinion#opinion-items": 1200,
    "report-2018-public-opinion#alerts": 80,
    "report-2018-public-opinion#weekly-reports": 13,
    "report-2018-public-opinion#monthly-reports": 12,
    "report-2018-public-opinion#special-reports": 10,
    "report-2018-public-opinion#negative-supervised": 68,
    "report-2018-proactive#budget": 276000,
}


def test_figures_from_the_domain_notes():
    known = facts()
    assert {key: known[key].number for key in DOMAIN_FIGURES} == DOMAIN_FIGURES


def test_dates_and_names_are_facts():
    values = {key: fact.value for key, fact in facts().items()}
    expected = {
        "report-2018-overview#publicity-office": "2017年11月17日",
        "report-2018-public-opinion#notice-2017": "2017年2月22日",
        "report-2018-interpretation#director-interview": "黄云波",
        "report-2018-interpretation#deputy-director": "何汝利",
        "report-2018-overview#leader": "李泰山",
        "report-2018-interpretation#households-policy": "6月14日-15日",
        "report-2018-interpretation#exit-press": "9月30日",
        "report-2018-interpretation#reform-40": "11月20日",
    }
    assert {key: text for key, text in expected.items() if text not in values[key]} == {}
    assert "1月31日" in facts()["report-2018-interpretation#director-interview"].sentence


def test_website_parts_add_up():
    website = facts()["report-2018-key-areas#website-items"]
    assert [(p.label, p.value) for p in website.parts] == [
        ("扶贫要闻", 111), ("图片报道", 27), ("州市在线", 101), ("信息公开目录", 26),
        ("外埠快讯", 27), ("调研简报", 28), ("东西协作", 12)]
    assert sum(part.value for part in website.parts) == website.number == 332


def test_every_figure_with_parts_adds_up():
    with_parts = {key: fact for key, fact in facts().items() if fact.parts}
    assert with_parts
    assert {key: sum(p.value for p in fact.parts) for key, fact in with_parts.items()} == \
        {key: fact.number for key, fact in with_parts.items()}


def test_items_are_complete_answers():
    for item in catalog().items:
        assert item.category in CATEGORIES and item.source and item.summary, item.slug
        assert 3 <= len(item.questions) <= 8, item.slug
        assert item.keywords and len(set(item.questions)) == len(item.questions), item.slug


def test_every_category_has_items():
    counts = {name: 0 for name in CATEGORIES}
    for item in catalog().items:
        counts[item.category] += 1
    assert all(count >= 2 for count in counts.values()), counts


def test_written_content_invents_no_contacts_or_links():
    for item in catalog().items:
        text = " ".join([item.title, item.summary, item.body, item.source, item.source_url])
        assert not re.search(r"https?://|www\.|\d{7,}|@", text), item.slug


def test_poverty_line_states_no_2018_value():
    line = next(item for item in catalog().items if item.slug == "criteria-poverty-line")
    assert "2300" in line.body and "2952" in line.body and "2018" not in line.body


def test_first_exited_counties_are_listed():
    counties = ("寻甸、罗平、玉龙、宁洱、云县、牟定、姚安、石屏、"
                "勐海、祥云、宾川、巍山、洱源、鹤庆、芒市")
    item = next(item for item in catalog().items if item.slug == "policy-yunnan-poverty-counties")
    assert counties in item.body and "88" in item.summary


def test_menu_is_within_wechat_limits_and_answered():
    buttons = catalog().menu["button"]
    assert [b["name"] for b in buttons] == ["政策查询", "信息公开", "互动服务"]
    answered = {item.menu_key for item in catalog().items if item.menu_key}
    keys = [sub["key"] for b in buttons for sub in b["sub_button"]]
    assert all(len(b["sub_button"]) <= 5 and len(b["name"].encode()) <= 16 for b in buttons)
    assert len(keys) == len(set(keys)) and set(keys) <= answered | RESERVED_MENU_KEYS
    assert RESERVED_MENU_KEYS <= set(keys) and answered <= set(keys)


def test_vocabulary_sizes():
    assert len(catalog().synonyms) >= 30 and len(catalog().dictionary) >= 150


def test_dictionary_words_are_cut_whole_by_jieba():
    jieba = pytest.importorskip("jieba")
    tokenizer = jieba.Tokenizer()
    tokenizer.load_userdict(str(DATA_DIR / "dictionary.txt"))
    split = [word for word in catalog().dictionary
             if list(tokenizer.cut(word, HMM=False)) != [word]]
    assert split == []
