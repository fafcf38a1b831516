"""Synthetic knowledge bases for tests/bench/search.py, made of the real content's own words.

Every synthetic field is a real field of the same kind (a real title, summary, body, question,
fact label, value or sentence) whose words are replaced, each with probability REPLACE, by a
word drawn from that kind of field's real word frequencies (jieba, precise mode, with the domain
dictionary). So the shapes (lengths, punctuation, Markdown, where 怎么/多少 go) stay real, and
common words stay common: a word makes up about the same share of the synthetic text as of the
real one. Keywords are drawn whole from the real keywords, by frequency; fact counts, years and
categories follow the real items'.

Deterministic: `corpus(n)` is the 43 real items followed by the first n - 43 synthetic items of
one seeded stream, so each size's corpus is a prefix of the next one's. `edited` copies a corpus
with a share of its items edited (a rebuild after staff edits).
"""

from __future__ import annotations

import gc
import itertools
import random
import re
from bisect import bisect
from collections import Counter
from dataclasses import dataclass, field, replace
from typing import NamedTuple

from content.model import Catalog, Fact, Item
from content.search import STOP_WORDS

SEED = 20240611
REPLACE = 0.6  # share of a template's words replaced by sampled ones
WORDLIKE = re.compile("[\u4e00-\u9fff]")  # Chinese words get replaced; digits, Latin and marks stay
NUMBER = re.compile(r"^[0-9]+(?:\.[0-9]+)?$")
KINDS = ("title", "summary", "body", "question", "label", "value", "sentence")


class _Template(NamedTuple):
    words: list[str]  # a real text, cut by jieba
    replaceable: tuple[int, ...]  # where its Chinese words are (stop words stay)
    numbers: tuple[int, ...]  # where its numbers are (years excluded)


@dataclass
class _Vocabulary:
    """Words of one kind of field, with their real frequencies (cumulative, for bisect)."""

    words: list[str] = field(default_factory=list)
    cumulative: list[int] = field(default_factory=list)

    @classmethod
    def of(cls, counts: Counter) -> _Vocabulary:
        words = sorted(counts, key=lambda word: (-counts[word], word))
        return cls(words, list(itertools.accumulate(counts[word] for word in words)))


