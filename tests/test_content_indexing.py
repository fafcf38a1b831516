"""content.indexing and content.terms: postings as a plain per-document build makes them, to the
bit, and a rebuild that tokenizes only what changed."""

from __future__ import annotations

import heapq
import math
from array import array
from collections import Counter
from dataclasses import replace

import numpy as np
import pytest

import content.indexing
from content import search
from content.indexing import _head
from content.model import Fact, Item
from content.normalize import normalize_texts
from content.search import Index, Tokenizer
from content.terms import LONG, SHORT, sequential_sums
from content.tokenizer import _all_grams

UNSEEN_WORD = "测词甲乙丙"  # in no content: adding it to jieba changes nothing else


@pytest.fixture(scope="module")
def catalog():
    return pytest.importorskip("content.schema").load_catalog()


@pytest.fixture
def tokenizer(catalog) -> Tokenizer:
    return Tokenizer(catalog.dictionary, catalog.synonyms)


def plain_postings(items, tokenizer: Tokenizer) -> tuple[dict, list[float]]:
    """Postings as the former builder made them: per document, field by field, in Python."""
    raw: dict[str, list[tuple[int, float]]] = {}
    lengths: list[float] = []
    for item in items:
        documents = list(search._documents(item))
        texts = iter(normalize_texts([text for _, fields in documents for text, _, _ in fields]))
        for _, fields in documents:
            counts: dict[str, float] = {}
            length = 0.0
            for _, weight, kind in fields:
                text = next(texts)
                terms = (_all_grams(text) if kind == LONG
                         else tokenizer.document_terms(text, kind != SHORT))
                length += weight * len(terms)
                for term, n in Counter(terms).items():
                    counts[term] = counts.get(term, 0.0) + n * weight
            for term, count in counts.items():
                raw.setdefault(term, []).append((len(lengths), float(np.float32(count))))
            lengths.append(length)
    return raw, lengths


def expected_postings(items, tokenizer: Tokenizer) -> dict[str, tuple]:
    raw, lengths = plain_postings(items, tokenizer)
    average = sum(lengths) / len(lengths)
    norms = [search.K1 * (1 - search.B + search.B * length / average) for length in lengths]
    expected = {}
    for term, postings in raw.items():
        idf = math.log(1 + (len(lengths) - len(postings) + 0.5) / (len(postings) + 0.5))
        ids = array("I", [doc for doc, _ in postings])
        weights = array("f", [idf * count * (search.K1 + 1) / (count + norms[doc])
                              for doc, count in postings])
        size = search.GRAM_HEAD_POSTINGS if term[0] == search.GRAM else search.HEAD_POSTINGS
        head = None
        if len(ids) > size:
            best = sorted(heapq.nlargest(size, range(len(ids)), key=weights.__getitem__))
            head = (array("I", [ids[at] for at in best]), array("f", [weights[at] for at in best]))
        expected[term] = (ids, weights, idf, head)
    return expected


def test_postings_are_those_of_a_plain_python_build_to_the_bit(catalog, tokenizer):
    index = Index.build(catalog.items, tokenizer)
    expected = expected_postings(catalog.items, tokenizer)
    assert index._postings.keys() == expected.keys()
    assert any(postings.head is not None for postings in index._postings.values())
    for term, postings in index._postings.items():
        assert tuple(postings) == expected[term], term
    assert index._docs.lengths == plain_postings(catalog.items, tokenizer)[1]


