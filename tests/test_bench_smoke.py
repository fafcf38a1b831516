"""The search benchmark's own code, run at a toy size so that `make test` notices when a change
to the search leaves `make bench` broken (it reaches into the index to time the stages)."""

from __future__ import annotations

import pytest

from tests.bench import search as bench

SIZES = (150, 300, 600)  # stand-ins for 1k, 10k, 100k


@pytest.fixture()
def small(monkeypatch):
    monkeypatch.setattr(bench, "SIZES", SIZES)
    monkeypatch.setattr(bench, "BUILDS", dict.fromkeys(SIZES, 2))
    monkeypatch.setattr(bench, "TIMED_ROUNDS", 1)


def test_search_bench_runs_at_a_small_size(small, capsys):
    from content.schema import load_catalog
    from content.search import Tokenizer
    from tests.bench.search_corpus import Generator

    catalog = load_catalog()
    tokenizer = Tokenizer(catalog.dictionary, catalog.synonyms)
    generator = Generator(catalog, tokenizer)
    queries = bench.make_queries(catalog, generator)
    results = []
    for size in SIZES:
        items = generator.corpus(size)
        assert len(items) == size
        result = bench.bench_size(size, items, tokenizer, queries)
        result.rebuilds_cpu, result.same_as_cold = bench.bench_rebuilds(size, items, tokenizer,
                                                                        generator)
        assert len(result.times) == len(queries)
        assert set(result.stages) == {"normalize", "terms", "score", "rest"}
        assert all(len(times) == len(queries) for times in result.stages.values())
        assert result.same_as_cold is True  # a rebuild after an edit equals a cold build
        assert result.top1_real > 0.8  # the real questions still find their items
        results.append(result)

    checks = bench.report(results, queries, 0.0, [0.1])
    assert [label for label, _, _ in checks][0] == "p99 <= 1 ms at 10k items"
    assert all(isinstance(ok, bool) for _, _, ok in checks)
    assert "ratios (noise-resistant)" in capsys.readouterr().out
