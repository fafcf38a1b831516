"""content.search, the query side: spoken padding, what coverage counts, near-tied facts,
the asked year (see tests/test_content_search.py for the basics)."""

from __future__ import annotations

import pytest

from content import search
from content.model import Fact, Item
from content.search import FIGURE, Index, Tokenizer

SYNONYMS = (
    ("建档立卡户", "贫困户", "贫苦户"),
    ("政务公开", "信息公开"),
    ("补正", "补正材料"),
)
DICTIONARY = ("贫困发生率", "一般地区", "新闻发言人", "舆情监测")


def item(slug: str, title: str, **fields) -> Item:
    return Item(slug=slug, category=fields.pop("category", "report"), title=title,
                body=fields.pop("body", title), source="测试", **fields)


CATALOG = (
    item("request", "申请政府信息公开要写哪些内容", category="policy",
         summary="写明姓名、身份证明、联系方式和所需信息的描述。",
         keywords=("申请内容", "身份证明"),
         body="申请内容不明确的，行政机关自收到申请之日起7个工作日内一次性告知需要补正的事项；"
              "无正当理由逾期不补正的，视为放弃申请。"),
    item("county-exit", "贫困县退出标准", category="criteria",
         summary="贫困发生率降至2%以下，西部地区降至3%以下。", keywords=("贫困县", "贫困发生率")),
    item("counties", "云南的贫困县", category="policy", year=2018,
         summary="云南有88个贫困县。", keywords=("贫困县",),
         facts=(Fact(id="first-batch", label="云南省首批退出的贫困县个数", value="15个",
                     sentence="云南省首批15个贫困县退出。", year=2018, keywords=("首批",)),)),
    item("spokesman", "新闻发言人制度", year=2018, summary="新闻发言人由办领导班子担任。",
         keywords=("新闻发言人",),
         facts=(Fact(id="first", label="第一新闻发言人", value="办党组书记、主任",
                     sentence="第一新闻发言人由办党组书记、主任担任。"),
                Fact(id="second", label="第二新闻发言人", value="分管新闻宣传的办党组成员",
                     sentence="第二新闻发言人由分管新闻宣传工作的办党组成员担任。"))),
    item("opinion", "2018年舆情工作", year=2018, summary="开展舆情监测，监测到舆情超过1200条。",
         keywords=("舆情",),
         facts=(Fact(id="partner", label="舆情监测合作单位", value="中经社",
                     sentence="委托中经社开展舆情监测。", keywords=("舆情监测",)),
                Fact(id="items", label="监测到的舆情条数", value="超过1200条",
                     sentence="监测到舆情超过1200条。", year=2018, keywords=("舆情",)))),
    item("budget", "政务公开工作经费", year=2018, summary="2018年政务公开工作经费投入27.6万元。",
         keywords=("经费",),
         facts=(Fact(id="amount", label="政务公开工作经费金额", value="27.6万元",
                     sentence="共计投入27.6万元。", year=2018, keywords=("经费", "投入")),)),
    item("team-funds", "88个贫困县总队长工作经费", category="funding", year=2018,
         summary="下达88个贫困县总队长工作经费。", keywords=("贫困县", "工作经费")),
    item("exit-press", "首批贫困县退出新闻发布会", year=2018,
         summary="9月30日举行首批贫困县退出新闻发布会。", keywords=("贫困县", "发布会")),
    item("annual-report", "政府信息公开工作年度报告", category="policy",
         summary="每年1月31日前公布上一年度的年度报告。", keywords=("年度报告",)),
    item("highlights", "2018年政府信息公开工作年度报告要点", year=2018,
         summary="2018年网站发布信息332条。", keywords=("年度报告",)),
)


@pytest.fixture(scope="module")
def tokenizer() -> Tokenizer:
    return Tokenizer(DICTIONARY, SYNONYMS)


@pytest.fixture(scope="module")
def index(tokenizer) -> Index:
    return Index.build(CATALOG, tokenizer)


# ---- the tokenizer sheds spoken padding


@pytest.mark.parametrize(("query", "kept", "dropped"), [
    ("在哪能看到扶贫办公开出来的东西", {"公开"}, {"公开出来"}),
    ("年报一般啥时候出", set(), {"啥时候"}),
    ("涵盖哪些方面", {"涵盖"}, {"哪些方面", "方面"}),
    ("公开了几条财务信息", {"条数", "财务"}, {"几条"}),
    ("舆情这一块做了啥", {"舆情"}, {"这一块", "一块"}),
    ("那会儿的舆情监测", {"舆情监测"}, {"那会儿", "会儿"}),  # nor the parts of a stop word
])
def test_padding_around_a_word_is_not_a_topic(tokenizer, query, kept, dropped):
    terms = tokenizer.query_terms(query)
    assert kept <= {term for term, weight in terms.items() if weight == 1.0}, terms
    assert not dropped & set(terms), terms


def test_domain_words_keep_their_padding_like_parts(tokenizer):
    assert tokenizer.query_terms("一般地区的标准")["一般地区"] == 1.0


