"""The shipped content: loads cleanly, quotes the report verbatim, and its figures add up."""

from __future__ import annotations

import re
from pathlib import Path

from content.model import CATEGORIES
from content.schema import check, load_catalog

SEED = Path(__file__).parent / "fixtures" / "seed" / "report-2018.txt"


def squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def facts():
    return {f"{item.slug}#{fact.id}": fact for item in load_catalog().items for fact in item.facts}


def test_shipped_data_has_no_problems():
    assert check() == []
    assert all(item.category in CATEGORIES and item.source for item in load_catalog().items)


def test_every_sentence_is_quoted_verbatim():
    seed = squash(SEED.read_text(encoding="utf-8"))
    missing = [key for key, fact in facts().items() if squash(fact.sentence) not in seed]
    assert missing == []


def test_every_figure_appears_in_its_sentence():
    for key, fact in facts().items():
        for number in re.findall(r"\d+(?:\.\d+)?", fact.value):
            assert number in fact.sentence, (key, number)


def test_report_figures_from_the_domain_notes():
    expected = {
        "report-2018-key-areas#website-items": 332, "report-2018-key-areas#wechat-items": 2889,
        "report-2018-key-areas#hotline-followers": 194000,
        "report-2018-key-areas#hotline-clicks": 6020000,
        "report-2018-key-areas#financial-items": 13, "report-2018-key-areas#media-meetings": 11,
        "report-2018-proposals#led": 41, "report-2018-proposals#co-handled": 30,
        "report-2018-public-opinion#complaints-answered": 46,
        "report-2018-requests#requests": 2, "report-2018-requests#reviews": 0,
        "report-2018-public-opinion#opinion-items": 1200,
        "report-2018-public-opinion#alerts": 80,
        "report-2018-public-opinion#negative-supervised": 68,
        "report-2018-proactive#budget": 276000,
    }
    known = facts()
    assert {key: known[key].number for key in expected} == expected


def test_website_parts_add_up():
    website = facts()["report-2018-key-areas#website-items"]
    assert sum(part.value for part in website.parts) == website.number == 332
    assert len(website.parts) == 7
