"""Ranked retrieval over the knowledge base: items and their facts, BM25 over an inverted index.

Documents are items (doc id ``slug``) and facts (``slug#fact``). A query is cut by jieba
(precise mode, plus the sub-words of its long words); short content fields (titles, labels,
keywords, questions, summaries, values) are cut in "full" mode, every dictionary word they
contain, found with jieba's prefix dictionary and no routing, so indexing stays cheap. Words map
to their synonym group's first word. Character bigrams of titles, questions, labels and keywords
are a second, low-weight signal, so typos and odd segmentations still find things; the long
fields (bodies, source sentences) are indexed by bigrams alone. BM25 weights are computed at
build time; a search adds up the postings of its own terms only, and of a very common term only
its HEAD_POSTINGS heaviest.
"""

from __future__ import annotations

import gc
import heapq
import math
import re
import tempfile
from array import array
from bisect import bisect_left
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from functools import cache
from operator import neg
from typing import Literal

import jieba

from content.indexing import Docs, Postings, Scheme, build
from content.lexicon import Lexicon
from content.model import Fact, Item
from content.normalize import extract_years, normalize_query, normalize_texts
from content.terms import EXACT, KEYWORD, LONG, MIXED, SHORT, Field, TermCache

# Field weights: a term counts this much per occurrence in the field.
TITLE_WEIGHT = 3.0  # an item's title, a fact's label
KEYWORD_WEIGHT = 2.5  # an item's or a fact's keywords
QUESTION_WEIGHT = 2.0  # an item's typical questions
SUMMARY_WEIGHT = 1.0  # an item's summary, a fact's value
SENTENCE_WEIGHT = 0.7  # a fact's source sentence (bigrams only)
BODY_WEIGHT = 0.4  # an item's body (bigrams only)
# Query-side weights.
SUBWORD_WEIGHT = 0.5  # 贫困 inside 贫困户退出
GRAM_WEIGHT = 0.3  # a character bigram
# BM25: mild length normalisation, so neither long items nor short facts win by length alone.
K1, B = 1.2, 0.4
# At scale: a term with more postings only adds its HEAD_POSTINGS heaviest (a bigram its
# GRAM_HEAD_POSTINGS); the RESCORE best documents found that way are then scored exactly.
HEAD_POSTINGS = 128
GRAM_HEAD_POSTINGS = 32
RESCORE = 12
CANDIDATES = 60  # documents considered when grouping hits by item

# Confidence (see Index.search).
MIN_SCORE = 3.0  # the best hit's score must reach this ...
MIN_COVERAGE = 0.45  # ... and match this share of the query's words (idf-weighted)
LEAD_RATIO = 1.5  # "answer" when the best item scores this much more than the next
CHOOSE_RATIO = 0.6  # "choose" lists items scoring at least this share of the best
EXACT_BOOST = 2.0  # a query equal to a title, question or label (or item keyword, see search)
FACT_SHARE = 0.3  # a figure question takes the item's best fact if it scores this share ...
ITEM_SHARE = 1.5  # ... any other question takes the item if it scores this share of the fact
YEAR_BOOST = 1.2  # after the year guard, a document of the asked year over a year-neutral one
SIBLING_RATIO = 0.9  # facts of one item scoring this share of the best are a near tie
YEAR_SURVIVOR_RATIO = 0.8  # after the year guard, survivors weaker than this mean "none"
FIGURE_COVERAGE = 0.5  # a figure question's answer must match this share of its words
FIGURE_FACT_BOOST = 1.25  # a figure question prefers a quoted figure (a fact) to an item

COUNTED = "条件个次人篇份起项户村县位"
FIGURE = re.compile("多少|(?<!哪)几|数量|数目|人数|条数|次数|件数|个数|篇数|份数|金额"  # 哪几 lists
                    "|多大|多高|多长|多久"
                    "|哪天|哪一天|哪年|日期|什么时候|何时|是谁|谁|叫啥|叫什么|啥名|什么名"
                    "|好多钱|好多[条件次篇份起项]"  # 好多 is 多少 in south-western Mandarin
                    # a figure to confirm: 三十件是吧, 是不是27.6万 (not 2个公众号, 3%)
                    "|(?<![0-9.])(?:[0-9]{2,}|[0-9]+\\.[0-9]+)(?:[万亿]|[条件个次人篇份起项名家元])")
