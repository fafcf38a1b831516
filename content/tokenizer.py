"""Text to search terms, and what a question asks: the query side of content/search.py.

A query is cut by jieba (precise mode, plus the sub-words of its long words); short content
fields (titles, labels, keywords, questions, summaries, values) are cut in "full" mode, every
dictionary word they contain, found with jieba's prefix dictionary and no routing, so indexing
stays cheap. Words map to their synonym group's first word. Character bigrams (GRAM terms) are
a second, low-weight signal, so typos and odd segmentations still find things. Stop words and
spoken padding are never terms; FIGURE, NOW and COUNT_QUESTION tell what kind of answer a
question wants.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Iterable, Iterator
from datetime import date
from functools import cache

import jieba

from content.lexicon import Lexicon
from content.normalize import normalize_texts
from content.terms import TermCache

# Query-side weights.
SUBWORD_WEIGHT = 0.5  # 贫困 inside 贫困户退出
GRAM_WEIGHT = 0.3  # a character bigram

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



def now_years(normalized: str, figure: bool) -> set[int]:
    """This year, when a figure question asks what it is now (现在还剩几个): the content's
    figures are of their own years."""
    return {date.today().year} if figure and NOW.search(normalized) else set()
