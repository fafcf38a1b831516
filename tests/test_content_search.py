"""content.search: the right item (or fact) for a question, and how sure that is."""

from __future__ import annotations

import random
import statistics
import time

import pytest

from content.model import Fact, Item
from content.search import Index, SearchResult, Tokenizer

SYNONYMS = (
    ("建档立卡户", "贫困户", "建档户", "建卡户", "建档立卡贫困户"),
    ("退出", "摘帽", "脱贫摘帽", "出列"),
    ("贫困县退出", "贫困县摘帽", "县摘帽"),
    ("认定", "识别", "评定", "评上"),
    ("认定标准", "识别标准", "评定标准"),
    ("门户网站", "网站", "官网"),
    ("公众号", "微信公众号", "服务号"),
    ("扶贫标准", "贫困线", "贫困标准"),
    ("依申请公开", "申请公开", "信息公开申请"),
    ("留言", "反映问题"),
    ("建议提案", "人大建议和政协提案"),
)
DICTIONARY = ("两不愁三保障", "一高一低一无", "建档立卡", "贫困发生率", "民主评议", "云南扶贫热线",
              "人均纯收入", "新闻发言人", "舆情月报")


def item(slug: str, title: str, **fields) -> Item:
    return Item(slug=slug, category=fields.pop("category", "criteria"), title=title,
                body=fields.pop("body", title), source="测试", **fields)


CATALOG = (
    item("household-standard", "贫困户的识别标准",
         summary="家庭年人均纯收入低于国家扶贫标准，且没有实现两不愁三保障的农村家庭。",
         keywords=("识别标准", "两不愁三保障", "人均纯收入"),
         questions=("怎样才算贫困户", "什么样的家庭能评上贫困户"),
         body="以户为单位，主要看家庭年人均纯收入，同时看吃穿、义务教育、基本医疗和住房安全。"),
    item("household-procedure", "贫困户的认定程序",
         summary="农户申请、村民小组提名、民主评议、两次公示、乡镇审核、县级审定后公告。",
         keywords=("认定程序", "民主评议", "公示"),
         questions=("贫困户怎么申请", "认定要经过哪些步骤"),
         body="一申请，二评议，三公示，四审核，五审定。"),
    item("village-standard", "贫困村的认定标准（一高一低一无）",
         summary="贫困发生率高、农民人均纯收入低、无集体经济收入。",
         keywords=("贫困村", "一高一低一无", "贫困发生率"), questions=("什么样的村是贫困村",)),
    item("county-exit", "贫困县退出（摘帽）标准",
         summary="贫困发生率降到3%以下（西部地区），由省级审核、国家评估检查后批准退出。",
         keywords=("贫困县退出", "贫困发生率"), questions=("贫困县怎样才能摘帽",)),
    item("poverty-line", "国家农村贫困标准",
         summary="农民人均纯收入2300元（2010年不变价），每年按物价调整。",
         keywords=("扶贫标准", "贫困线"), questions=("贫困线是多少",)),
    item("report-web", "2018年网站和微信公众号信息发布", category="report", year=2018,
         summary="2018年网站发布扶贫信息332条，公众号发布信息2889条。",
         keywords=("网站", "公众号", "信息发布"), questions=("网站发了多少条信息",),
         body="省扶贫办门户网站和“云南扶贫热线”微信公众号是信息发布的主要渠道。",
         facts=(
             Fact(id="website-items", label="省扶贫办网站发布扶贫信息条数", value="332条",
                  sentence="2018年，在省扶贫办网站发布扶贫信息332条。", year=2018,
                  number=332, unit="条", keywords=("网站", "扶贫信息")),
             Fact(id="hotline-followers", label="“云南扶贫热线”微信公众号订阅人数",
                  value="19.4万", sentence="“云南扶贫热线”订阅人数达19.4万。", year=2018,
                  keywords=("订阅", "粉丝", "关注")),
         )),
    item("report-proposals", "2018年建议提案办理情况", category="report", year=2018,
         summary="主办人大建议和政协提案41件，协办30件，办理结果在门户网站公开。",
         keywords=("建议提案", "主办", "协办"), questions=("建议提案的办理结果在哪里看",),
         facts=(
             Fact(id="led", label="主办人大建议和政协提案件数", value="41件",
                  sentence="主办完成人大建议和政协提案41件。", year=2018, keywords=("主办",)),
             Fact(id="co-handled", label="协办人大建议和政协提案件数", value="30件",
                  sentence="协办人大建议和政协提案30件。", year=2018, keywords=("协办",)),
         )),
    item("report-opinion", "2018年政务舆情回应", category="report", year=2018,
         summary="监测到相关舆情超过1200条，形成舆情月报12篇。",
         keywords=("舆情", "舆情监测"), questions=("舆情是谁在监测",),
         facts=(
             Fact(id="opinion-items", label="监测到云南扶贫相关舆情条数", value="超过1200条",
                  sentence="监测到云南扶贫相关舆情超过1200条。", year=2018),
             Fact(id="monthly-reports", label="舆情月报篇数", value="12篇",
                  sentence="形成舆情月报12篇。", year=2018, keywords=("月报",)),
         )),
    item("spokesman", "省扶贫办新闻发言人制度", category="report", year=2018,
         summary="新闻发言人由办领导班子担任，第一新闻发言人是办党组书记、主任。",
         keywords=("新闻发言人",), questions=("新闻发言人是谁",),
         facts=(Fact(id="first", label="省扶贫办第一新闻发言人", value="办党组书记、主任",
                     sentence="第一新闻发言人由办党组书记、主任担任。"),)),
    item("leave-message", "怎么留言咨询、投诉", category="faq",
         summary="直接发文字说明情况，我们会在3个工作日内答复。",
         keywords=("留言", "投诉", "咨询"), questions=("怎么投诉",)),
    item("disclosure-deadline", "政府信息公开申请多久答复", category="policy",
         summary="能当场答复的当场答复；不能当场答复的，自收到申请之日起15个工作日内答复。",
         keywords=("依申请公开", "答复期限")),
)