NOW = re.compile("现在|目前|如今|眼下|当前")  # a figure "now": not the content's years
COUNT_QUESTION = re.compile(f"(?:多少|(?<!哪)几)([{COUNTED}])")  # 多少件: 件数; 哪几项 lists
COUNT_TERMS = frozenset(f"{measure}数" for measure in COUNTED)  # what is asked, not a topic
STOP_WORDS = frozenset(  # words of two characters or more (single characters never are terms)
    "我们 你们 他们 我家 这个 那个 这些 那些 哪个 哪些 哪里 哪儿 什么 什么样 怎么 怎么样 怎样 "
    "如何 为什么 是否 是不是 有没有 没有 能不能 可以 可不可以 多少 请问 知道 一下 时候 什么时候 "
    "哪天 需要 应该 一个 怎么办 才能 才算 算不算 怎样才能 怎么才能 如何才能 要不要 能否 可能 "
    "就是 还是 已经 一些 "
    # spoken question words and fillers (咋、啥 and the like), and places said in passing
    "到底 究竟 意思 啥意思 什么意思 啥样 咋样 咋个 咋办 咋弄 怎么弄 怎么搞 一般 具体 最后 "
    "大伙 大家 人家 俺家 俺们 咱们 给我 讲讲 说说 看看 问问 想问 了解 有些 这种 那种 这样 "
    "那样 的话 或者 行不行 对不对 够不够 合不合 能不 县里 村里 家里 乡里 镇里 上头 上面 "
    "这里 那里 出来 一直 现在 不算 不是 自己 里头 一共 总共 好多 这块 为啥 有人 不会 直接 "
    "看到 之内 一回 东西 同样 干嘛 别人 一步 几个 哪几 哪几个 告诉 晓得 是从 "
    "上个月 前几天 几天 今年 去年 方面 哪些方面 啥时候 起来 下来 上去 下去 出去 村子 村庄 "
    # generic verbs of asking for conditions (要达到啥条件, 须满足哪些条件)
    "达到 满足 符合 具备 不要 何种 哪种 "
    # when and which part, said in passing (16年那会儿, 舆情这一块)
    "那会儿 那会 那时 那时候 当时 这会儿 这一块 那一块 一块".split()
)
STOP_GRAMS = frozenset(word[i : i + 2] for word in STOP_WORDS for i in range(len(word) - 1))
HARD_STOP_CHARS = frozenset("的了吗呢吧啊呀么")
STOP_CHARS = HARD_STOP_CHARS | frozenset(
    "是在和与及或我你您他她它们这那哪谁什怎几多少个有没啥咋要想能会"
)
ASKING = "啥咋哪几"  # a two-character word starting with one is a question word (几条, 咋查)
FILLER_CHARS = HARD_STOP_CHARS | frozenset("啥咋哪几个些")  # what a word may shed (see _core)
CJK_RUN = re.compile("[\u4e00-\u9fff]+")
CLAUSE_BREAK = re.compile(r"[\s,，。.!！?？;；、~～…]+")
ALNUM = re.compile(r"[a-z0-9]+(?:\.[0-9]+)?")
GRAM = "#"  # bigram terms are "#xy", never a word
DOMAIN_FREQ = 3000  # jieba frequency of domain words, as in content/data/dictionary.txt

Confidence = Literal["answer", "choose", "none"]


@cache
def _jieba(cache_dir: str) -> jieba.Tokenizer:
    """jieba's default dictionary, loaded once per process into a private instance."""
    tokenizer = jieba.Tokenizer()
    tokenizer.tmp_dir = cache_dir
    tokenizer.cache_file = "fupin-hotline-jieba.cache"
    tokenizer.initialize()
    return tokenizer


