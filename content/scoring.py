"""The arithmetic of Index.search (content/search.py): postings added up, the best documents,
one candidate per item, the year guard, and how much of a query a document says.

content/search.py keeps the thresholds that decide an answer (MIN_SCORE, LEAD_RATIO ...); this
module keeps the scores and shares they are compared with, and the search's result types.
"""

from __future__ import annotations

import heapq
import math
from array import array
from bisect import bisect_left
from collections.abc import Iterable
from dataclasses import dataclass
from operator import neg
from typing import Literal

from content.indexing import Postings
from content.normalize import normalize_query
from content.tokenizer import CJK_RUN, CLAUSE_BREAK, COUNT_TERMS, GRAM, Tokenizer

RESCORE = 12  # documents scored exactly after a search added up only common terms' heads
CANDIDATES = 60  # documents considered when grouping hits by item
FACT_SHARE = 0.3  # a figure question takes the item's best fact if it scores this share ...
ITEM_SHARE = 1.5  # ... any other question takes the item if it scores this share of the fact
YEAR_BOOST = 1.2  # after the year guard, a document of the asked year over a year-neutral one
YEAR_SURVIVOR_RATIO = 0.8  # after the year guard, survivors weaker than this mean "none"

Confidence = Literal["answer", "choose", "none"]


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


@dataclass(frozen=True, slots=True)
class Candidate:
    """One item's hit, with what the search still needs to know about it."""

    hit: Hit
    best_doc: int  # the document (item or fact) that earned the item's score
    facts: tuple[tuple[int, float], ...] = ()  # a fact hit's (doc, score), then close siblings


@dataclass(frozen=True, slots=True)
class Query:
    """What a search was asked (normalized, its years) and whether it matched a phrase exactly."""

    normalized: str
    years: set[int]
    exact: bool

    def make(self, confidence: Confidence, hits: list[Candidate], reason: str = ""
             ) -> SearchResult:
        return SearchResult([hit.hit for hit in hits], confidence, self.normalized, self.years,
                            reason, self.exact)


def scored(postings: dict[str, Postings], terms: dict[str, float]) -> dict[int, float]:
    """Each document's sum of its postings' weights for the query's terms.

    A term with a head (a very common one) first adds only its head; the RESCORE best
    documents then get their exact weights for such terms. A search so touches at most
    HEAD_POSTINGS postings per term (content/search.py), plus a few lookups.
    """
    scores: dict[int, float] = {}
    common = []
    for term, query_weight in terms.items():
        found = postings.get(term)
        if found is not None and found.head is None:
            _accumulate(scores, found.ids, found.weights, query_weight)
        elif found is not None:
            common.append((found, query_weight))
    if not common:
        return scores
    estimates = dict(scores)
    for found, query_weight in common:
        _accumulate(estimates, *found.head, query_weight)
    exact = {}
    for _, doc in best_of(RESCORE, estimates):
        total = scores.get(doc, 0.0)
        for (ids, weights, _, _), query_weight in common:
            at = bisect_left(ids, doc)
            if at < len(ids) and ids[at] == doc:
                total += weights[at] * query_weight
        exact[doc] = total
    return exact


def _accumulate(scores: dict[int, float], ids: array, weights: array, factor: float) -> None:
    get = scores.get
    for doc, weight in zip(ids, weights, strict=True):
        scores[doc] = get(doc, 0.0) + weight * factor


def best_of(count: int, scores: dict[int, float]) -> list[tuple[float, int]]:
    """The `count` best (score, document) pairs, best first; on a tie the earlier document
    (the content's own order)."""
    found = heapq.nlargest(count, zip(scores.values(), map(neg, scores.keys()), strict=True))
    return [(score, -doc) for score, doc in found]


def listing(docs: list[int]) -> tuple[int, ...] | frozenset[int]:
    """The documents of a phrase or keyword: a tuple, or a set when there are more than
    CANDIDATES (a phrase that many documents share; see `among`)."""
    return frozenset(docs) if len(docs) > CANDIDATES else tuple(docs)


