"""Items' documents as rows of (term id, weighted count), tokenized once per text.

A document's terms are the words of its short fields (Tokenizer.document_terms, for many texts
at once: content/lexicon.py) and the character bigrams of all but its summaries and values,
found with numpy over every new item at once. A TermCache keeps each item's rows under a digest
of what is indexed of it, so a rebuild tokenizes only the items whose text changed. Floats are
added in the order of the former per-document Python code (see `sequential_sums`), so counts
and lengths are the same to the bit.
"""

from __future__ import annotations

import hashlib
import sys
import threading
from array import array
from collections.abc import Sequence
from typing import NamedTuple, Protocol

import numpy as np

from content.lexicon import CJK_FIRST, CJK_LAST, Lexicon
from content.model import Fact
from content.normalize import normalize_texts, query_form

Field = tuple[str, float, str]  # text, weight, kind:
EXACT = "exact"  # words and bigrams; a query equal to it is an exact hit (title, question, label)
KEYWORD = "keyword"  # words and bigrams; a query equal to it boosts the item (item keywords)
MIXED = "mixed"  # words and bigrams (fact keywords)
SHORT = "short"  # words only (summaries, values)
LONG = "long"  # bigrams only (bodies, source sentences)
Documents = list[tuple[Fact | None, list[Field]]]  # an item's: (None, fields), (fact, fields)...
ROW = np.dtype([("term", "<i4"), ("count", "<f4")])


class Tokenized(NamedTuple):
    """One item's documents (the item, then its facts), tokenized."""

    lengths: tuple[float, ...]  # each document's weighted number of terms
    sizes: tuple[int, ...]  # each document's number of rows
    rows: np.ndarray  # ROW, document by document, term ids ascending
    phrases: tuple[tuple[int, str], ...]  # (document, query form of a title, question, label)
    keywords: tuple[tuple[int, str], ...]  # (document, query form of an item keyword)


class Words(Protocol):
    """What tokenizing needs of a content.tokenizer.Tokenizer."""

    cache: TermCache

    @property
    def dictionary_version(self) -> object: ...

    def lexicon(self) -> Lexicon: ...


class TermCache:
    """Tokenized items by `item_key`, and the term ids their rows use.

    It keeps what the last build used (`keep`); ids only grow, so it starts over (`clear`)
    when the tokenizer's dictionary changed or most ids are no longer used. Builds hold
    `lock`."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.clear()

    def clear(self, version: object = None) -> None:
        self.version = version
        self.lexicon: Lexicon | None = None  # the tokenizer's, at this version
        self.ids: dict[str, int] = {}
        self.terms: list[str] = []  # by id
        self.items: dict[bytes, Tokenized] = {}

    def term_ids(self, terms: Sequence[str]) -> list[int]:
        get, ids = self.ids.get, []
        for term in terms:
            number = get(term)
            if number is None:
                number = self.ids[sys.intern(term)] = len(self.terms)
                self.terms.append(term)
            ids.append(number)
        return ids

    def keep(self, used: dict[bytes, Tokenized], terms_used: int) -> None:
        self.items = used
        if len(self.terms) > 2 * terms_used + 10_000:
            self.clear(self.version)


def item_key(documents: Documents) -> bytes:
    """A digest of what tokenizing reads of an item: its documents' fields (texts, weights,
    kinds). 16 bytes an item, where the texts themselves would keep every field's tuple."""
    every = [field for _, fields in documents for field in fields]
    shape = [len(fields) for _, fields in documents]
    shape += [(weight, kind, len(text)) for text, weight, kind in every]
    digest = hashlib.blake2b(repr(shape).encode(), digest_size=16)
    digest.update("".join(text for text, _, _ in every).encode("utf-8", "surrogatepass"))
    return digest.digest()


def tokenize(batch: Sequence[Documents], words: Words, gram: str) -> list[Tokenized]:
    """Each item's documents as rows; bigram terms are `gram` + two characters."""
    if not batch:
        return []
    cache = words.cache
    if cache.lexicon is None:
        cache.lexicon = words.lexicon()
    fields = _Fields(cache)
    for documents in batch:
        fields.add(documents)
    word_fields, word_terms = fields.words()
    gram_fields, gram_terms = fields.bigrams(gram)
    sizes = (np.bincount(word_fields, minlength=len(fields.docs))
             + np.bincount(gram_fields, minlength=len(fields.docs)))
    lengths = sequential_sums(np.asarray(fields.weights) * sizes, fields.starts)
    row_fields = np.concatenate([word_fields, gram_fields])
    row_terms = np.concatenate([word_terms, gram_terms])
    docs, terms, counts = _counts(fields, row_fields, row_terms, len(cache.terms))
    rows = np.empty(len(terms), ROW)
    rows["term"], rows["count"] = terms, counts
    per_doc = np.bincount(docs, minlength=len(fields.starts)).tolist()
    cuts = np.searchsorted(docs, fields.item_docs).tolist() + [len(docs)]
    tokenized, doc = [], 0
    for number, (count, phrases, keywords) in enumerate(fields.items):
        tokenized.append(Tokenized(tuple(lengths[doc : doc + count].tolist()),
                                   tuple(per_doc[doc : doc + count]),
                                   rows[cuts[number] : cuts[number + 1]].copy(),
                                   phrases, keywords))
        doc += count
    return tokenized