class Tokenizer:
    """Text to search terms: jieba + the domain dictionary + synonyms, stop words dropped.

    Every Tokenizer of a process shares one private jieba instance (loading takes about a
    second); domain words are added to it and never removed, which only ever joins more words.
    """

    def __init__(self, dictionary: Iterable[str] = (), synonyms: Iterable[tuple[str, ...]] = (),
                 cache_dir: str | None = None) -> None:
        self._jieba = _jieba(cache_dir or tempfile.gettempdir())
        self._freq: dict[str, int] = self._jieba.FREQ
        self.cache = TermCache()  # content items' terms, for the next build (content/terms.py)
        self.canonical: dict[str, str] = {}
        words = set(normalize_texts([*dictionary, *(f"{m}数" for m in COUNTED)]))
        for group in synonyms:
            forms = normalize_texts(list(group))
            for form in forms:
                self.canonical.setdefault(form, forms[0])
            words.update(forms)
        self.domain = frozenset(words)  # the dictionary's words and every synonym
        with self._jieba.lock:
            for word in sorted(words):
                if len(word) > 1 and " " not in word and self._freq.get(word, 0) < DOMAIN_FREQ:
                    suggested = self._jieba.suggest_freq(word, False)
                    self._jieba.add_word(word, max(DOMAIN_FREQ, suggested))

    @property
    def dictionary_version(self) -> tuple[int, int]:
        """Changes whenever a word joins the shared jieba dictionary (any Tokenizer adding
        one changes what `document_terms` finds): jieba adds each word's count to its total."""
        return len(self._freq), self._jieba.total

    def lexicon(self) -> Lexicon:
        """`document_terms(text, grams=False)` for many texts at once, with this dictionary."""
        return Lexicon(self._freq, STOP_WORDS, self.canonical, ALNUM)

    def query_terms(self, normalized: str, years: Iterable[int] = ()) -> dict[str, float]:
        """A normalized query's terms and weights: words, sub-words, bigrams; years left out."""
        terms = dict.fromkeys(_grams(normalized), GRAM_WEIGHT)
        for run in CJK_RUN.findall(normalized):
            for cut in self._jieba.cut(run, HMM=False):
                word = self._core(cut)
                if word in STOP_WORDS:
                    continue  # nor its parts (那会儿: not 会儿)
                for sub in self._affixes(word):
                    terms.setdefault(sub, SUBWORD_WEIGHT)
                if len(word) > 1 and word not in STOP_WORDS:
                    terms[self.canonical.get(word, word)] = 1.0
        years = set(years) | {year - 2000 for year in years}
        terms.update((token, 1.0) for token in ALNUM.findall(normalized)
                     if not (token.isdigit() and int(token) in years))
        terms.update((f"{measure}数", 1.0) for measure in COUNT_QUESTION.findall(normalized))
        return terms

    def document_terms(self, normalized: str, grams: bool = True) -> list[str]:
        """Every word a normalized content text contains, and its bigrams if `grams`.

        One text at a time; Index.build finds the same for all its texts at once
        (`lexicon`, content/lexicon.py), and tests hold the two to each other."""
        terms: list[str] = ALNUM.findall(normalized)
        for run in CJK_RUN.findall(normalized):
            terms += self._contained(run)
        return terms + _all_grams(normalized) if grams else terms

    def _contained(self, run: str) -> list[str]:
        """The dictionary words of two or more characters inside `run`, canonical."""
        freq, canonical, found = self._freq, self.canonical, []
        for start in range(len(run) - 1):
            end = start + 2
            while end <= len(run) and (count := freq.get(word := run[start:end])) is not None:
                if count and word not in STOP_WORDS:
                    found.append(canonical.get(word, word))
                end += 1
        return found

    def _core(self, word: str) -> str:
        """A general word without the filler it starts or ends with (公开出来: 公开, 啥时候:
        nothing, 哪些方面: 方面), so spoken padding is not taken for a topic; domain words
        stay whole (一般地区)."""
        if word in self.domain or word in STOP_WORDS or (len(word) < 3 and word[0] not in ASKING):
            return word
        cuts = range(1, len(word))
        start = max((cut for cut in cuts if _filler(word[:cut])), default=0)
        end = min((cut for cut in cuts if _filler(word[cut:])), default=len(word))
        return word[start:end] if start < end else ""

    def _affixes(self, word: str) -> Iterator[str]:
        """The dictionary words a long word starts or ends with (贫困户退出: 贫困, 贫困户, 退出),
        canonical; not those inside it (认定标准: not 定标)."""
        for size in range(2, len(word)):
            for part in (word[:size], word[-size:]):
                if self._freq.get(part) and part not in STOP_WORDS:
                    yield self.canonical.get(part, part)


