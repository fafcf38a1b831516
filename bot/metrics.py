"""The service's metrics, all defined here; `/metrics` renders them as Prometheus text.

Callers name a metric and its labels (``metrics.incr("handled", rule="faq")``) and never
import prometheus_client. One process (`hotline serve`, tests): each Metrics counts in its
own registry. Several (gunicorn's workers): prometheus_client's multiprocess mode, chosen by
PROMETHEUS_MULTIPROC_DIR, which deploy/gunicorn.conf.py sets before the app (and with it
prometheus_client) is imported. Every process then writes its values to files in that
directory, and a scrape, whichever worker answers it, sums them all (files one directory
further down too: another process, such as the scheduler, may write into a subdirectory).
"""

from __future__ import annotations

import glob
import os
from collections.abc import Iterable, Mapping
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    values,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector

PREFIX = "hotline_"
CONTENT_TYPE = CONTENT_TYPE_LATEST
MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"
# name (without the prefix and `_total`) -> (help, label names)
COUNTERS: dict[str, tuple[str, tuple[str, ...]]] = {
    "http_requests": ("HTTP requests by route (the URL rule), method and status",
                      ("route", "method", "status")),
    "webhook_refused": ("Webhook requests refused, by HTTP status", ("reason",)),
    "dedupe_hits": ("WeChat retries answered with the first answer", ()),
    "handled": ("Messages answered, by the rule that answered", ("rule",)),
    "handler_errors": ("Handlers that failed (the subscriber got the apology)", ()),
    "deferred": ("Handlers past the reply budget, answered later", ()),
    "taken_over": ("Retries that answered a message whose first handling died", ()),
    "wechat_api_calls": ("Outbound WeChat API calls by endpoint and result (ok or errcode)",
                         ("endpoint", "result")),
    "pushes": ("Push sends by result (sent, deferred, retry, failed, held, cancelled)",
               ("result",)),
    "metrics_errors": ("Figures a scrape could not read (their lines were left out)",
                       ("source",)),
}
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class Metrics:
    """The counters and the request histogram of one process (or one app in tests). In
    multiprocess mode keep one per process: two would write the same series over each other."""

    def __init__(self) -> None:
        self.directory = os.environ.get(MULTIPROCESS_ENV) or None
        if self.directory and values.ValueClass is values.MutexValue:
            raise RuntimeError(f"{MULTIPROCESS_ENV} was set after prometheus_client was "
                               "imported: set it before the app is imported")
        self.registry = CollectorRegistry()
        self._counters = {
            name: Counter(PREFIX + name, text, labels, registry=self.registry)
            for name, (text, labels) in COUNTERS.items()}
        self._latency = Histogram(PREFIX + "http_request_seconds",
                                  "Time to answer an HTTP request, by route", ("route",),
                                  buckets=LATENCY_BUCKETS, registry=self.registry)
        self._children: dict[tuple, Any] = {}
        self._requests: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    def incr(self, name: str, amount: float = 1, **labels: str) -> None:
        """Add to counter `name` (a KeyError for a name not in COUNTERS)."""
        key = (name, *labels.items())
        child = self._children.get(key)
        if child is None:
            counter = self._counters[name]
            child = self._children[key] = counter.labels(**labels) if labels else counter
        child.inc(amount)

    def observe_request(self, route: str, method: str, status: int, seconds: float) -> None:
        """One HTTP request: `route` is the URL rule (never the raw path)."""
        if method not in METHODS:
            method = "other"  # any word a client sends must not become a label
        key = (route, method, status)
        pair = self._requests.get(key)
        if pair is None:
            pair = self._requests[key] = (
                self._counters["http_requests"].labels(route, method, str(status)),
                self._latency.labels(route))
        pair[0].inc()
        pair[1].observe(seconds)

    def value(self, name: str, **labels: str) -> float:
        """Counter `name` as this process counted it (for tests and the CLI)."""
        found = self.registry.get_sample_value(f"{PREFIX}{name}_total", labels)
        return found or 0.0

    def render(self, cases: Mapping[str, int] | None = None,
               overdue: int | None = None) -> bytes:
        """Prometheus text: the counters (summed over all processes in multiprocess mode),
        then the figures read at scrape time; None leaves a figure's lines out."""
        text = generate_latest(self._source())
        return text + generate_latest(_Fixed(list(_case_families(cases, overdue))))

    def _source(self) -> CollectorRegistry:
        if not self.directory:
            return self.registry
        merged = CollectorRegistry()
        merged.register(_Files(self.directory))
        return merged


class _Files:
    """The multiprocess files of this directory and of its subdirectories, summed."""

    def __init__(self, directory: str) -> None:
        self.directory = directory

    def collect(self) -> Iterable[Metric]:
        files = [*glob.glob(os.path.join(self.directory, "*.db")),
                 *glob.glob(os.path.join(self.directory, "*", "*.db"))]
        return MultiProcessCollector.merge(files, accumulate=True)


class _Fixed:
    """A registry-like source of metric families made at scrape time."""

    def __init__(self, families: list[Metric]) -> None:
        self.families = families

    def collect(self) -> Iterable[Metric]:
        return self.families


def _case_families(cases: Mapping[str, int] | None, overdue: int | None) -> Iterable[Metric]:
    if cases is not None:
        family = GaugeMetricFamily(PREFIX + "cases", "Cases by state", labels=("state",))
        for state, count in cases.items():
            family.add_metric((state,), count)
        yield family
    if overdue is not None:
        yield GaugeMetricFamily(PREFIX + "cases_overdue", "Open cases past their deadline",
                                value=overdue)