class _Fields:
    """The fields of the items being tokenized, in order, and their texts to cut."""

    def __init__(self, cache: TermCache) -> None:
        self.cache = cache
        self.docs = array("l")  # each field's document
        self.weights = array("d")
        self.starts = array("l")  # each document's first field
        self.word_texts: list[str] = []
        self.word_owners = array("l")  # the field of each word text
        self.gram_texts: list[str] = []
        self.gram_owners = array("l")  # the field of each gram text
        self.item_docs = array("l")  # each item's first document
        self.items: list[tuple[int, tuple, tuple]] = []  # documents, phrases, keywords

    def add(self, documents: Documents) -> None:
        texts = iter(normalize_texts([text for _, fields in documents for text, _, _ in fields]))
        phrases, keywords = [], []
        self.item_docs.append(len(self.starts))
        for local, (_, fields) in enumerate(documents):
            self.starts.append(len(self.docs))
            for _, weight, kind in fields:
                text = next(texts)
                if kind in (EXACT, KEYWORD):
                    (phrases if kind == EXACT else keywords).append((local, query_form(text)))
                if text and kind != LONG:
                    self.word_texts.append(text)
                    self.word_owners.append(len(self.docs))
                if text and kind != SHORT:
                    self.gram_texts.append(text)
                    self.gram_owners.append(len(self.docs))
                self.docs.append(len(self.starts) - 1)
                self.weights.append(weight)
        self.items.append((len(documents), tuple(phrases), tuple(keywords)))

    def words(self) -> tuple[np.ndarray, np.ndarray]:
        """The field and the term id of every word of the word texts."""
        texts, names, which = self.cache.lexicon.find(self.word_texts)
        ids = np.asarray(self.cache.term_ids(names), np.int64)
        return np.asarray(self.word_owners, np.int64)[texts], ids[which]

    def bigrams(self, gram: str) -> tuple[np.ndarray, np.ndarray]:
        """The field and the term id of every bigram of the gram texts."""
        if not self.gram_texts:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        joined = "\n".join(self.gram_texts)  # "\n" is no CJK: bigrams never cross texts
        codes = np.frombuffer(joined.encode("utf-32-le", "surrogatepass"), "<u4")
        chars = np.fromiter(map(len, self.gram_texts), np.int64, len(self.gram_texts)) + 1
        owners = np.repeat(np.asarray(self.gram_owners, np.int64), chars)
        cjk = (codes >= CJK_FIRST) & (codes <= CJK_LAST)
        at = np.flatnonzero(cjk[:-1] & cjk[1:])
        pairs = (codes[at] << np.uint32(16)) | codes[at + 1]
        unique, inverse = np.unique(pairs, return_inverse=True)
        names = [f"{gram}{chr(pair >> 16)}{chr(pair & 0xFFFF)}" for pair in unique.tolist()]
        ids = np.asarray(self.cache.term_ids(names), np.int64)
        return owners[at], ids[inverse]


def _counts(fields: _Fields, row_fields: np.ndarray, row_terms: np.ndarray,
            vocabulary: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(document, term, weighted count) of every term of every document, by document and
    term; a count adds its fields' (occurrences x weight) in field order."""
    starts = np.asarray(fields.starts, np.int64)
    docs = np.asarray(fields.docs, np.int64)[row_fields]
    rank = row_fields - starts[docs]  # the field's place in its document
    ranks = int(rank.max(initial=0)) + 1
    if len(fields.starts) * vocabulary * ranks >= 2**63:
        raise ValueError("too many documents and terms to tokenize in one batch")
    keys, occurrences = np.unique((docs * vocabulary + row_terms) * ranks + rank,
                                  return_counts=True)
    pairs, rank = np.divmod(keys, ranks)
    weights = np.asarray(fields.weights)[starts[pairs // vocabulary] + rank]
    first = np.flatnonzero(np.diff(pairs, prepend=-1))
    counts = sequential_sums(occurrences * weights, first)
    return pairs[first] // vocabulary, pairs[first] % vocabulary, counts.astype(np.float32)


def sequential_sums(values: np.ndarray, starts: Sequence[int]) -> np.ndarray:
    """The sum of each run of values (from one start to the next), added left to right as a
    Python loop adds them (numpy's own sums pair them up, which may round differently)."""
    starts = np.asarray(starts, np.int64)
    sizes = np.diff(starts, append=len(values))
    firsts = values[np.minimum(starts, len(values) - 1)] if len(values) else 0.0
    sums = np.where(sizes > 0, firsts, 0.0)  # each run's first value (0.0 when empty)
    alive = np.flatnonzero(sizes > 1)
    for offset in range(1, int(sizes.max(initial=0))):
        alive = alive[sizes[alive] > offset]
        sums[alive] += values[starts[alive] + offset]
    return sums
