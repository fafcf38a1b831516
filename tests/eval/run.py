"""Answer-quality evaluation: `make eval` (python -m tests.eval.run).

Each question in queries.yaml names the item (or fact, ``slug#fact``) a good answer comes from,
or ``none`` when the content has no answer. Scored on what the subscriber would see:

- top-1: what the subscriber sees first is right: the answer (confidence "answer") is the
  expected item, or the first of the numbered choices is, or the bot says it has no answer to
  a ``none`` question;
- answered: the stricter share answered outright and right (no choice to make);
- confident-wrong: the bot answers outright with something else, or answers a ``none``
  question (the worst outcome: a wrong figure stated as fact).
An expected item also accepts any of its facts, and an expected fact accepts its own item only
when the question has ``accept_item: true``.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

QUERIES = Path(__file__).with_name("queries.yaml")
MIN_TOP1 = 0.95
MAX_CONFIDENT_WRONG = 0.01


@dataclass(frozen=True)
class Case:
    question: str
    expected: str  # "slug", "slug#fact" or "none"
    accept_item: bool = False
    style: str = ""
    batch: str = ""  # questions written together after a round of changes (r2a ...)


@dataclass
class Outcome:
    case: Case
    confidence: str
    got: str
    correct: bool
    confident_wrong: bool

    @property
    def answered(self) -> bool:
        return self.correct and self.confidence in ("answer", "none")


def load_cases(path: Path = QUERIES) -> list[Case]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return [Case(str(entry["q"]), str(entry["expect"]), bool(entry.get("accept_item", False)),
                 str(entry.get("style", "")), str(entry.get("batch", "")))
            for entry in data["queries"]]


def matches(expected: str, doc_id: str, accept_item: bool) -> bool:
    if doc_id == expected:
        return True
    expected_slug, _, expected_fact = expected.partition("#")
    slug, _, fact = doc_id.partition("#")
    if slug != expected_slug:
        return False
    if not expected_fact:
        return True  # a fact of the expected item is a fine answer
    return accept_item and not fact


def judge(case: Case, result) -> Outcome:
    top = result.hits[0].doc_id if result.hits else "none"
    if result.confidence == "none":
        correct = case.expected == "none"
        return Outcome(case, "none", "none", correct, False)
    good = case.expected != "none" and matches(case.expected, top, case.accept_item)
    confident_wrong = result.confidence == "answer" and not good
    return Outcome(case, result.confidence, top, good, confident_wrong)


def evaluate(index, cases: list[Case]) -> list[Outcome]:
    return [judge(case, index.search(case.question)) for case in cases]


def summary(outcomes: list[Outcome]) -> tuple[float, float]:
    total = len(outcomes) or 1
    top1 = sum(o.correct for o in outcomes) / total
    wrong = sum(o.confident_wrong for o in outcomes) / total
    return top1, wrong


def build_index():
    from content.schema import load_catalog
    from content.search import Index, Tokenizer

    catalog = load_catalog()
    return Index.build(catalog.items, Tokenizer(catalog.dictionary, catalog.synonyms))


def main() -> int:
    outcomes = evaluate(build_index(), load_cases())
    top1, wrong = summary(outcomes)
    answered = sum(o.answered for o in outcomes) / (len(outcomes) or 1)
    for outcome in outcomes:
        if not outcome.correct:
            flag = "CONFIDENT-WRONG" if outcome.confident_wrong else "miss"
            print(f"{flag:15} {outcome.case.question}  expected={outcome.case.expected} "
                  f"got={outcome.got} ({outcome.confidence})")
    styles = sorted({o.case.style for o in outcomes if o.case.style})
    for style in styles:
        group = [o for o in outcomes if o.case.style == style]
        print(f"  {style:14} {sum(o.correct for o in group)}/{len(group)}")
    for batch in sorted({o.case.batch for o in outcomes if o.case.batch}):
        group = [o for o in outcomes if o.case.batch == batch]
        print(f"  batch {batch:8} {sum(o.correct for o in group)}/{len(group)}"
              f" (confident-wrong {sum(o.confident_wrong for o in group)})")
    print(f"questions: {len(outcomes)}  top-1: {top1:.1%} (min {MIN_TOP1:.0%})  "
          f"answered outright and right: {answered:.1%}  "
          f"confident-wrong: {wrong:.1%} (max {MAX_CONFIDENT_WRONG:.0%})")
    return 0 if top1 >= MIN_TOP1 and wrong <= MAX_CONFIDENT_WRONG else 1


if __name__ == "__main__":
    sys.exit(main())
