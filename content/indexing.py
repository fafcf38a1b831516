"""Items into the search index's documents and BM25-weighted postings (see content/search.py).

content/search.py says what a document is (`Scheme.fields`: its fields, weights and kinds) and
searches; this module builds what it searches. Items come tokenized from the tokenizer's
TermCache (content/terms.py: only new or changed items are tokenized). A build then sorts all
items' (term, document, count) rows by term in one go, weighs them as arrays and cuts them into
one pair of compact arrays per term, the shape the search reads. Each float is computed as the
former per-document Python code did, so weights are the same to the bit.
"""

from __future__ import annotations

import math
import sys
from array import array
from bisect import bisect_left
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from itertools import chain
from typing import NamedTuple

import numpy as np

from content.model import Fact, Item
from content.terms import Documents, Tokenized, Words, item_key, tokenize


class Scheme(NamedTuple):
    """What content/search.py decides about its index."""

    fields: Callable[[Item], Iterable[tuple]]  # an item's Documents
    gram: str  # bigram terms are `gram` + two characters
    k1: float  # BM25
    b: float
    head: int  # a term with more postings also keeps its `head` heaviest apart ...
    gram_head: int  # ... and a bigram its `gram_head` heaviest


class Postings(NamedTuple):
    ids: array  # document numbers, ascending
    weights: array  # BM25 weight of the term in each
    idf: float
    head: tuple[array, array] | None  # the heaviest (see Scheme.head), when there are more

    def weight(self, doc: int) -> float:
        at = bisect_left(self.ids, doc)
        return self.weights[at] if at < len(self.ids) and self.ids[at] == doc else 0.0


@dataclass(slots=True)
class Docs:
    """Per-document columns, indexed by the document number the postings use."""

    ids: list[str] = field(default_factory=list)
    slugs: list[str] = field(default_factory=list)
    facts: list[str | None] = field(default_factory=list)
    titles: list[str] = field(default_factory=list)
    years: list[tuple[int, ...]] = field(default_factory=list)  # the fact's and the item's
    lengths: list[float] = field(default_factory=list)
    shared: dict[tuple[int, ...], tuple[int, ...]] = field(default_factory=dict)

    def add(self, item: Item, fact: Fact | None, length: float) -> int:
        self.ids.append(item.slug if fact is None else f"{item.slug}#{fact.id}")
        self.slugs.append(sys.intern(item.slug))
        self.facts.append(None if fact is None else sys.intern(fact.id))
        self.titles.append(item.title if fact is None else fact.label)
        years = tuple(sorted({item.year, None if fact is None else fact.year} - {None}))
        self.years.append(self.shared.setdefault(years, years))
        self.lengths.append(length)
        return len(self.ids) - 1


class Built(NamedTuple):
    items: dict[str, Item]
    docs: Docs
    postings: dict[str, Postings]
    phrases: dict[str, list[int]]  # query form of titles, questions, labels -> documents
    keywords: dict[str, list[int]]  # query form of item keywords -> documents


def build(items: Iterable[Item], words: Words, scheme: Scheme) -> Built:
    """Every item's and fact's document, and the postings of every term."""
    cache = words.cache
    with cache.lock:
        if cache.version != words.dictionary_version:
            cache.clear(words.dictionary_version)
        items = list(items)
        documents: list[Documents] = [list(scheme.fields(item)) for item in items]
        keys = [item_key(docs) for docs in documents]
        tokenized = [cache.items.get(key) for key in keys]
        missing = [at for at, found in enumerate(tokenized) if found is None]
        fresh = tokenize([documents[at] for at in missing], words, scheme.gram)
        for at, terms in zip(missing, fresh, strict=True):
            tokenized[at] = terms
        built = _assemble(items, documents, tokenized)
        postings = _postings(tokenized, built.docs.lengths, cache.terms, scheme)
        cache.keep(dict(zip(keys, tokenized, strict=True)), len(postings))
    return built._replace(postings=postings)