@pytest.fixture(scope="module")
def tokenizer() -> Tokenizer:
    return Tokenizer(DICTIONARY, SYNONYMS)


@pytest.fixture(scope="module")
def index(tokenizer) -> Index:
    return Index.build(CATALOG, tokenizer)


def answer(index: Index, query: str) -> str:
    result = index.search(query)
    assert result.confidence == "answer", (query, result)
    return result.hits[0].doc_id


# ---- Tokenizer


def test_synonym_phrases_are_one_token_mapped_to_the_group_head(tokenizer):
    for word in ("贫困户", "建档立卡贫困户", "建卡户"):
        assert tokenizer.query_terms(f"{word}的识别标准")["建档立卡户"] == 1.0
    assert "认定标准" in tokenizer.query_terms("识别标准")
    assert tokenizer.query_terms("贫困县摘帽")["贫困县退出"] == 1.0
    assert "退出" in tokenizer.document_terms("贫困县退出 摘帽")


def test_stop_words_are_dropped_and_bigrams_are_weaker(tokenizer):
    terms = tokenizer.query_terms("贫困户的标准是什么")
    assert not {"的", "是", "什么", "#什么", "#的标"} & set(terms)
    assert terms["#标准"] < terms["标准"] and "#困户" in terms


def test_years_are_not_search_terms_but_other_numbers_are(tokenizer):
    terms = tokenizer.query_terms("2018年332条", years={2018})
    assert "2018" not in terms and "332" in terms


def test_how_many_asks_for_a_count(tokenizer):
    assert "件数" in tokenizer.query_terms("主办了多少件")
    assert "篇数" in tokenizer.query_terms("月报有几篇")


def test_the_jieba_instance_is_private(tokenizer):
    import jieba

    assert tokenizer._jieba is not jieba.dt
    assert "一高一低一无" not in jieba.dt.FREQ or not jieba.dt.initialized


# ---- Index


def test_stats_count_items_facts_terms_and_postings(index):
    stats = index.stats()
    assert stats["docs"] == len(CATALOG) + sum(len(entry.facts) for entry in CATALOG)
    assert 0 < stats["terms"] < stats["postings"]


def test_lookup(index):
    assert index.lookup("poverty-line")[0].slug == "poverty-line"
    found, fact = index.lookup("report-web#website-items")
    assert found.slug == "report-web" and fact.value == "332条"
    with pytest.raises(KeyError):
        index.lookup("nothing")


def test_exact_title_is_an_answer(index):
    result = index.search("贫困户的识别标准")
    assert (result.confidence, result.exact, result.hits[0].slug) == (
        "answer", True, "household-standard")


def test_exact_question_after_normalization_is_an_answer(index):
    result = index.search("请问，贫困线是多少？")
    assert result.exact and result.hits[0].doc_id == "poverty-line"