def _filler(part: str) -> bool:
    """A stop word, or question and measure characters only (啥, 几个, 哪)."""
    return part in STOP_WORDS or all(char in FILLER_CHARS for char in part)


def _grams(normalized: str) -> list[str]:
    """The bigrams of a query's Chinese runs, but those of stop words and characters."""
    return [GRAM + run[i : i + 2] for run in CJK_RUN.findall(normalized)
            for i in range(len(run) - 1)
            if not (run[i] in HARD_STOP_CHARS or run[i + 1] in HARD_STOP_CHARS
                    or (run[i] in STOP_CHARS and run[i + 1] in STOP_CHARS)
                    or run[i : i + 2] in STOP_GRAMS)]


def _all_grams(normalized: str) -> list[str]:
    """Every bigram of a content text's Chinese runs (cheaper than `_grams`: no filtering)."""
    return [GRAM + run[i : i + 2] for run in CJK_RUN.findall(normalized)
            for i in range(len(run) - 1)]


@dataclass(frozen=True, slots=True)
class Hit:
    doc_id: str  # "slug" or "slug#fact"
    slug: str
    fact_id: str | None
    score: float  # the best score of the item or any of its facts
    title: str  # the item's title or the fact's label


@dataclass(frozen=True, slots=True)
class SearchResult:
    hits: list[Hit]
    confidence: Confidence
    normalized: str
    years: set[int]
    reason: str = ""  # "year": the content has the asked figure only for other years
    exact: bool = False  # the query equals a title, question or fact label