class Generator:
    """Synthetic items in the image of a real catalog (see the module docstring)."""

    def __init__(self, catalog: Catalog, tokenizer, seed: int = SEED) -> None:
        cut = tokenizer._jieba.cut  # the tokenizer's jieba, with the domain words added
        self.catalog = catalog
        self.seed = seed
        self.templates: dict[str, list[_Template]] = {kind: [] for kind in KINDS}
        counts: dict[str, Counter] = {kind: Counter() for kind in KINDS}

        def add(kind: str, text: str) -> None:
            if not text:
                return
            words = list(cut(text, HMM=False))
            replaceable = tuple(at for at, word in enumerate(words)
                                if WORDLIKE.search(word) and word not in STOP_WORDS)
            numbers = tuple(at for at, word in enumerate(words)
                            if NUMBER.match(word) and not 1990 < float(word) < 2100)
            self.templates[kind].append(_Template(words, replaceable, numbers))
            counts[kind].update(word for word in words if WORDLIKE.search(word))

        for item in catalog.items:
            add("title", item.title)
            add("summary", item.summary)
            add("body", item.body)
            for question in item.questions:
                add("question", question)
            for fact in item.facts:
                add("label", fact.label)
                add("value", fact.value)
                add("sentence", fact.sentence)
        self.vocabulary = {kind: _Vocabulary.of(counts[kind]) for kind in KINDS}
        self.all_words = Counter()
        for kind_counts in counts.values():
            self.all_words.update(kind_counts)
        self.item_keywords = [kw for item in catalog.items for kw in item.keywords]
        self.fact_keywords = [kw for item in catalog.items for fact in item.facts
                              for kw in fact.keywords]
        self.keyword_counts = [len(item.keywords) for item in catalog.items]
        self.question_counts = [len(item.questions) for item in catalog.items]
        self.fact_counts = [len(item.facts) for item in catalog.items]
        self.categories = [item.category for item in catalog.items]
        self.item_years = [item.year for item in catalog.items]
        self.facts = [fact for item in catalog.items for fact in item.facts]
        self._cache: list[Item] = []
        self._rng = random.Random(seed)

    # ---- public

    def corpus(self, size: int) -> list[Item]:
        """The real items, then synthetic ones, `size` in all (at least the real ones)."""
        real = list(self.catalog.items)
        return real + self.synthetic(max(0, size - len(real)))

    def synthetic(self, count: int) -> list[Item]:
        enabled = gc.isenabled()
        gc.disable()  # many long-lived objects, no cycles: collections would only rescan them
        try:
            while len(self._cache) < count:
                self._cache.append(self._item(len(self._cache)))
        finally:
            if enabled:
                gc.enable()
        return self._cache[:count]

    def edited(self, items: list[Item], share: float, seed: int) -> list[Item]:
        """`items` with `share` of them edited as staff edit one: a new body and one typical
        question rewritten (drawn from a stream of their own: `corpus` stays the same)."""
        rng = random.Random(f"{self.seed}-edit-{seed}")
        out = list(items)
        for at in rng.sample(range(len(out)), max(1, round(share * len(out)))):
            item = out[at]
            questions = list(item.questions) or [""]
            questions[rng.randrange(len(questions))] = self._text("question", rng=rng)
            out[at] = replace(item, body=self._text("body", rng=rng),
                              questions=tuple(dict.fromkeys(questions)))
        return out

    def words(self) -> Counter:
        """Every real word (Chinese) with its count, over all the fields sampled from."""
        return self.all_words

    # ---- one item

    def _item(self, number: int) -> Item:
        rng = self._rng
        questions = tuple(dict.fromkeys(self._text("question")
                                        for _ in range(rng.choice(self.question_counts))))
        keywords = tuple(dict.fromkeys(rng.choices(self.item_keywords,
                                                   k=rng.choice(self.keyword_counts))))
        facts = tuple(self._fact(k) for k in range(rng.choice(self.fact_counts)))
        return Item(slug=f"syn-{number:06d}", category=rng.choice(self.categories),
                    title=self._text("title"), body=self._text("body"), source="合成（基准测试）",
                    summary=self._text("summary"), keywords=keywords, questions=questions,
                    facts=facts, year=rng.choice(self.item_years))

    def _fact(self, k: int) -> Fact:
        rng = self._rng
        template = rng.choice(self.facts)
        number = None
        if template.number is not None or NUMBER.match(template.value.removesuffix(template.unit)):
            number = rng.choice((rng.randint(0, 99), rng.randint(100, 9999),
                                 round(rng.uniform(0.1, 99.9), 1)))
            value = f"{number:g}{template.unit}"
            sentence = self._text("sentence", number=f"{number:g}")
        else:
            value, sentence = self._text("value"), self._text("sentence")
        keywords = tuple(dict.fromkeys(rng.choices(self.fact_keywords,
                                                   k=len(template.keywords))))
        return Fact(id=f"f{k}", label=self._text("label"), value=value, sentence=sentence,
                    section=template.section, number=number, unit=template.unit,
                    year=template.year if rng.random() < 0.7 else rng.choice(self.item_years),
                    keywords=keywords)

    def _text(self, kind: str, number: str | None = None,
              rng: random.Random | None = None) -> str:
        """A real text of this kind with most of its Chinese words replaced by sampled ones."""
        rng = rng or self._rng
        template = rng.choice(self.templates[kind])
        vocabulary = self.vocabulary[kind]
        out = list(template.words)
        samples = rng.choices(vocabulary.words, cum_weights=vocabulary.cumulative,
                              k=len(template.replaceable))
        for at, replacement in zip(template.replaceable, samples, strict=True):
            if rng.random() < REPLACE:
                out[at] = replacement
        if number is not None:
            for at in template.numbers:
                out[at] = number
        return "".join(out)


def sample_words(words: Counter, count: int, rng: random.Random) -> list[str]:
    """`count` words by their real frequency (for the benchmark's keyword queries)."""
    ranked = sorted(words, key=lambda word: (-words[word], word))
    cumulative = list(itertools.accumulate(words[word] for word in ranked))
    return [ranked[bisect(cumulative, rng.random() * cumulative[-1])] for _ in range(count)]
