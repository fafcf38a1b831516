"""Answer quality on the labelled questions (tests/eval/queries.yaml); `make eval` prints the
details and exits non-zero below the issue's bar (95% top-1, at most 1% confidently wrong).

Figures: 76.7% and 2.4% on 2026-11-25; 88.9% and 0.4% after the first answer-quality round
of the same day; 95.9% and 0.0% after the second (535 questions, 40 of them written after its
changes: batches r2a and r2b). The bar is met; this test is a ratchet a little below what has
been reached (and so above the bar), so no change makes the bot worse unnoticed. Raise
RATCHET_* as the figures improve; never lower them below the bar."""

from __future__ import annotations

from content.schema import load_catalog
from tests.eval.run import build_index, evaluate, load_cases, summary

RATCHET_TOP1 = 0.955
RATCHET_CONFIDENT_WRONG = 0.004


def test_every_expected_answer_exists():
    catalog = load_catalog()
    known = {item.slug for item in catalog.items}
    known |= {f"{item.slug}#{fact.id}" for item in catalog.items for fact in item.facts}
    cases = load_cases()
    assert len(cases) >= 250
    assert len({case.question for case in cases}) == len(cases), "a question is there twice"
    unknown = [case.expected for case in cases if case.expected != "none"
               and case.expected not in known]
    assert not unknown
    assert sum(case.expected == "none" for case in cases) >= 25
    covered = {case.expected.partition("#")[0] for case in cases}
    assert known.intersection(covered) >= {item.slug for item in catalog.items}


def test_answer_quality_meets_the_bar():
    outcomes = evaluate(build_index(), load_cases())
    top1, wrong = summary(outcomes)
    misses = [f"{o.case.question} -> {o.got} ({o.confidence}), expected {o.case.expected}"
              for o in outcomes if not o.correct]
    assert top1 >= RATCHET_TOP1, f"top-1 {top1:.1%}:\n" + "\n".join(misses)
    assert wrong <= RATCHET_CONFIDENT_WRONG, (f"confident-wrong {wrong:.1%}:\n"
                                              + "\n".join(misses))