class Index:
    """The search index of one catalog; build it once (before workers fork), search often."""

    def __init__(self, tokenizer: Tokenizer, items: dict[str, Item], docs: Docs,
                 postings: dict[str, Postings], phrases: dict[str, tuple[int, ...]],
                 keywords: dict[str, tuple[int, ...]]) -> None:
        self.tokenizer = tokenizer
        self.items = items
        self._docs = docs
        self._postings = postings
        self._phrases = phrases  # normalized titles, questions, labels -> documents
        self._keywords = keywords  # normalized item keywords -> item documents
        self.years = frozenset(year for years in docs.years for year in years)
        self._stated: dict[str, frozenset[int]] = {}  # years named in summaries (_years_of)

    @classmethod
    def build(cls, items: Iterable[Item], tokenizer: Tokenizer) -> Index:
        """Index every item and every fact; BM25 weights are computed here, once.

        content/indexing.py builds; the tokenizer's TermCache keeps each item's terms, so a
        rebuild after an edit tokenizes only the items whose text changed. The cyclic garbage
        collector pauses meanwhile: the index makes many long-lived objects and no cycles, and
        collections would only rescan them.
        """
        enabled = gc.isenabled()
        gc.disable()
        try:
            return cls._build(items, tokenizer)
        finally:
            if enabled:
                gc.enable()

    @classmethod
    def _build(cls, items: Iterable[Item], tokenizer: Tokenizer) -> Index:
        scheme = Scheme(_documents, GRAM, K1, B, HEAD_POSTINGS, GRAM_HEAD_POSTINGS)
        built = build(items, tokenizer, scheme)
        return cls(tokenizer, built.items, built.docs, built.postings,
                   {key: _listing(value) for key, value in built.phrases.items() if key},
                   {key: _listing(value) for key, value in built.keywords.items() if key})

    def stats(self) -> dict[str, int]:
        return {"docs": len(self._docs.ids), "terms": len(self._postings),
                "postings": sum(len(postings.ids) for postings in self._postings.values())}

    def lookup(self, doc_id: str) -> tuple[Item, Fact | None]:
        """The item and, for a fact's doc id ("slug#fact"), the fact; KeyError when unknown."""
        slug, _, fact_id = doc_id.partition("#")
        item = self.items[slug]
        if not fact_id:
            return item, None
        return item, next(fact for fact in item.facts if fact.id == fact_id)

    def search(self, query: str, limit: int = 3) -> SearchResult:
        """The best items for a query, and how sure that is.

        - "answer": the query equals a title, question or fact label of one item (after
          normalization), or the best item scores LEAD_RATIO times the next; hits[0] answers.
        - "choose": several items score within CHOOSE_RATIO of the best: up to 3 hits; or the
          answer is a fact and other facts of its item score nearly as much (SIBLING_RATIO)
          and cover as much of the query: those facts; or a figure asked "now" (现在还剩几个):
          the content's figures are of their own years, so they are offered, not asserted.
        - "none": the best falls short of MIN_SCORE or MIN_COVERAGE (FIGURE_COVERAGE for a
          figure question; hits, if any, are loose suggestions, never an answer); or, reason
          "year", the query names a year and what matches is about other years (hits are
          then those other-year matches).
        An item and its own facts are one candidate: hits[0] is the item's best fact when the
        query asks for a figure (多少, 几, 谁, 什么时候, 三十件是吧 ...), otherwise the item
        itself; across items a figure question prefers facts (FIGURE_FACT_BOOST).
        A query equal to an item keyword multiplies that item's score by EXACT_BOOST; a query
        naming a year prefers that year's documents to year-neutral ones (YEAR_BOOST).
        """
        normalized = normalize_query(query)
        figure = FIGURE.search(normalized) is not None
        now = _now(normalized, figure)
        years = extract_years(query) | now
        terms = self.tokenizer.query_terms(normalized, years) if normalized else {}
        ranked, exact = self._ranked(normalized, terms, figure)
        result = _Result(normalized, years, exact=bool(exact))
        if years and ranked:
            kept = [(doc, score) for doc, score in ranked
                    if not (own := self._years_of(doc, figure)) or years.intersection(own)]
            if self._wrong_year(years, figure, ranked, kept):
                return result.make("none", self._hits(ranked, figure, limit), "year")
            ranked = self._year_boosted(kept)
        hits = self._hits(ranked, figure, max(limit, 3))
        if not hits:
            return result.make("none", hits)
        best = hits[0].hit.score
        if {self._docs.slugs[doc] for doc in exact} == {hits[0].hit.slug}:
            return result.make("answer", hits[:limit])
        least = FIGURE_COVERAGE if figure else MIN_COVERAGE
        if best < MIN_SCORE or self._clause_coverage(query, years, terms,
                                                      hits[0].best_doc, least) < least:
            return result.make("none", hits[:limit])
        if len(hits) == 1 or (self._evidence(hits[0], figure)
                              >= LEAD_RATIO * self._evidence(hits[1], figure)):
            facts = self._sibling_facts(hits[0], terms)
            if len(facts) > 1:
                return result.make("choose", facts[:3])
            if not now:
                return result.make("answer", facts + hits[1:limit])
        close = [hit for hit in hits[:3] if hit.hit.score >= CHOOSE_RATIO * best]
        return result.make("choose", close)

    def _ranked(self, normalized: str, terms: dict[str, float], figure: bool = False
                ) -> tuple[list[tuple[int, float]], Iterable[int]]:
        """The CANDIDATES best (document, score), exact phrases and item keywords boosted,
        and for a figure question facts (FIGURE_FACT_BOOST); and the documents whose title,
        question or label the query equals."""
        scores = self._score(terms)
        exact = _among(self._phrases.get(normalized, ()), scores)
        boosted = EXACT_BOOST * max(MIN_SCORE, max(scores.values(), default=0.0))
        scores.update((doc, boosted) for doc in exact)
        for doc in _among(self._keywords.get(normalized, ()), scores):
            scores[doc] = EXACT_BOOST * max(MIN_SCORE, scores.get(doc, 0.0))
        ranked = [(doc, score) for score, doc in _best(CANDIDATES, scores)]
        if not figure:
            return ranked, exact
        facts = self._docs.facts
        return sorted(((doc, score * FIGURE_FACT_BOOST if facts[doc] is not None else score)
                       for doc, score in ranked), key=lambda pair: -pair[1]), exact

    def _score(self, terms: dict[str, float]) -> dict[int, float]:
        """Each document's sum of its postings' weights for the query's terms.

        A term with a head (a very common one) first adds only its head; the RESCORE best
        documents then get their exact weights for such terms. A search so touches at most
        HEAD_POSTINGS postings per term, plus a few lookups.
        """
        scores: dict[int, float] = {}
        common = []
        for term, query_weight in terms.items():
            postings = self._postings.get(term)
            if postings is not None and postings.head is None:
                _accumulate(scores, postings.ids, postings.weights, query_weight)
            elif postings is not None:
                common.append((postings, query_weight))
        if not common:
            return scores
        estimates = dict(scores)
        for postings, query_weight in common:
            _accumulate(estimates, *postings.head, query_weight)
        exact = {}
        for _, doc in _best(RESCORE, estimates):
            total = scores.get(doc, 0.0)
            for (ids, weights, _, _), query_weight in common:
                at = bisect_left(ids, doc)
                if at < len(ids) and ids[at] == doc:
                    total += weights[at] * query_weight
            exact[doc] = total
        return exact

    def _years_of(self, doc: int, figure: bool) -> Iterable[int]:
        """The years a document is about; for a figure question, a year-neutral item that
        names years in its summary (贫困标准: 2010年不变价 … 2016年为2952元) states its
        figures for those years only."""
        own = self._docs.years[doc]
        if own or not figure or self._docs.facts[doc] is not None:
            return own
        slug = self._docs.slugs[doc]
        stated = self._stated.get(slug)
        if stated is None:
            stated = self._stated[slug] = frozenset(extract_years(self.items[slug].summary))
        return stated

    def _wrong_year(self, years: set[int], figure: bool, ranked: list, kept: list) -> bool:
        """The query's years are not what the matches are about: the best match is of another
        year, and the question asks for a figure or what is left is much weaker
        (YEAR_SURVIVOR_RATIO). Year-neutral content answers for any year."""
        if kept and kept[0] == ranked[0]:
            return False
        return figure or not kept or kept[0][1] < YEAR_SURVIVOR_RATIO * ranked[0][1]

    def _hits(self, ranked: list[tuple[int, float]], figure: bool, limit: int) -> list[_Hit]:
        """One hit per item, best first: the item itself or one of its facts."""
        groups: dict[str, list[tuple[int, float]]] = {}
        for doc, score in ranked:
            if score > 0:
                groups.setdefault(self._docs.slugs[doc], []).append((doc, score))
        docs, hits = self._docs, []
        for members in list(groups.values())[:limit]:
            doc = _representative(members, docs.facts, figure)
            hit = Hit(docs.ids[doc], docs.slugs[doc], docs.facts[doc], members[0][1],
                      docs.titles[doc])
            own = next(score for member, score in members if member == doc)
            rivals = () if docs.facts[doc] is None else tuple(
                (member, score) for member, score in members
                if member != doc and docs.facts[member] is not None
                and score >= SIBLING_RATIO * own)
            hits.append(_Hit(hit, members[0][0], ((doc, own), *rivals)))
        return hits

    def _year_boosted(self, ranked: list[tuple[int, float]]) -> list[tuple[int, float]]:
        """After the year guard: documents of a year (the asked one) before year-neutral ones
        scoring about as much (YEAR_BOOST)."""
        years = self._docs.years
        return sorted(((doc, score * YEAR_BOOST if years[doc] else score)
                       for doc, score in ranked), key=lambda pair: -pair[1])

    def _evidence(self, hit: _Hit, figure: bool) -> float:
        """A hit's score without FIGURE_FACT_BOOST: the boost orders a figure question's
        hits, it is no evidence that one of them leads (see LEAD_RATIO)."""
        if figure and self._docs.facts[hit.best_doc] is not None:
            return hit.hit.score / FIGURE_FACT_BOOST
        return hit.hit.score

    def _sibling_facts(self, top: _Hit, terms: dict[str, float]) -> list[_Hit]:
        """The answer's fact, or the facts of its item scoring nearly as much (SIBLING_RATIO):
        the one that covers the most of the query when that settles it, else all of them,
        best covered first (the subscriber then chooses)."""
        if len(top.facts) == 1:
            return [top]
        docs = self._docs
        covered = sorted(((round(self._coverage(terms, doc, asked=True), 2), score, doc)
                          for doc, score in top.facts), reverse=True)
        found = [_Hit(Hit(docs.ids[doc], docs.slugs[doc], docs.facts[doc], score,
                          docs.titles[doc]), doc, ((doc, score),))
                 for _, score, doc in covered]
        return found if covered[0][0] == covered[1][0] else found[:1]

    def _clause_coverage(self, query: str, years: set[int], terms: dict[str, float],
                         doc: int, least: float = MIN_COVERAGE) -> float:
        """The coverage of the whole query, or of its best clause when it has several.

        People often tell their situation first and ask last ("我在外地打工 家里就老娘一个人
        听说要两不愁三保障 到底保障些啥"): the words of the story are not in the content, the
        question's clause is. A one-clause question is judged whole, so an unknown place or
        topic in it still means "none"."""
        whole = self._coverage(terms, doc)
        if whole >= least:
            return whole
        clauses = [part for part in CLAUSE_BREAK.split(query) if len(part.strip()) >= 2]
        if len(clauses) < 2:
            return whole
        best = whole
        for clause in clauses:
            normalized = normalize_query(clause)
            if normalized:
                own = self.tokenizer.query_terms(normalized, years)
                best = max(best, self._coverage(own, doc) if own else 0.0)
        return best

    def _coverage(self, terms: dict[str, float], doc: int, asked: bool = False) -> float:
        """The idf-weighted share of the query's words (bigrams when it has none) that a
        document contains; a word the index has never seen counts as the rarest. The count
        a question asks for (个数 of 几个) says what kind of answer, not what about: left out,
        unless `asked` (to choose between facts of one item)."""
        words = {term: weight for term, weight in terms.items()
                 if term[0] != GRAM and (asked or term not in COUNT_TERMS)} or terms
        rarest = math.log(1 + (len(self._docs.ids) + 0.5) / 1.5)
        total = matched = 0.0
        for term, weight in words.items():
            idf, found = self._presence(term, doc, rarest)
            if not found and term[0].isdigit():
                continue  # a number the answer lacks (两个公众号) is no topic it misses
            total += weight * idf
            matched += weight * idf if found else 0.0
        return matched / total if total else 0.0

    def _presence(self, term: str, doc: int, rarest: float) -> tuple[float, bool]:
        """A query word's idf and whether the document says it: as a word, or (bodies and
        source sentences are indexed by bigrams only) as all of its bigrams. A word that is
        no indexed word weighs as its rarest bigram, or as the rarest term when the content
        never has one of its bigrams (贵州, a place the content never names)."""
        postings = self._postings.get(term)
        if postings is not None and postings.weight(doc):
            return postings.idf, True
        if not CJK_RUN.fullmatch(term):
            return (rarest if postings is None else postings.idf), False
        grams = [self._postings.get(GRAM + term[i : i + 2]) for i in range(len(term) - 1)]
        if postings is None:
            postings = None if None in grams else max(grams, key=lambda gram: gram.idf)
        idf = rarest if postings is None else postings.idf
        return idf, None not in grams and all(gram.weight(doc) for gram in grams)


