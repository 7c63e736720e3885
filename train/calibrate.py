"""After training: calibrated probabilities, a "not sure" threshold and not-a-car figures for the run.

0. The val split is cut in two, seeded and per class (:func:`calibration_part`): one part stops
   training early, the other (``--calibration-fraction``, default half) fits the temperature and
   the threshold, so neither choice is made on photos that already chose the other (a val split
   too small for two parts of :data:`~carspotter.measure.calibration.MIN_VAL_FOR_TEMPERATURE`
   photos is used whole for both, and the record says so).
1. Logits of the calibration part and the val and test splits (pooled features x the dense head's weights, float64).
2. Temperature scaling fitted on the calibration part (:func:`carspotter.measure.calibration.choose_temperature`) and,
   when adopted, folded into the model: the head's kernel and bias divided by T, so
   ``softmax((x W + b) / T)`` is what every exported format computes with no new layer.
3. The confidence threshold for the target precision of accepted answers, chosen on the calibration
   part, measured on test.
4. The non-car sets of :mod:`carspotter.measure.notcar`: fraction rejected (top-1 probability under
   the threshold, or top-1 the ``(not a car)`` class), and the AUROC of the top-1 car
   probability between test car photos and non-car images (Hendrycks & Gimpel 2017).
"""

from __future__ import annotations

import numpy as np

from carspotter.measure import calibration as cal
from carspotter.model.spec import OUTPUT_NAME


def logits_of(model, pixels: np.ndarray, rows: np.ndarray, batch: int) -> np.ndarray:
    """``[n, C]`` float64 logits of the reference model for ``pixels[rows]`` (``[n, S, S, 3]`` raw RGB).

    The head is ``Dense(softmax)`` after dropout (identity at inference), so the logits are the
    pooled features times the dense kernel plus its bias.
    """
    import keras

    features = keras.Model(model.input, model.get_layer("dropout").output)
    kernel, bias = model.get_layer(OUTPUT_NAME).get_weights()
    if not len(rows):
        return np.zeros((0, len(bias)))
    out = []
    for start in range(0, len(rows), batch):
        # Called eagerly (not predict_on_batch): a last, smaller batch does not retrace a tf.function.
        out.append(np.asarray(features(np.asarray(pixels[rows[start : start + batch]], np.float32), training=False)))
    f = np.concatenate(out).astype(np.float64)
    return f @ kernel.astype(np.float64) + bias.astype(np.float64)


DEFAULT_CALIBRATION_FRACTION = 0.5
"""Share of the val split set aside for calibration (temperature and threshold), the rest stopping training early."""


def calibration_part(labels: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray, dict]:
    """Cut the val split in two: ``(early-stopping positions, calibration positions, record)``, positions into ``labels``.

    Per class, ``round(fraction x n_c)`` photos (seeded) go to calibration. When ``fraction`` is 0, or either part
    would hold fewer than :data:`~carspotter.measure.calibration.MIN_VAL_FOR_TEMPERATURE` photos, every val photo
    serves both (the record's ``disjoint`` is False and ``reason`` says why).
    """
    labels = np.asarray(labels)
    n = len(labels)
    everything = np.arange(n)
    record = {"fraction": fraction, "val_photos": int(n)}
    if fraction <= 0:
        return (
            everything,
            everything,
            {
                **record,
                "disjoint": False,
                "calibration_photos": int(n),
                "reason": "--calibration-fraction 0: temperature and threshold fitted on the "
                "photos that stopped training early",
            },
        )
    rng = np.random.default_rng(seed)
    chosen = []
    for c in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == c))
        chosen += members[: int(round(fraction * len(members)))].tolist()
    cal_idx = np.array(sorted(chosen), dtype=np.int64)
    stop_idx = np.setdiff1d(everything, cal_idx)
    if min(len(cal_idx), len(stop_idx)) < cal.MIN_VAL_FOR_TEMPERATURE:
        return (
            everything,
            everything,
            {
                **record,
                "disjoint": False,
                "calibration_photos": int(n),
                "reason": f"val split of {n} photos: too small for two parts of at least "
                f"{cal.MIN_VAL_FOR_TEMPERATURE}; temperature and threshold fitted on "
                "the photos that stopped training early",
            },
        )
    return (
        stop_idx,
        cal_idx,
        {
            **record,
            "disjoint": True,
            "calibration_photos": int(len(cal_idx)),
            "early_stopping_photos": int(len(stop_idx)),
            "reason": f"{len(cal_idx)} of the {n} val photos (seeded, per class) fit temperature and "
            f"threshold; the other {len(stop_idx)} stopped training early",
        },
    )


def fold_temperature(model, temperature: float) -> None:
    """Divide the dense head's kernel and bias by ``temperature`` in place (no-op for T = 1)."""
    if temperature == 1.0:
        return
    layer = model.get_layer(OUTPUT_NAME)
    kernel, bias = layer.get_weights()
    layer.set_weights([(kernel / temperature).astype(kernel.dtype), (bias / temperature).astype(bias.dtype)])


def _split_figures(logits: np.ndarray, labels: np.ndarray, temperature: float) -> dict:
    """NLL and ECE of one split at T = 1 and at ``temperature``."""
    before, after = cal.softmax(logits), cal.softmax(logits, temperature)
    return {
        "count": int(len(labels)),
        "nll_before": cal.nll(logits, labels),
        "nll_after": cal.nll(logits, labels, temperature),
        "ece_before": cal.ece(before, labels),
        "ece_after": cal.ece(after, labels),
        "reliability_before": cal.reliability(before, labels),
        "reliability_after": cal.reliability(after, labels),
    }