def offered_first(index, query: str) -> str:
    """The first thing the subscriber sees: the answer, or the first numbered choice (a
    close call between two items is offered, not guessed: LEAD_RATIO)."""
    result = index.search(query)
    assert result.confidence in ("answer", "choose"), (query, result)
    return result.hits[0].doc_id


def test_colloquial_question_finds_the_item(index):
    # 评上 is both the standard and the procedure: offered as choices, the standard first
    assert offered_first(index, "请问我家要怎样才能评上贫困户呀？") == "household-standard"
    assert answer(index, "贫困户要经过哪些程序认定") == "household-procedure"
    assert answer(index, "村里集体经济没有收入算不算贫困村") == "village-standard"


def test_a_figure_question_gets_the_fact(index):
    assert answer(index, "2018年网站发了多少条信息") == "report-web#website-items"
    assert answer(index, "扶贫热线公众号有多少人关注") == "report-web#hotline-followers"
    assert answer(index, "舆情月报有几篇") == "report-opinion#monthly-reports"
    assert answer(index, "主办了多少件建议提案") == "report-proposals#led"


def test_other_questions_get_the_item_not_its_fact(index):
    assert answer(index, "2018年建议提案办理情况怎么样") == "report-proposals"
    assert answer(index, "网站和公众号信息发布") == "report-web"


def test_ambiguous_query_offers_a_choice_of_distinct_items(index):
    result = index.search("贫困户")
    assert result.confidence == "choose"
    slugs = [hit.slug for hit in result.hits]
    assert 2 <= len(slugs) <= 3 and len(set(slugs)) == len(slugs)
    assert {"household-standard", "household-procedure"} <= set(slugs)


@pytest.mark.parametrize("query", ["asdf qwer", "今天天气怎么样", "哈哈哈哈", "你好", "？？？", "",
                                   "我想申请低保怎么办"])
def test_gibberish_and_unknown_topics_are_none(index, query):
    result = index.search(query)
    assert result.confidence == "none" and result.reason == ""


def test_a_year_the_content_has_no_figure_for_is_none_with_reason_year(index):
    queries = ("2019年网站发布了多少条信息", "二〇一九年舆情月报有几篇", "2016年主办了多少件提案")
    for query in queries:
        result = index.search(query)
        assert (result.confidence, result.reason) == ("none", "year"), (query, result)
        assert result.years and result.years.isdisjoint({2018})
    result = index.search("2019年网站发布了多少条信息")
    assert result.hits[0].doc_id == "report-web#website-items"  # what there is, for the reply


def test_the_asked_year_or_none_keeps_the_answer(index):
    assert answer(index, "18年网站发布了多少条信息") == "report-web#website-items"
    result = index.search("2018年网站发布了多少条信息")
    assert result.years == {2018} and result.normalized == "2018年网站发布了多少条信息"


def test_year_neutral_items_answer_any_year(index):
    assert answer(index, "2019年贫困县摘帽标准") == "county-exit"
    assert answer(index, "2010年贫困线是多少") == "poverty-line"


def test_a_figure_of_a_year_its_summary_does_not_name_is_none(index):
    # the poverty line's summary states the 2010 figure; 2020's is not in the content
    result = index.search("2020年贫困线是多少")
    assert (result.confidence, result.reason) == ("none", "year"), result
    assert result.hits[0].doc_id == "poverty-line"  # what there is, for the reply


def test_traditional_and_typo_variants_find_the_item(index):
    assert answer(index, "貧困戶的識別標準") == "household-standard"
    assert index.search("贫困户的识别标住").hits[0].slug == "household-standard"
    assert index.search("一高一底一无").hits[0].slug == "village-standard"


def test_synonyms_find_the_same_item(index):
    assert answer(index, "建档立卡户的识别标准") == "household-standard"
    assert offered_first(index, "建卡户的认定标准") == "household-standard"
    assert answer(index, "贫困县摘帽标准") == "county-exit"
    assert answer(index, "贫困县退出要什么条件") == "county-exit"
    assert answer(index, "官网发了多少条信息") == "report-web#website-items"


def test_an_item_keyword_boosts_its_item(index):
    assert answer(index, "答复期限") == "disclosure-deadline"
    assert answer(index, "投诉") == "leave-message"


def test_an_empty_index_answers_none(tokenizer):
    result = Index.build([], tokenizer).search("贫困户")
    assert isinstance(result, SearchResult) and result.confidence == "none" and not result.hits


# ---- scale


