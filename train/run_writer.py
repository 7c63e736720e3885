"""The run folder of a finished training (:mod:`carspotter.train.trainer`): run.json's record, then the model, labels,
split files, reports and run.json written atomically. ``cfg`` is the run's
:class:`carspotter.train.trainer.TrainConfig`."""

from __future__ import annotations

import platform
from dataclasses import asdict
from pathlib import Path

import numpy as np

from carspotter import __version__
from carspotter.util.atomic import atomic_folder
from carspotter.contracts.runfolder import Classes, Run, SplitMetrics, write_labels, write_run_json
from carspotter.contracts.split_files import write_split
from carspotter.model.spec import InputSpec
from carspotter.train import dataset as ds
from carspotter.train import report
from carspotter.train.phases import PhaseSetup
from carspotter.train.prepare import Decoded


def run_record(
    cfg,
    dec: Decoded,
    weights_used,
    evaluation: dict,
    setup: PhaseSetup,
    phases: dict,
    training: dict,
    timing: dict,
    resumed: bool,
) -> Run:
    """The run record (run.json) of a finished training."""
    data, labels = dec.data, dec.photos.labels
    c = len(data.classes)
    spec = InputSpec(cfg.image_size, weights_used.input_range)
    return Run(
        input=spec,
        classes=Classes(
            data.classes,
            {s: np.bincount(labels[s], minlength=c).tolist() for s in ds.SPLITS},
            data.dropped_classes,
            {**data.normalized, **data.renamed},
        ),
        data=_data_record(cfg, dec),
        weights=weights_used.to_json(),
        splits={s: f"split_{s}.csv" for s in ds.SPLITS},
        metrics={k: SplitMetrics(e["top1"], e["top3"], e["count"], e["macro_f1"]) for k, e in evaluation.items()},
        seed=cfg.seed,
        record={
            "carspotter_version": __version__,
            "preprocessing": spec.preprocessing,
            "history": setup.history,
            "phases": phases,
            "training": training,
            "config": asdict(cfg),
            "versions": _versions(),
            "timing_s": timing,
            "resumed": resumed,
        },
    )


def _data_record(cfg, dec: Decoded) -> dict:
    """run.json's ``data``: where the photos are, how they were read, and what was left out or merged."""
    data = dec.data
    return {
        "dir": str(data.root),
        "format": data.format,
        "fixed_split": data.fixed_split,
        "cropped_to_box": cfg.crop_to_box,
        "ignored_files": data.ignored_files,
        "skipped_photos": dec.skipped,
        "conflicts": data.conflicts,
        "label_form": ds.LABEL_FORM,
        "merged_by_normalization": data.merged,
        "split_leaks": data.leaks,
        "pixel_cache": "memory" if dec.where == "memory" else "disk",
    }


def _versions() -> dict:
    """run.json's ``versions``: Python and the libraries that made the model."""
    import keras
    import PIL
    import tensorflow as tf

    return {
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "numpy": np.__version__,
        "pillow": PIL.__version__,
    }


def write_run(out: str, model, run: Run, dec: Decoded, evaluation: dict, test_probs: np.ndarray) -> None:
    """Write the run folder atomically: model, labels, split files, evaluation report (report.md and
    report.html), run.json."""
    from carspotter.measure import gradcam
    from carspotter.train import report_page

    p = dec.photos
    examples = report_page.worst_examples(
        model,
        p.pixels,
        p.rows["test"],
        p.labels["test"],
        test_probs,
        [ph.path for ph in dec.kept["test"]],
        run.labels,
        evaluation["test"]["per_class"],
    )
    with atomic_folder(out) as tmp:
        model.save(tmp / "model.keras")
        write_labels(tmp / "labels.txt", run.labels)
        for s in ds.SPLITS:
            write_split(tmp / f"split_{s}.csv", ds.split_rows(dec.kept[s], run.labels))
        report.write_report(tmp, evaluation, run.record["history"], run.labels, run.record["confidence"])
        (tmp / "report.html").write_text(
            report_page.render(
                tmp, evaluation, run.labels, examples, Path(out).name, gradcam.last_conv_block(model)[1]
            ),
            encoding="utf-8",
        )
        write_run_json(tmp, run)
