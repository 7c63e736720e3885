"""Which variant of a format becomes its default file: the smallest, then fastest, that passes its gates.

A candidate must be shipped (its accuracy gate passed, or gates not enforced), be allowed to
be a default (:attr:`carspotter.model.format_spec.VariantSpec.default_ok`: not a server or
ORT-format copy, not a variant needing a newer OS than the platform package), pass the parity
suite's top-3 rule on the run's test photos at its precision's tolerance (int8 and lowbit as a rate:
:mod:`carspotter.measure.parity_rule`; parity checks a format's
default file by that rule, so a variant whose gate passed on top-1 agreement but whose top-3 order
moves beyond a near-tie stays beside the default instead of failing ``carspotter parity``), and, where the
format gates its phone accelerators (:attr:`~carspotter.model.format_spec.Checks.accelerator_gate`),
pass that check. Among candidates the smallest file wins; equal sizes (within 1 %) go to the
lower measured latency on this machine (``ms_per_photo``; an untimed runtime, such as the MIL
reference execution, counts as unknown and sorts last). The reason names the winner's size and
gates and the runner-up it beat.
"""

from __future__ import annotations

from carspotter.contracts.manifest_entries import VariantRecord
from carspotter.model.format_spec import FormatSpec
from carspotter.util.errors import ExportError

SIZE_TIE = 0.01
"""Sizes within this fraction of each other count as equal, and speed decides."""


def _mib(n: int) -> str:
    return f"{n / 2**20:.1f} MiB"


def _rule_failure(r: VariantRecord) -> str:
    rule = r.figures.parity
    return (
        f"top-3 rule fails on {rule.mismatches} of {r.figures.photos} photos (tau {rule.tau:g}, "
        f"max |dp| {r.figures.max_abs_diff:.2e})"
    )


def candidates(
    fmt: FormatSpec, records: dict[str, VariantRecord], require_rule: bool = True
) -> tuple[list[str], dict[str, str]]:
    """``(names that may become the default, {name: why not} for the other shipped variants)``; with
    ``require_rule=False`` the top-3 rule is not asked for (:func:`choose_default`'s fallback)."""
    ok, why = [], {}
    for name, r in records.items():
        if not r.shipped:
            continue
        spec = fmt.variant(name)
        passed, text = (
            fmt.checks.accelerator_gate(r.accelerators)
            if fmt.checks.accelerator_gate is not None and r.accelerators is not None
            else (True, "")
        )
        if not spec.default_ok:
            why[name] = spec.use or "not made to be a default"
        elif not passed:
            why[name] = text
        elif require_rule and not r.figures.parity.passed:
            why[name] = f"{_rule_failure(r)}; parity checks the default by it"
        else:
            ok.append(name)
    return ok, why


def choose_default(fmt: FormatSpec, records: dict[str, VariantRecord]) -> tuple[str, str]:
    """``(default variant name, reason)`` for one format's built variants.

    Raises:
        ExportError: no shipped variant may become the default (each one's reason named).
    """
    if not records:
        raise ExportError(f"no {fmt.name} variant was selected")
    ok, why = candidates(fmt, records)
    relaxed = candidates(fmt, records, require_rule=False) if not ok else None
    warning = ""
    if relaxed and relaxed[0]:
        # every possible default moves the top-3 beyond a near-tie: ship the best of them, and say parity will fail
        ok, why = relaxed
        fails = "; ".join(f"{n}: {_rule_failure(records[n])}" for n in ok)
        warning = f"no variant that may be the default passes the top-3 rule on the test photos ({fails}), so parity will fail this file; "
    if not ok:
        left = [f"{n}: {r.gate}" for n, r in records.items() if not r.shipped] + [f"{n}: {w}" for n, w in why.items()]
        raise ExportError(f"no {fmt.name} variant can be the default: " + "; ".join(left))
    best, reason = _pick(fmt, records, ok, why)
    return best, warning + reason


def _pick(fmt: FormatSpec, records: dict[str, VariantRecord], ok: list[str], why: dict[str, str]) -> tuple[str, str]:
    """The smallest, then fastest, of the candidates ``ok``, and the reason naming the others."""
    if len(records) == 1:
        return ok[0], "the only variant built"

    def key(name: str):
        r = records[name]
        return r.bytes, r.ms_per_photo if r.ms_per_photo is not None else float("inf")

    ranked = sorted(ok, key=key)
    smallest = [n for n in ranked if records[n].bytes <= records[ranked[0]].bytes * (1 + SIZE_TIE)]
    best = min(smallest, key=lambda n: key(n)[1])
    r = records[best]
    accel = (
        f"; {fmt.checks.accelerator_gate(r.accelerators)[1]}" if fmt.checks.accelerator_gate and r.accelerators else ""
    )
    if len(ok) == 1:
        reason = f"the only variant built that may be the default ({_mib(r.bytes)}; {r.gate}{accel})"
    elif len(smallest) > 1 and r.ms_per_photo is not None:
        reason = (
            f"smallest variants within {SIZE_TIE:.0%} in size: {', '.join(smallest)}; the fastest on this machine "
            f"({r.ms_per_photo:.1f} ms per photo); {r.gate}{accel}"
        )
    elif len(smallest) > 1:
        reason = (
            f"smallest variants within {SIZE_TIE:.0%} in size: {', '.join(smallest)}, untimed here; the smallest "
            f"({_mib(r.bytes)}); {r.gate}{accel}"
        )
    else:
        reason = f"smallest variant that passes its gates ({_mib(r.bytes)}; {r.gate}{accel})"
    others = [n for n in ranked if n != best]
    if others:
        reason += f"; next: {others[0]} ({_mib(records[others[0]].bytes)})"
    failed = [n for n, rec in records.items() if not rec.shipped]
    if failed:
        reason += f"; left out by their gates: {', '.join(failed)}"
    if why:
        reason += "; not candidates: " + "; ".join(f"{n} ({w})" for n, w in why.items())
    return best, reason
