"""Ranked retrieval over the knowledge base: items and their facts, BM25 over an inverted index.

Documents are items (doc id ``slug``) and facts (``slug#fact``). Queries and content texts become
terms in content/tokenizer.py: words, mapped to their synonym group's first word, and character
bigrams of titles, questions, labels and keywords, a second, low-weight signal, so typos and odd
segmentations still find things; the long fields (bodies, source sentences) are indexed by
bigrams alone. BM25 weights are computed at build time (content/indexing.py); a search adds up
the postings of its own terms only, and of a very common term only its HEAD_POSTINGS heaviest
(content/scoring.py). This module says what a document is, and when a search answers.
"""

from __future__ import annotations

import gc
from collections.abc import Iterable, Iterator

from content.indexing import Docs, Postings, Scheme, build
from content.model import Fact, Item
from content.normalize import extract_years, normalize_query
from content.scoring import (
    CANDIDATES,
    Candidate,
    Confidence,
    Coverage,
    Hit,
    Query,
    SearchResult,
    among,
    best_of,
    listing,
    representative,
    scored,
    wrong_year,
    year_boosted,
)
from content.terms import EXACT, KEYWORD, LONG, MIXED, SHORT, Field
from content.tokenizer import FIGURE, GRAM, STOP_WORDS, Tokenizer, now_years

__all__ = ["B", "FIGURE", "GRAM", "GRAM_HEAD_POSTINGS", "HEAD_POSTINGS", "K1", "STOP_WORDS",
           "Confidence", "Hit", "Index", "SearchResult", "Tokenizer"]

# Field weights: a term counts this much per occurrence in the field.
TITLE_WEIGHT = 3.0  # an item's title, a fact's label
KEYWORD_WEIGHT = 2.5  # an item's or a fact's keywords
QUESTION_WEIGHT = 2.0  # an item's typical questions
SUMMARY_WEIGHT = 1.0  # an item's summary, a fact's value
SENTENCE_WEIGHT = 0.7  # a fact's source sentence (bigrams only)
BODY_WEIGHT = 0.4  # an item's body (bigrams only)
# BM25: mild length normalisation, so neither long items nor short facts win by length alone.
K1, B = 1.2, 0.4
# At scale: a term with more postings only adds its HEAD_POSTINGS heaviest (a bigram its
# GRAM_HEAD_POSTINGS); the RESCORE best documents found that way are then scored exactly
# (content/scoring.py).
HEAD_POSTINGS = 128
GRAM_HEAD_POSTINGS = 32

# Confidence (see Index.search).
MIN_SCORE = 3.0  # the best hit's score must reach this ...
MIN_COVERAGE = 0.45  # ... and match this share of the query's words (idf-weighted)
LEAD_RATIO = 1.5  # "answer" when the best item scores this much more than the next
CHOOSE_RATIO = 0.6  # "choose" lists items scoring at least this share of the best
EXACT_BOOST = 2.0  # a query equal to a title, question or label (or item keyword, see search)
SIBLING_RATIO = 0.9  # facts of one item scoring this share of the best are a near tie
FIGURE_COVERAGE = 0.5  # a figure question's answer must match this share of its words
FIGURE_FACT_BOOST = 1.25  # a figure question prefers a quoted figure (a fact) to an item
# FACT_SHARE, ITEM_SHARE (an item or its fact), YEAR_BOOST and YEAR_SURVIVOR_RATIO (the year
# guard) are in content/scoring.py.


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
        self._coverage = Coverage(postings, len(docs.ids), tokenizer)

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
                   {key: listing(value) for key, value in built.phrases.items() if key},
                   {key: listing(value) for key, value in built.keywords.items() if key})

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
        now = now_years(normalized, figure)
        years = extract_years(query) | now
        terms = self.tokenizer.query_terms(normalized, years) if normalized else {}
        ranked, exact = self._ranked(normalized, terms, figure)
        result = Query(normalized, years, exact=bool(exact))
        if years and ranked:
            kept = [(doc, score) for doc, score in ranked
                    if not (own := self._years_of(doc, figure)) or years.intersection(own)]
            if wrong_year(figure, ranked, kept):
                return result.make("none", self._hits(ranked, figure, limit), "year")
            ranked = year_boosted(kept, self._docs.years)
        hits = self._hits(ranked, figure, max(limit, 3))
        if not hits:
            return result.make("none", hits)
        best = hits[0].hit.score
        if {self._docs.slugs[doc] for doc in exact} == {hits[0].hit.slug}:
            return result.make("answer", hits[:limit])
        least = FIGURE_COVERAGE if figure else MIN_COVERAGE
        if best < MIN_SCORE or self._coverage.of_clauses(query, years, terms,
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
        scores = scored(self._postings, terms)
        exact = among(self._phrases.get(normalized, ()), scores)
        boosted = EXACT_BOOST * max(MIN_SCORE, max(scores.values(), default=0.0))
        scores.update((doc, boosted) for doc in exact)
        for doc in among(self._keywords.get(normalized, ()), scores):
            scores[doc] = EXACT_BOOST * max(MIN_SCORE, scores.get(doc, 0.0))
        ranked = [(doc, score) for score, doc in best_of(CANDIDATES, scores)]
        if not figure:
            return ranked, exact
        facts = self._docs.facts
        return sorted(((doc, score * FIGURE_FACT_BOOST if facts[doc] is not None else score)
                       for doc, score in ranked), key=lambda pair: -pair[1]), exact

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

    def _hits(self, ranked: list[tuple[int, float]], figure: bool, limit: int
              ) -> list[Candidate]:
        """One hit per item, best first: the item itself or one of its facts."""
        groups: dict[str, list[tuple[int, float]]] = {}
        for doc, score in ranked:
            if score > 0:
                groups.setdefault(self._docs.slugs[doc], []).append((doc, score))
        docs, hits = self._docs, []
        for members in list(groups.values())[:limit]:
            doc = representative(members, docs.facts, figure)
            hit = Hit(docs.ids[doc], docs.slugs[doc], docs.facts[doc], members[0][1],
                      docs.titles[doc])
            own = next(score for member, score in members if member == doc)
            rivals = () if docs.facts[doc] is None else tuple(
                (member, score) for member, score in members
                if member != doc and docs.facts[member] is not None
                and score >= SIBLING_RATIO * own)
            hits.append(Candidate(hit, members[0][0], ((doc, own), *rivals)))
        return hits

    def _evidence(self, hit: Candidate, figure: bool) -> float:
        """A hit's score without FIGURE_FACT_BOOST: the boost orders a figure question's
        hits, it is no evidence that one of them leads (see LEAD_RATIO)."""
        if figure and self._docs.facts[hit.best_doc] is not None:
            return hit.hit.score / FIGURE_FACT_BOOST
        return hit.hit.score

    def _sibling_facts(self, top: Candidate, terms: dict[str, float]) -> list[Candidate]:
        """The answer's fact, or the facts of its item scoring nearly as much (SIBLING_RATIO):
        the one that covers the most of the query when that settles it, else all of them,
        best covered first (the subscriber then chooses)."""
        if len(top.facts) == 1:
            return [top]
        docs = self._docs
        covered = sorted(((round(self._coverage.of(terms, doc, asked=True), 2), score, doc)
                          for doc, score in top.facts), reverse=True)
        found = [Candidate(Hit(docs.ids[doc], docs.slugs[doc], docs.facts[doc], score,
                               docs.titles[doc]), doc, ((doc, score),))
                 for _, score, doc in covered]
        return found if covered[0][0] == covered[1][0] else found[:1]


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

