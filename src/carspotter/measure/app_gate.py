"""The gate of an app path, separate from the exact-pixel rule of parity."""

from __future__ import annotations

from dataclasses import dataclass

from carspotter.measure.app_figures import PathFigures
from carspotter.measure.parity_rule import APP_PATH_MIN_MARGIN
from carspotter.measure.resizers import PATHS


@dataclass(frozen=True)
class AppGate:
    """The gate of an app path, separate from the exact-pixel rule.

    On a run's photos (true labels known): top-1 accuracy within ``max_top1_drop`` of the
    reference's and top-1 agreement with the reference at least ``min_agreement`` (fp32
    formats, decisive model). On the golden set (half of it chosen for the smallest margins,
    so agreement there is low by design): no decisive photo (margin >= ``min_margin``) flips.
    """

    max_top1_drop: float = 0.01
    min_agreement: float = 0.98
    min_margin: float = APP_PATH_MIN_MARGIN

    def judge(self, fig: PathFigures, golden: bool) -> tuple[bool, str]:
        """``(passed, one-line verdict with the margins)``."""
        if golden:
            ok = not fig.decisive_flips
            return ok, (
                f"{len(fig.decisive_flips)} of {fig.decisive} decisive photos (margin >= {self.min_margin}) "
                f"changed their top-1; top-1 agreement {fig.top1_agreement:.1%} (all photos)"
            )
        path = PATHS.get(fig.path)
        need = path.min_agreement if path is not None and path.min_agreement is not None else self.min_agreement
        parts, ok = [f"top-1 agreement {fig.top1_agreement:.1%} (min {need:.1%})"], fig.top1_agreement >= need
        if fig.top1 is not None:
            drop = fig.reference_top1 - fig.top1
            ok = ok and drop <= self.max_top1_drop + 1e-12
            parts.append(
                f"top-1 accuracy {fig.top1:.1%} vs reference {fig.reference_top1:.1%} "
                f"(drop {drop * 100:.1f} points, max {self.max_top1_drop * 100:.1f})"
            )
        return ok, "; ".join(parts)