def _assemble(items: list[Item], documents: list[Documents],
              tokenized: list[Tokenized]) -> Built:
    """The documents' columns, phrases and keywords (the postings come apart)."""
    catalog, docs = {}, Docs()
    phrases: dict[str, list[int]] = {}
    keywords: dict[str, list[int]] = {}
    for item, own, terms in zip(items, documents, tokenized, strict=True):
        catalog[item.slug] = item
        first = len(docs.ids)
        for (fact, _), length in zip(own, terms.lengths, strict=True):
            docs.add(item, fact, length)
        for local, phrase in terms.phrases:
            phrases.setdefault(phrase, []).append(first + local)
        for local, keyword in terms.keywords:
            keywords.setdefault(keyword, []).append(first + local)
    return Built(catalog, docs, {}, phrases, keywords)


def _postings(tokenized: list[Tokenized], lengths: list[float], names: list[str],
              scheme: Scheme) -> dict[str, Postings]:
    """BM25 weight of every posting, idf * tf * (k1 + 1) / (tf + k1 * (1 - b + b * len / avg)),
    grouped by term: one stable sort of all rows by term keeps each term's documents in
    order."""
    if not tokenized:
        return {}
    rows = np.concatenate([terms.rows for terms in tokenized])
    sizes = np.fromiter(chain.from_iterable(terms.sizes for terms in tokenized), np.int64)
    order = np.argsort(rows["term"], kind="stable")
    terms = rows["term"][order]
    ids = np.repeat(np.arange(len(sizes), dtype=np.uint32), sizes)[order]
    counts = rows["count"][order].astype(np.float64)
    starts = np.flatnonzero(np.diff(terms, prepend=-1))
    frequencies = np.diff(starts, append=len(terms))
    total = len(lengths)
    average = (sum(lengths) / total if total else 0.0) or 1.0
    norms = scheme.k1 * (1 - scheme.b + scheme.b * np.asarray(lengths) / average)
    idf_of = {n: math.log(1 + (total - n + 0.5) / (n + 0.5)) for n in set(frequencies.tolist())}
    idfs = [idf_of[n] for n in frequencies.tolist()]
    weights = (np.repeat(idfs, frequencies) * counts * (scheme.k1 + 1)
               / (counts + norms[ids])).astype(np.float32)
    return _split(names, terms[starts].tolist(), starts.tolist(), idfs, ids, weights, scheme)


def _split(names: list[str], terms: list[int], starts: list[int], idfs: list[float],
           ids: np.ndarray, weights: np.ndarray, scheme: Scheme) -> dict[str, Postings]:
    """One Postings per term from the rows grouped by term (`starts`)."""
    id_bytes, weight_bytes = memoryview(ids.tobytes()), memoryview(weights.tobytes())
    postings, ends = {}, starts[1:] + [len(ids)] if starts else []
    for term, start, end, idf in zip(terms, starts, ends, idfs, strict=True):
        own_ids, own_weights = array("I"), array("f")
        own_ids.frombytes(id_bytes[4 * start : 4 * end])
        own_weights.frombytes(weight_bytes[4 * start : 4 * end])
        name = names[term]
        size = scheme.gram_head if name.startswith(scheme.gram) else scheme.head
        head = _head(ids[start:end], weights[start:end], size) if end - start > size else None
        postings[name] = Postings(own_ids, own_weights, idf, head)
    return postings


def _head(ids: np.ndarray, weights: np.ndarray, size: int) -> tuple[array, array]:
    """The `size` heaviest postings, in document order; of equal weights the earlier
    documents (as heapq.nlargest picks them), found in linear time."""
    threshold = np.partition(weights, len(weights) - size)[len(weights) - size]
    chosen = weights > threshold
    ties = np.flatnonzero(weights == threshold)
    chosen[ties[: size - np.count_nonzero(chosen)]] = True
    return array("I", ids[chosen].tobytes()), array("f", weights[chosen].tobytes())
