"""What a parity check is and what it finds (:mod:`carspotter.parity.checks`): :class:`Check`, :class:`Outcome`, and
the exceptions a check raises to skip (:class:`Skip`) or fail (:class:`CheckFailed`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from carspotter.measure.parity_rule import ParityResult
from carspotter.parity.context import ParityContext


class Skip(Exception):
    """A check that cannot run on this machine; the message says why."""


class CheckFailed(Exception):
    """A check whose condition does not hold; the message says which and by how much."""


@dataclass
class Outcome:
    """What one check found.

    Attributes:
        check: the check's id.
        status: ``passed``, ``failed``, ``skipped``, or ``missed`` (an app path's gate, reported
            without failing the run unless the gate is enforced).
        message: the verdict for people (the reason, for a failure or a skip).
        result: the top-3 comparison, for checks that compare probabilities.
        facts: what a structure or variant check recorded.
    """

    check: str
    status: str
    message: str = ""
    result: ParityResult | None = None
    facts: dict = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return self.status == "passed"


@dataclass(frozen=True)
class Check:
    """One check: an id (``golden:tflite/litert``, ``variant/onnx/fp32``, ...) and the function running it."""

    id: str
    run: Callable[[ParityContext], Outcome]

    def __str__(self) -> str:
        return self.id
