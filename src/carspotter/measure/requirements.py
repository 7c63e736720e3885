"""Release gates for CI: ``--require "top1>=0.80"`` conditions on the figures ``carspotter evaluate`` measures.

Grammar: ``[TARGET:]METRIC[.BOUND] OP NUMBER``

- TARGET: a column key (``onnx/fp32``, ``tflite/fp16``, ``keras``, ``app/mediapipe``); without it the
  condition applies to every shipped format variant (not to the reference or the app paths).
- METRIC: ``top1``, ``top3``, ``precision`` and ``coverage`` (at the bundle's threshold),
  ``not_car_rate`` (proportions, 0..1, each with its Wilson 95 % interval); ``ece``, ``nll``
  (no interval); ``delta_top1`` (minus the ``--baseline`` bundle's top-1 on the same photos,
  -1..1, with Newcombe's paired interval).
- BOUND: ``low`` or ``high``, the 95 % interval's bound instead of the figure itself:
  ``top1.low>=0.75`` demands that the interval's lower bound reach 75 %.
- OP: ``>=``, ``>``, ``<=``, ``<``; NUMBER: a decimal (``0.8``) or a percentage (``80%``).
"""

from __future__ import annotations

import operator
import re
from dataclasses import dataclass

from carspotter.util.errors import UsageError

METRICS = ("top1", "top3", "precision", "coverage", "not_car_rate", "ece", "nll", "delta_top1")
WITH_INTERVAL = ("top1", "top3", "precision", "coverage", "not_car_rate", "delta_top1")
OPS = {">=": operator.ge, ">": operator.gt, "<=": operator.le, "<": operator.lt}
_PATTERN = re.compile(
    r"^\s*(?:(?P<target>[\w./-]+):)?(?P<metric>[a-z_0-9]+)(?:\.(?P<bound>low|high))?\s*"
    r"(?P<op>>=|<=|>|<)\s*(?P<number>-?\d+(?:\.\d+)?)(?P<pct>%)?\s*$"
)


@dataclass(frozen=True)
class Requirement:
    """One parsed condition (see the module docstring)."""

    text: str
    target: str | None
    metric: str
    bound: str | None
    op: str
    number: float

    @classmethod
    def parse(cls, text: str) -> "Requirement":
        """Raises: UsageError: empty, malformed, an unknown metric, or a bound on a figure without an interval."""
        if not text or not text.strip():
            raise UsageError(
                '--require "": empty condition; write e.g. --require "top1>=0.80" or "FORMAT/VARIANT:top1.low>=0.7"'
            )
        m = _PATTERN.match(text)
        if m is None:
            raise UsageError(f'--require "{text}": not [TARGET:]METRIC[.low|.high] OP NUMBER, e.g. "top1>=0.80"')
        metric, bound = m["metric"], m["bound"]
        if metric not in METRICS:
            raise UsageError(f'--require "{text}": unknown figure {metric}; choose from {", ".join(METRICS)}')
        if bound and metric not in WITH_INTERVAL:
            raise UsageError(f'--require "{text}": {metric} has no interval; drop .{bound}')
        number = float(m["number"]) / (100 if m["pct"] else 1)
        return cls(text.strip(), m["target"], metric, bound, m["op"], number)

    def value(self, figures: dict) -> float | None:
        """The figure (or its bound) this condition reads in one column's figures, or None when absent."""
        fig = figures.get(self.metric)
        if fig is None:
            return None
        if isinstance(fig, dict):
            key = self.bound or ("difference" if self.metric == "delta_top1" else "value")
            return fig.get(key)
        return None if self.bound else float(fig)

    def check(self, key: str, figures: dict) -> str | None:
        """None when the condition holds for column ``key``, else one line saying what failed and by how much."""
        value = self.value(figures)
        what = f"{self.metric}{'.' + self.bound if self.bound else ''}"
        if value is None:
            return f"{key}: {self.text}: {what} was not measured" + (
                " (no --baseline)" if self.metric == "delta_top1" else ""
            )
        if OPS[self.op](value, self.number):
            return None
        return f"{key}: {self.text}: {what} is {value:.4f}, not {self.op} {self.number:g}"


def parse_all(texts: list[str] | None) -> list[Requirement]:
    """Every ``--require`` value parsed (none given: an empty list)."""
    return [Requirement.parse(t) for t in (texts or [])]


def failures(requirements: list[Requirement], columns: dict[str, dict], shipped: list[str]) -> list[str]:
    """One line per failed condition over ``columns`` (key -> figures); untargeted conditions apply to ``shipped``.

    Raises:
        UsageError: a condition names a column that was not evaluated.
    """
    out = []
    for req in requirements:
        keys = [req.target] if req.target else shipped
        for key in keys:
            if key not in columns:
                raise UsageError(f'--require "{req.text}": no column {key}; evaluated: {", ".join(columns)}')
            line = req.check(key, columns[key])
            if line:
                out.append(line)
    return out
