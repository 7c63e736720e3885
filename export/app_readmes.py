"""The shared sections of the platform READMEs (input and output, self-test, resizing, when to show the answer).

Each format's own README text lives in its format module, in its platform package
(:class:`carspotter.export.platform_package.PlatformPackage`).

Only values we control go into the text (file names, sizes, counts); class names are
never pasted into code samples: apps read them from ``labels.txt``.
"""

from __future__ import annotations


from carspotter.contracts.runfolder import Confidence
from carspotter.export.platform_package import package_for
from carspotter.model.format_spec import FormatSpec
from carspotter.model.spec import PIXEL_RANGE, InputSpec


def common(spec: InputSpec, n_classes: int) -> str:
    """Input and output sections, from the model's input spec."""
    s = spec.size
    return f"""## Input
- `{spec.name}`: an {spec.color} photo, EXIF orientation applied, resized to {s}x{s} by **stretching**
  (aspect ratio not kept) with the reference resize: a photo more than twice S on a side first box-reduced by an
  integer factor per axis, then a bilinear resize without antialiasing (see "Resizing"; the package does both). Pixel values are raw **{PIXEL_RANGE[0]}..{PIXEL_RANGE[1]}**: do not
  normalize, the model rescales inside itself.
- Layout {spec.layout} `[1, {s}, {s}, 3]`, {spec.dtype}.

## Output
Probabilities 0..1 for {n_classes} classes, in the order of `labels.txt` (UTF-8, one class per
line, line k = index k). Show the top 3: the model is trained and checked for top-3.
"""


def selftest_section(fmt: FormatSpec) -> str:
    """How to run the format's self-test and what a failure means (bundles with a golden set)."""
    return "\n" + package_for(fmt.name).texts.selftest


def resize_section(fmt: FormatSpec, rows: list[dict] | None, photos: int) -> str:
    """ "Resizing": which resize to use on the format's platform, with every app path's measured agreement
    (rows of the manifest's ``app_paths``; None: not measured, ``export --no-app-paths``; empty: the test
    photos had no files to decode)."""
    lines = ["", "## Resizing", "", package_for(fmt.name).texts.resize_advice, ""]
    if not rows:
        why = "`carspotter export --no-app-paths`" if rows is None else "the run's test photos had no files to decode"
        lines.append(
            f"Other resizers (app paths) were not measured at export ({why}); `carspotter parity BUNDLE` "
            "measures them against the reference."
        )
        return "\n".join(lines) + "\n"
    lines += [
        f"Measured at export on the run's {photos} test photos (original files, each resized by the path, then "
        "an fp32 model; agreement = same top-1 as the reference on our pixels; gate: top-1 agreement >= 98 % (99.5 % "
        "for this bundle's own packages, `npm-*`) and top-1 accuracy within 1 point of the reference):",
        "",
        "| path | who resizes this way | top-1 agreement | ordered top-3 agreement | top-1 (reference) | max abs dp | gate |",
        "|---|---|---:|---:|---|---:|---|",
    ]
    for r in rows:
        if "skipped" in r:
            lines.append(f"| {r['path']} | {r['client']} | not measured: {r['skipped']} | | | | |")
            continue
        acc = f"{r['top1']:.1%} ({r['reference_top1']:.1%})" if r.get("top1") is not None else "-"
        lines.append(
            f"| {r['path']} | {r['client']} | {r['top1_agreement']:.1%} | {r['top3_agreement']:.1%} | {acc} | "
            f"{r['max_abs_diff']:.3f} | {'passes' if r['gate_passed'] else 'misses'} |"
        )
    return "\n".join(lines) + "\n"


def roi_section(fmt: FormatSpec) -> str:
    """ "Region of interest": the ROI semantics every package shares and how this platform's apps pass one."""
    from carspotter.model.roi import RULE

    advice = package_for(fmt.name).texts.roi_advice
    if not advice:
        return ""
    return (
        "\n## Region of interest: when the car is a part of the photo\n\n"
        "A car a quarter of a 12 MP frame, squashed with everything else to the model's input, is a few dozen "
        "pixels wide: accuracy falls towards chance. Give the classifier the car's box and it sees the car at full "
        "resolution. A ROI is `x0, y0, x1, y1` in whole pixels of the **upright** photo (after the EXIF "
        f"orientation), half-open, inside the photo ({RULE}); its pixels are cut before the resize, exactly as "
        "`carspotter predict --roi` does (checked on the golden set's ROI vectors). A ROI that is empty, "
        "negative, NaN or outside the photo is refused with one error, never clipped.\n\n" + advice + "\n"
    )


def _pct(x: float | None) -> str:
    return "not measured" if x is None else f"{x:.1%}"


def confidence_section(fmt: FormatSpec, conf: Confidence | None) -> str:
    """ "When to show the answer": the run's calibrated threshold and what it keeps, with the
    platform's code (README section; empty for a run trained before carspotter calibrated)."""
    if conf is None:
        return ""
    cal = conf.calibration
    temp = (
        f"The probabilities are calibrated: the logits are divided by a temperature T = {conf.temperature:.3f} "
        f"fitted on the validation split (Guo et al. 2017), inside the model"
        if conf.temperature != 1.0
        else "The probabilities are the model's own (temperature scaling was fitted on the validation split but did not "
        "lower its cross-validated log-loss by 1 %, so T = 1)"
    )
    if cal:
        temp += f"; expected calibration error on the test split {cal['ece_before']:.3f} before, {cal['ece_after']:.3f} after fitting"
    text = f"\n## When to show the answer\n\n{temp}.\n\n"
    if conf.threshold is None:
        return text + (
            f"No confidence threshold could be chosen for {conf.target_precision:.0%} precision "
            f"({conf.reason}). Show the top 3 and let the user pick.\n"
        )
    neg = conf.negative_class
    text += (
        f"**Show the answer only when its probability is at least {conf.threshold:.3f}; otherwise ask for a closer "
        f"photo.** Chosen on the validation split for {conf.target_precision:.0%} precision of the answers shown; on "
        f"the test split it shows {_pct(conf.test_coverage)} of the photos, {_pct(conf.test_precision)} of them right."
    )
    if neg:
        text += f" The model also knows `{neg}` (trained on photos that are none of the classes): say so when it is the top-1."
    if conf.not_car:
        text += (
            f" On {conf.not_car['count']} images that are not cars (photos shipped with scikit-image, flat colours, "
            f"noise, patterns) this rule rejects {_pct(conf.not_car['rejected'])}."
        )
    texts = package_for(fmt.name).texts
    code = texts.threshold_code.format(t=f"{conf.threshold:.3f}", neg=texts.not_car.format(name=neg) if neg else "")
    return text + "\n\n" + code + "\n"