def synthetic_catalog(count: int, seed: int = 7) -> list[Item]:
    """`count` items made of the small catalog's words, Zipf-distributed, with place names."""
    rng = random.Random(seed)
    words = sorted({word for group in SYNONYMS for word in group} | set(DICTIONARY)
                   | {word for entry in CATALOG for word in entry.keywords})
    words += [word + suffix for word in words[:40] for suffix in ("政策", "资金", "名单", "办法")]
    weights = [1 / rank for rank in range(1, len(words) + 1)]
    places = "昆明曲靖玉溪保山昭通丽江普洱临沧楚雄红河文山大理德宏怒江迪庆镇雄彝良会泽宣威"

    def pick(n: int) -> list[str]:
        return rng.choices(words, weights, k=n)

    def place() -> str:
        return "".join(rng.sample(places, 2))

    items = []
    for number in range(count):
        where, title = place(), pick(3)
        facts = tuple(
            Fact(id=f"f{k}", label=f"{where}{pick(1)[0]}{unit}数",
                 value=f"{rng.randint(1, 999)}{unit}",
                 sentence=f"{where}{''.join(pick(3))}共{rng.randint(1, 999)}{unit}。",
                 year=rng.choice((None, 2017, 2018)), keywords=tuple(pick(1)))
            for k, unit in enumerate(rng.sample("条件个次人篇", 2)))
        items.append(Item(
            slug=f"item-{number}", category="faq", title=where + "".join(title), source="合成",
            summary="，".join(pick(5)) + "。", keywords=tuple(pick(3)),
            questions=(f"{title[0]}{title[1]}怎么办", f"{where}{title[2]}是多少"),
            body="，".join(place() + word for word in pick(12)) + "。", facts=facts,
            year=rng.choice((None, 2018))))
    return items


QUERIES = ("贫困户识别标准是什么", "2018年网站发了多少条信息", "昆明贫困发生率是多少",
           "摘帽以后怎么办", "镇雄建档立卡户名单", "怎么留言投诉", "新闻发言人是谁", "asdf",
           "贫困户", "舆情月报有几篇", "貧困戶認定標準", "一高一低一无政策")


@pytest.mark.parametrize("count", [1000, 10_000])
def test_build_and_search_at_scale(tokenizer, count):
    items = synthetic_catalog(count)
    started = time.process_time()  # CPU time: other processes share the machine
    index = Index.build(items, tokenizer)
    built = time.process_time() - started
    for query in QUERIES:
        index.search(query)
    times = []
    for _ in range(5):
        for query in QUERIES:
            started = time.perf_counter()
            index.search(query)
            times.append(time.perf_counter() - started)
    times.sort()
    median, p99 = statistics.median(times), times[int(len(times) * 0.99)]
    print(f"\n{count} items: build {built:.2f} s, {index.stats()}; search median "
          f"{median * 1e6:.0f} µs, p99 {p99 * 1e6:.0f} µs")
    assert built < max(1.0, 6.0 * count / 10_000)  # target 2 s at 10k; generous: shared machine
    assert median < 0.001


# ---- the real content (content/data), once it loads


@pytest.fixture(scope="module")
def real_index() -> Index:
    schema = pytest.importorskip("content.schema")
    catalog = schema.load_catalog()
    return Index.build(catalog.items, Tokenizer(catalog.dictionary, catalog.synonyms))


@pytest.mark.parametrize(
    ("query", "doc_id"),
    [
        ("贫困户的识别标准", "criteria-household-standard"),
        ("一高一低一无", "criteria-poverty-village"),
        ("貧困線是多少", "criteria-poverty-line"),
        ("2018年网站发布了多少条信息", "report-2018-key-areas#website-items"),
        ("舆情月报有几篇", "report-2018-public-opinion#monthly-reports"),
        ("有没有行政复议", "report-2018-review"),
        ("怎么留言", "faq-leave-message"),
        ("信息公开申请多久答复", "policy-disclosure-deadline"),
    ],
)
def test_real_content_answers_obvious_questions(real_index, query, doc_id):
    result = real_index.search(query)
    assert (result.confidence, result.hits[0].doc_id) == ("answer", doc_id), result


def test_real_content_knows_its_years(real_index):
    assert 2018 in real_index.years
    result = real_index.search("2019年网站发布了多少信息")
    assert (result.confidence, result.reason) == ("none", "year")
    # the poverty line is stated for 2010 (base) and 2016 only
    result = real_index.search("2019年的贫困线是多少")
    assert (result.confidence, result.reason) == ("none", "year")
    assert real_index.search("2016年的贫困线是多少钱").hits[0].slug == "criteria-poverty-line"
    assert real_index.search("今天天气怎么样").confidence == "none"