def _now(normalized: str, figure: bool) -> set[int]:
    """This year, when a figure question asks what it is now (现在还剩几个): the content's
    figures are of their own years."""
    return {date.today().year} if figure and NOW.search(normalized) else set()


def _listing(docs: list[int]) -> tuple[int, ...] | frozenset[int]:
    """The documents of a phrase or keyword: a tuple, or a set when there are more than
    CANDIDATES (a phrase that many documents share; see `_among`)."""
    return frozenset(docs) if len(docs) > CANDIDATES else tuple(docs)


def _among(docs: tuple[int, ...] | frozenset[int], scores: dict[int, float]) -> Iterable[int]:
    """The documents to boost for an exact phrase or keyword: all of a short listing; of a
    long one (thousands of items sharing a keyword), only those the query's terms already
    scored, so a search never walks a listing that grows with the knowledge base."""
    if isinstance(docs, frozenset):
        return [doc for doc in scores if doc in docs]
    return docs


def _best(count: int, scores: dict[int, float]) -> list[tuple[float, int]]:
    """The `count` best (score, document) pairs, best first; on a tie the earlier document
    (the content's own order)."""
    best = heapq.nlargest(count, zip(scores.values(), map(neg, scores.keys()), strict=True))
    return [(score, -doc) for score, doc in best]