def test_a_rebuild_tokenizes_only_the_edited_item(catalog, tokenizer, monkeypatch):
    items = list(catalog.items)
    first = Index.build(items, tokenizer)
    batches = []
    tokenize = content.indexing.tokenize
    monkeypatch.setattr(content.indexing, "tokenize",
                        lambda batch, *args: batches.append(len(batch)) or tokenize(batch, *args))
    assert Index.build(items, tokenizer).stats() == first.stats()
    items[3] = replace(items[3], body=items[3].body + "鲲鹏展翅。")
    rebuilt = Index.build(items, tokenizer)
    assert batches == [0, 1]
    assert "#鲲鹏" not in first._postings
    assert list(rebuilt._postings["#鲲鹏"].ids) == [rebuilt._docs.ids.index(items[3].slug)]
    tokenizer.cache.clear()
    cold = Index.build(items, tokenizer)
    assert batches == [0, 1, len(items)]
    assert rebuilt._postings == cold._postings
    assert rebuilt._docs.lengths == cold._docs.lengths


def test_the_cache_keeps_only_the_items_of_the_last_build(catalog, tokenizer):
    Index.build(catalog.items, tokenizer)
    assert len(tokenizer.cache.items) == len(catalog.items)
    Index.build(catalog.items[:5], tokenizer)
    assert len(tokenizer.cache.items) == 5


def test_a_word_new_to_the_shared_dictionary_starts_the_cache_over(tokenizer):
    item = Item(slug="x", category="faq", title="测试", body="", source="测试",
                summary=f"这里有{UNSEEN_WORD}一词")
    before = Index.build([item], tokenizer)
    assert UNSEEN_WORD not in before._postings
    Tokenizer(dictionary=(UNSEEN_WORD,))  # another tokenizer: the jieba instance is shared
    after = Index.build([item], tokenizer)
    assert UNSEEN_WORD in after._postings


def test_items_with_the_same_text_keep_their_own_documents(tokenizer):
    fact = Fact(id="f1", label="资金规模", value="100万元", sentence="资金规模100万元。")
    twins = [Item(slug=slug, category="funding", title="产业扶贫资金", body="产业扶贫资金用途。",
                  source="测试", facts=(fact,)) for slug in ("a", "b")]
    index = Index.build(twins, tokenizer)
    assert index._docs.ids == ["a", "a#f1", "b", "b#f1"]
    assert list(index._postings["#资金"].ids) == [0, 1, 2, 3]
    assert index._phrases["产业扶贫资金"] == (0, 2)


def test_the_lexicon_finds_what_document_terms_finds_text_by_text(catalog, tokenizer):
    texts = [text for item in catalog.items for _, fields in search._documents(item)
             for text, _, kind in fields if kind != LONG]
    texts = normalize_texts(texts) + [
        "", "贫", "wifi 2018年 27.6万 a1", "建档立卡贫困户要两不愁三保障", "我们 什么时候 怎么办",
        "一高一低一无的贫困村", "中华人民共和国国务院扶贫开发领导小组办公室"]
    owners, names, which = tokenizer.lexicon().find(texts)
    found = [Counter() for _ in texts]
    for owner, number in zip(owners.tolist(), which.tolist(), strict=True):
        found[owner][names[number]] += 1
    assert any(len(word) > 4 for word in names)
    for text, terms in zip(texts, found, strict=True):
        assert terms == Counter(tokenizer.document_terms(text, grams=False)), text


def test_sequential_sums_add_left_to_right_as_python_does():
    values = np.array([1e16, 1.0, -1e16, 0.1, 0.2, 5.0])
    assert sequential_sums(values, [0, 3, 5, 6]).tolist() == [
        (1e16 + 1.0) - 1e16, 0.1 + 0.2, 5.0, 0.0]  # 0.0 (1.0 is lost), 0.30000000000000004


def test_a_head_holds_the_heaviest_and_of_equal_weights_the_earlier_documents():
    ids = np.arange(10, 20, dtype=np.uint32)
    weights = np.array([1, 3, 2, 3, 3, 0, 5, 3, 1, 2], dtype=np.float32)
    head_ids, head_weights = _head(ids, weights, 4)
    assert list(head_ids) == [11, 13, 14, 16]  # 5, then the first three of the 3s
    assert list(head_weights) == [3, 3, 3, 5]
