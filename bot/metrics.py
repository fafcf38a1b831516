"""In-process counters, labelled; rendered as Prometheus text by `/metrics`."""

from __future__ import annotations

import threading
from collections import Counter


class Metrics:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[tuple[str, tuple[tuple[str, str], ...]]] = Counter()

    def incr(self, name: str, amount: float = 1, **labels: str) -> None:
        key = (name, tuple(sorted(labels.items())))
        with self._lock:
            self._counts[key] += amount

    def value(self, name: str, **labels: str) -> float:
        return self._counts.get((name, tuple(sorted(labels.items()))), 0)

    def render(self, prefix: str = "hotline_") -> str:
        lines = []
        with self._lock:
            items = sorted(self._counts.items())
        for (name, labels), value in items:
            label_text = ",".join(f'{k}="{v}"' for k, v in labels)
            lines.append(f"{prefix}{name}_total{{{label_text}}} {value:g}")
        return "\n".join(lines) + "\n"
