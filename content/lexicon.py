"""The words of many texts at once, with numpy: what Tokenizer.document_terms(text, grams=False)
finds text by text (numbers and Latin words, and every dictionary word of two or more characters
inside a run of Chinese characters, canonical, stop words dropped).

Windows of two to four Chinese characters are packed into integers (15 bits a character) and
looked up in the sorted packed keys of jieba's prefix dictionary, one length after the other,
each only where the window one shorter was a key: as document_terms extends a word while it is
a key. The few windows still keys at four characters are extended in Python.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

CJK_FIRST, CJK_LAST = 0x4E00, 0x9FFF  # as tokenizer.CJK_RUN
BITS = np.uint64(15)  # a character's place in the CJK block: CJK_LAST - CJK_FIRST < 2**15
PACKED = (2, 3, 4)  # window lengths looked up packed (4 x 15 bits fit in 64)


class Lexicon:
    """A tokenizer's dictionary, stop words, synonyms and number pattern, for `find`."""

    def __init__(self, freq: dict[str, int], stop_words: frozenset[str],
                 canonical: dict[str, str], alnum: re.Pattern[str]) -> None:
        self.freq, self.stop_words, self.canonical, self.alnum = freq, stop_words, canonical, alnum
        self.keys = _packed_keys(list(freq))

    def find(self, texts: Sequence[str]) -> tuple[np.ndarray, list[str], np.ndarray]:
        """(the text of each term found, the distinct terms, which of them each is): each
        text's terms are those of `document_terms(text, grams=False)`, in another order."""
        joined = "\n".join(texts)  # no term crosses a "\n"
        codes = np.frombuffer(joined.encode("utf-32-le", "surrogatepass"), "<u4")
        lengths = np.fromiter(map(len, texts), np.int64, len(texts)) + 1
        owners = np.repeat(np.arange(len(texts)), lengths)[: len(codes)]
        found = _Found()
        longer = self._packed_words(codes, found)
        self._longer_words(joined, longer.tolist(), found)
        for match in self.alnum.finditer(joined):
            found.add_one(match.start(), match.group())
        at, which = found.arrays()
        return owners[at], found.names, which

    def _packed_words(self, codes: np.ndarray, found: _Found) -> np.ndarray:
        """Add the words of two to four characters; the starts of four that are keys."""
        cjk = (codes >= CJK_FIRST) & (codes <= CJK_LAST)
        chars = np.where(cjk, codes - CJK_FIRST, 0).astype(np.uint64)
        starts = np.flatnonzero(cjk[:-1] & cjk[1:])
        packed = chars[starts]
        for size in PACKED:
            ends = starts + size - 1  # the window's last character
            inside = ends < len(codes)
            inside[inside] = cjk[ends[inside]]
            starts, packed = starts[inside], (packed[inside] << BITS) | chars[ends[inside]]
            keys = self.keys[size]
            spots = np.minimum(np.searchsorted(keys, packed), len(keys) - 1)
            known = keys[spots] == packed if len(keys) else np.zeros(len(packed), bool)
            starts, packed = starts[known], packed[known]
            unique, inverse = np.unique(packed, return_inverse=True)
            found.add(starts, [self._term(word) for word in _unpack(unique, size)], inverse)
        return starts

    def _longer_words(self, joined: str, starts: list[int], found: _Found) -> None:
        """Add the words of five characters or more (few: the Python way is fast enough)."""
        freq = self.freq
        for start in starts:
            end = start + PACKED[-1] + 1
            while (end <= len(joined) and CJK_FIRST <= ord(joined[end - 1]) <= CJK_LAST
                   and (word := joined[start:end]) in freq):
                term = self._term(word)
                if term is not None:
                    found.add_one(start, term)
                end += 1

    def _term(self, key: str) -> str | None:
        """The term a dictionary key is: its canonical form, or none for prefixes of words
        (jieba's count 0) and stop words."""
        if not self.freq[key] or key in self.stop_words:
            return None
        return self.canonical.get(key, key)


class _Found:
    """Terms found, as (position, term number) pairs; the terms are numbered as they come."""

    def __init__(self) -> None:
        self.names: list[str] = []
        self.numbers: dict[str, int] = {}
        self.starts: list[np.ndarray] = []
        self.which: list[np.ndarray] = []
        self.single_starts: list[int] = []
        self.single_which: list[int] = []

    def number(self, term: str) -> int:
        number = self.numbers.get(term)
        if number is None:
            number = self.numbers[term] = len(self.names)
            self.names.append(term)
        return number

    def add(self, starts: np.ndarray, terms: list[str | None], inverse: np.ndarray) -> None:
        """Windows at `starts`, the i-th being the key whose term is terms[inverse[i]]."""
        numbers = np.array([-1 if term is None else self.number(term) for term in terms],
                           np.int64)[inverse.reshape(-1)]
        self.starts.append(starts[numbers >= 0])
        self.which.append(numbers[numbers >= 0])

    def add_one(self, start: int, term: str) -> None:
        self.single_starts.append(start)
        self.single_which.append(self.number(term))

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        starts = [*self.starts, np.asarray(self.single_starts, np.int64)]
        which = [*self.which, np.asarray(self.single_which, np.int64)]
        return np.concatenate(starts).astype(np.int64), np.concatenate(which)


def _packed_keys(keys: list[str]) -> dict[int, np.ndarray]:
    """The keys of each PACKED length made only of CJK characters, packed 15 bits a
    character, sorted."""
    codes = np.frombuffer("\n".join([*keys, ""]).encode("utf-32-le", "surrogatepass"), "<u4")
    lengths = np.fromiter(map(len, keys), np.int64, len(keys))
    starts = np.cumsum(lengths + 1) - lengths - 1
    other = (codes < CJK_FIRST) | (codes > CJK_LAST)  # the "\n" after each key included
    cjk_only = np.add.reduceat(other, starts) == 1 if len(keys) else np.zeros(0, bool)
    packed = {}
    for size in PACKED:
        chosen = starts[cjk_only & (lengths == size)]
        chars = codes[chosen[:, None] + np.arange(size)] - CJK_FIRST
        column_packed = np.zeros(len(chosen), np.uint64)
        for column in range(size):
            column_packed = (column_packed << BITS) | chars[:, column].astype(np.uint64)
        packed[size] = np.sort(column_packed)
    return packed


def _unpack(packed: np.ndarray, size: int) -> list[str]:
    chars = np.empty((len(packed), size), "<u4")
    for column in range(size):
        shift = np.uint64(int(BITS) * (size - 1 - column))
        chars[:, column] = ((packed >> shift) & np.uint64(0x7FFF)).astype("<u4") + CJK_FIRST
    text = chars.tobytes().decode("utf-32-le")
    return [text[at : at + size] for at in range(0, len(text), size)]