def _accumulate(scores: dict[int, float], ids: array, weights: array, factor: float) -> None:
    get = scores.get
    for doc, weight in zip(ids, weights, strict=True):
        scores[doc] = get(doc, 0.0) + weight * factor


@dataclass(frozen=True, slots=True)
class _Hit:
    hit: Hit
    best_doc: int  # the document (item or fact) that earned the item's score
    facts: tuple[tuple[int, float], ...] = ()  # a fact hit's (doc, score), then close siblings


def _representative(members: list[tuple[int, float]], facts: list[str | None],
                    figure: bool) -> int:
    """The item, or its best fact for a figure question (see FACT_SHARE, ITEM_SHARE)."""
    item = next(((doc, score) for doc, score in members if facts[doc] is None), None)
    fact = next(((doc, score) for doc, score in members if facts[doc] is not None), None)
    if item is None or fact is None:
        return members[0][0]
    if figure:
        return fact[0] if fact[1] >= FACT_SHARE * item[1] else item[0]
    return item[0] if item[1] >= ITEM_SHARE * fact[1] else fact[0]


def _documents(item: Item) -> Iterator[tuple[Fact | None, list[Field]]]:
    """An item's documents: (None, the item's fields), then (fact, the fact's fields)."""
    yield None, [(item.title, TITLE_WEIGHT, EXACT),
                 *((keyword, KEYWORD_WEIGHT, KEYWORD) for keyword in item.keywords),
                 *((question, QUESTION_WEIGHT, EXACT) for question in item.questions),
                 (item.summary, SUMMARY_WEIGHT, SHORT), (item.body, BODY_WEIGHT, LONG)]
    for fact in item.facts:
        yield fact, [(fact.label, TITLE_WEIGHT, EXACT),
                     *((keyword, KEYWORD_WEIGHT, MIXED) for keyword in fact.keywords),
                     (fact.value, SUMMARY_WEIGHT, SHORT), (fact.sentence, SENTENCE_WEIGHT, LONG)]


@dataclass(frozen=True, slots=True)
class _Result:
    normalized: str
    years: set[int]
    exact: bool

    def make(self, confidence: Confidence, hits: list[_Hit], reason: str = "") -> SearchResult:
        return SearchResult([hit.hit for hit in hits], confidence, self.normalized, self.years,
                            reason, self.exact)