def among(docs: tuple[int, ...] | frozenset[int], scores: dict[int, float]) -> Iterable[int]:
    """The documents to boost for an exact phrase or keyword: all of a short listing; of a
    long one (thousands of items sharing a keyword), only those the query's terms already
    scored, so a search never walks a listing that grows with the knowledge base."""
    if isinstance(docs, frozenset):
        return [doc for doc in scores if doc in docs]
    return docs


def representative(members: list[tuple[int, float]], facts: list[str | None],
                   figure: bool) -> int:
    """The item, or its best fact for a figure question (see FACT_SHARE, ITEM_SHARE)."""
    item = next(((doc, score) for doc, score in members if facts[doc] is None), None)
    fact = next(((doc, score) for doc, score in members if facts[doc] is not None), None)
    if item is None or fact is None:
        return members[0][0]
    if figure:
        return fact[0] if fact[1] >= FACT_SHARE * item[1] else item[0]
    return item[0] if item[1] >= ITEM_SHARE * fact[1] else fact[0]


def wrong_year(figure: bool, ranked: list[tuple[int, float]],
               kept: list[tuple[int, float]]) -> bool:
    """The query's years are not what the matches are about: the best match (`ranked`) is of
    another year, and the question asks for a figure or what is left of the asked years
    (`kept`) is much weaker (YEAR_SURVIVOR_RATIO). Year-neutral content answers for any year."""
    if kept and kept[0] == ranked[0]:
        return False
    return figure or not kept or kept[0][1] < YEAR_SURVIVOR_RATIO * ranked[0][1]


def year_boosted(ranked: list[tuple[int, float]], years: list[tuple[int, ...]]
                 ) -> list[tuple[int, float]]:
    """After the year guard: documents of a year (the asked one) before year-neutral ones
    scoring about as much (YEAR_BOOST); `years` are each document's."""
    return sorted(((doc, score * YEAR_BOOST if years[doc] else score)
                   for doc, score in ranked), key=lambda pair: -pair[1])


@dataclass(frozen=True, slots=True)
class Coverage:
    """How much of a query a document says, idf-weighted, over one index's postings."""

    postings: dict[str, Postings]
    size: int  # the index's documents
    tokenizer: Tokenizer

    def of_clauses(self, query: str, years: set[int], terms: dict[str, float], doc: int,
                   least: float) -> float:
        """The coverage of the whole query, or of its best clause when it has several.

        People often tell their situation first and ask last ("我在外地打工 家里就老娘一个人
        听说要两不愁三保障 到底保障些啥"): the words of the story are not in the content, the
        question's clause is. A one-clause question is judged whole, so an unknown place or
        topic in it still means "none"."""
        whole = self.of(terms, doc)
        if whole >= least:
            return whole
        clauses = [part for part in CLAUSE_BREAK.split(query) if len(part.strip()) >= 2]
        if len(clauses) < 2:
            return whole
        found = whole
        for clause in clauses:
            normalized = normalize_query(clause)
            if normalized:
                own = self.tokenizer.query_terms(normalized, years)
                found = max(found, self.of(own, doc) if own else 0.0)
        return found

    def of(self, terms: dict[str, float], doc: int, asked: bool = False) -> float:
        """The idf-weighted share of the query's words (bigrams when it has none) that a
        document contains; a word the index has never seen counts as the rarest. The count
        a question asks for (个数 of 几个) says what kind of answer, not what about: left out,
        unless `asked` (to choose between facts of one item)."""
        words = {term: weight for term, weight in terms.items()
                 if term[0] != GRAM and (asked or term not in COUNT_TERMS)} or terms
        rarest = math.log(1 + (self.size + 0.5) / 1.5)
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
        postings = self.postings.get(term)
        if postings is not None and postings.weight(doc):
            return postings.idf, True
        if not CJK_RUN.fullmatch(term):
            return (rarest if postings is None else postings.idf), False
        grams = [self.postings.get(GRAM + term[i : i + 2]) for i in range(len(term) - 1)]
        if postings is None:
            postings = None if None in grams else max(grams, key=lambda gram: gram.idf)
        idf = rarest if postings is None else postings.idf
        return idf, None not in grams and all(gram.weight(doc) for gram in grams)