def test_which_ones_lists_and_does_not_count(tokenizer):
    assert "项数" in tokenizer.query_terms("公开了几项")
    assert "项数" not in tokenizer.query_terms("具体是哪几项")


# ---- what coverage counts


def test_a_word_said_only_in_a_body_counts_as_covered(index):
    # 逾期 and 补正 are in the body only (bodies are indexed by bigrams)
    result = index.search("申请逾期不补正会怎样")
    assert (result.confidence, result.hits[0].doc_id) == ("answer", "request"), result


def test_a_count_for_a_place_the_content_never_names_is_none(index):
    assert index.search("贵州有多少个贫困县").confidence == "none"
    result = index.search("云南首批退出了几个贫困县")
    assert result.confidence == "answer" and result.hits[0].doc_id == "counties#first-batch"


def test_a_misspelling_listed_as_a_synonym_finds_the_item(tokenizer):
    assert tokenizer.query_terms("贫苦户的标准")["建档立卡户"] == 1.0


# ---- near-tied facts of one item


def test_near_tied_facts_are_offered_not_asserted(index):
    result = index.search("新闻发言人是谁")
    assert result.confidence == "choose", result
    assert {hit.doc_id for hit in result.hits} >= {"spokesman#first", "spokesman#second"}


def test_the_fact_covering_the_whole_question_settles_a_near_tie(index):
    result = index.search("监测到多少条舆情")
    assert (result.confidence, result.hits[0].doc_id) == ("answer", "opinion#items"), result


# ---- figures and years


def test_haoduo_qian_asks_for_a_figure(index):
    # 好多钱 is 多少钱 in south-western Mandarin; 好多人 stays "many people"
    assert FIGURE.search("经费花了好多钱") and FIGURE.search("发了好多条")
    assert not FIGURE.search("好多人关心经费")
    assert index.search("政务公开工作经费花了好多钱").hits[0].doc_id == "budget#amount"


def test_the_asked_year_prefers_its_document_to_a_year_neutral_one(index):
    assert index.search("2018年年度报告").hits[0].slug == "highlights"
    assert index.search("年度报告每年什么时候公布").hits[0].slug == "annual-report"


def test_a_percentage_in_words_matches_the_digits(index):
    result = index.search("西部地区贫困发生率降到百分之三以下能退出吗")
    assert result.hits and result.hits[0].slug == "county-exit", result


# ---- figure questions: what counts as one, facts first, "now"


@pytest.mark.parametrize("query", ["协办了30件是", "经费是不是27.6万", "网站发了332条对"])
def test_a_figure_to_confirm_asks_for_a_figure(query):
    assert FIGURE.search(query)


@pytest.mark.parametrize("query", ["专栏下面分了哪几块", "2个公众号发的信息",
                                   "贫困发生率2.5%够不够"])
def test_lists_and_things_counted_in_passing_ask_for_no_figure(query):
    assert not FIGURE.search(query)


@pytest.fixture(scope="module")
def budget_index(tokenizer) -> Index:
    """The report's fact, and a page that states the same figure in its summary."""
    page = item("budget-page", "政务信息公开经费", category="funding", year=2018,
                summary="2018年政务信息公开工作经费共计投入27.6万元。", keywords=("信息公开经费",))
    return Index.build((*CATALOG, page), tokenizer)


def test_a_figure_question_prefers_the_quoted_figure(budget_index, monkeypatch):
    result = budget_index.search("政务公开经费是不是27.6万")
    assert [hit.doc_id for hit in result.hits] == ["budget#amount", "budget-page"], result
    assert result.confidence == "choose"  # a preference, no evidence that the fact leads
    monkeypatch.setattr(search, "FIGURE_FACT_BOOST", 1.0)
    assert budget_index.search("政务公开经费是不是27.6万").hits[0].doc_id == "budget-page"


def test_a_figure_question_needs_its_own_share_of_words(index, monkeypatch):
    monkeypatch.setattr(search, "FIGURE_COVERAGE", 1.01)
    assert index.search("监测到多少条舆情").confidence == "none"
    assert index.search("舆情监测合作单位").confidence == "answer"  # no figure asked


def test_a_number_the_answer_lacks_is_no_missing_topic(index, monkeypatch):
    monkeypatch.setattr(search, "FIGURE_COVERAGE", 0.99)
    assert index.search("监测到多少条舆情").confidence == "answer"
    result = index.search("监测到2000条舆情了吗")  # answered with the figure there is
    assert (result.confidence, result.hits[0].doc_id) == ("answer", "opinion#items"), result


def test_a_figure_asked_now_is_offered_not_asserted(index):
    result = index.search("贫困县退出标准现在是多少")
    assert (result.confidence, result.hits[0].doc_id) == ("choose", "county-exit"), result
    result = index.search("现在首批退出了几个贫困县")  # the content's count is of 2018
    assert (result.confidence, result.reason) == ("none", "year"), result
    assert index.search("贫困县退出标准是多少").confidence == "answer"