def car_score(probs: np.ndarray, negative_class: int | None) -> np.ndarray:
    """``[N]`` top-1 probability over the car classes (the ``(not a car)`` class left out)."""
    if negative_class is None:
        return probs.max(axis=1)
    return np.delete(probs, negative_class, axis=1).max(axis=1)


def rejected(probs: np.ndarray, threshold: float | None, negative_class: int | None) -> np.ndarray:
    """``[N]`` bool: the app would not name a car (top-1 under ``threshold`` or top-1 the negatives class)."""
    out = np.zeros(len(probs), bool) if threshold is None else probs.max(axis=1) < threshold
    if negative_class is not None:
        out |= probs.argmax(axis=1) == negative_class
    return out


def not_car_figures(
    model,
    size: int,
    batch: int,
    test_probs: np.ndarray,
    test_labels: np.ndarray,
    temperature: float,
    threshold: float | None,
    negative_class: int | None,
) -> dict:
    """Figures of the non-car sets (:func:`carspotter.measure.notcar.not_car_set`) under the calibrated model.

    Returns:
        ``{"count", "rejected", "auroc", "mean_top1", "by_source": {source: {...}}, "images": [{name, top1, label, rejected}]}``
        (rates 0..1); ``auroc`` compares test car photos (true class not ``(not a car)``) with the non-car set.
    """
    from carspotter.measure.notcar import not_car_set

    names, sources, pixels = not_car_set(size)
    probs = cal.softmax(logits_of(model, pixels, np.arange(len(pixels)), batch), temperature)
    is_car = test_labels != negative_class if negative_class is not None else np.ones(len(test_labels), bool)
    in_score, out_score = car_score(test_probs[is_car], negative_class), car_score(probs, negative_class)
    rej = rejected(probs, threshold, negative_class)

    def figures(sel: np.ndarray) -> dict:
        return {
            "count": int(sel.sum()),
            "rejected": float(rej[sel].mean()),
            "mean_top1": float(out_score[sel].mean()),
            "auroc": cal.auroc(in_score, out_score[sel]),
        }

    src = np.array(sources)
    return {
        **figures(np.ones(len(names), bool)),
        "by_source": {s: figures(src == s) for s in sorted(set(sources))},
        "images": [
            {"name": n, "top1": float(out_score[i]), "class_index": int(probs[i].argmax()), "rejected": bool(rej[i])}
            for i, n in enumerate(names)
        ],
    }


def confidence(
    model,
    pixels: np.ndarray,
    rows: dict,
    labels: dict,
    classes: list[str],
    size: int,
    batch: int,
    target_precision: float,
    negative_class: int | None,
    log,
) -> tuple[dict, dict]:
    """Fit, fold and measure; the ``confidence`` record of run.json and the calibrated probabilities.

    Args:
        model: the trained reference model; its head is changed in place when T is adopted.
        pixels: decoded photos ``[M, S, S, 3]``; ``rows[split]`` / ``labels[split]`` index them; with a
            ``calibration`` entry (:func:`calibration_part`) temperature and threshold are fitted there, else on ``val``.
        target_precision: wanted precision (0..1) of the answers shown above the threshold.
        negative_class: index of ``(not a car)`` when the run has ``--negatives``, else None.
        log: one-line logger.

    Returns:
        ``(record, {"val": [n, C], "test": [n, C], ...} calibrated probabilities)``.
    """
    fit = "calibration" if "calibration" in rows else "val"
    logits = {s: logits_of(model, pixels, rows[s], batch) for s in dict.fromkeys((fit, "val", "test"))}
    temp = cal.choose_temperature(logits[fit], labels[fit])
    log(f"calibration: {temp.reason}")
    fitted = temp.fitted or 1.0
    fold_temperature(model, temp.value)
    probs = {s: cal.softmax(logits[s], temp.value) for s in logits}
    threshold, why = cal.choose_threshold(probs[fit], labels[fit], target_precision)
    log(f"confidence threshold: {why}")
    record = {
        "temperature": temp.to_json(),
        "splits": {s: _split_figures(logits[s], labels[s], fitted) for s in logits},
        "fitted_on": fit,
        "target_precision": target_precision,
        "threshold": threshold,
        "threshold_reason": why,
        "selective": (
            {s: cal.selective_figures(probs[s], labels[s], threshold) for s in ("val", "test")}
            if threshold is not None
            else None
        ),
        "risk_coverage": {s: cal.risk_coverage(probs[s], labels[s]) for s in ("val", "test")},
        "negative_class": classes[negative_class] if negative_class is not None else None,
    }
    record["not_car"] = not_car_figures(
        model, size, batch, probs["test"], labels["test"], temp.value, threshold, negative_class
    )
    if negative_class is not None and (labels["test"] == negative_class).any():
        record["held_out_negatives"] = _held_out(probs["test"], labels["test"], threshold, negative_class)
    _log_summary(record, temp, fitted, log)
    return record, probs


def _log_summary(record: dict, temp, fitted: float, log) -> None:
    """One line: the test split's NLL and ECE before and after T, and the non-car images rejected."""
    t = record["splits"]["test"]
    log(
        f"test NLL {t['nll_before']:.3f} -> {t['nll_after']:.3f}, ECE {t['ece_before']:.3f} -> {t['ece_after']:.3f} "
        f"(T = {fitted:.3f}{'' if temp.adopted else ', not adopted'}); non-car images rejected "
        f"{record['not_car']['rejected']:.0%}, AUROC {record['not_car']['auroc'] or 0:.3f}"
    )


def _held_out(probs: np.ndarray, labels: np.ndarray, threshold: float | None, negative_class: int) -> dict:
    """Test photos of ``--negatives``: the fraction the app would not name as a car."""
    sel = labels == negative_class
    return {"count": int(sel.sum()), "rejected": float(rejected(probs[sel], threshold, negative_class).mean())}
