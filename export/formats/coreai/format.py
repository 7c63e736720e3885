"""Core AI export: a ``.aimodel`` (iOS 27+ / macOS 27+) from the same reference, in the Swift package beside Core ML.

Apple's path into Core AI is PyTorch's ``torch.export`` through ``coreai-torch``. The run's ``model.keras`` loads
unchanged on Keras' PyTorch backend, so the conversion runs in a process of its own on that backend
(:mod:`carspotter.export.formats.coreai.convert`), with the average-pool rewrite the converter needs
(:mod:`carspotter.export.formats.coreai.rewrite`). Every variant runs in Core AI's own runtime (``coreai-core``, on Linux and
macOS: :mod:`carspotter.export.formats.coreai.runtime`) for its gate, parity, evaluate and benchmark.

The files join the Core ML format's Swift package (``ios/Sources/CarSpotter``): the package loads the ``.aimodel``
on iOS 27 / macOS 27 and later and the ``.mlpackage`` before (``FormatSpec.joins``). Install: ``pip install
"carspotter[coreai]"``; without it export leaves the format out and says so.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from carspotter.export.build import Build
from carspotter.export.platform_package import PlatformPackage, PlatformTexts
from carspotter.export.formats.coreai.runtime import (
    COREAI_RUNTIME,
    LABELS_KEY,
    coreai_intermediates,
    coreai_unavailable,
)
from carspotter.model.format_spec import Conversion, Execution, FormatSpec, Shipping, VariantSpec
from carspotter.model.localizer import BOX_MEANING, BOX_OUTPUT
from carspotter.model.spec import InputSpec
from carspotter.util.errors import ExportError

TIMEOUT_S = 3600
"""Longest a conversion may take (InceptionV3 at 299 px: about a minute on 2 cores)."""


def _metadata(build: Build) -> dict:
    info, spec = build.info, build.spec
    return {
        "author": info.author,
        "license": info.license,
        "description": info.description,
        "input": spec.name,
        "output": spec.output_name,
        "custom": {
            LABELS_KEY: list(build.labels),
            "carspotter.preprocessing": spec.metadata(),
            "carspotter.version": info.version,
        },
    }


def export(build: Build, path: Path) -> dict:
    """Convert ``build.source`` (the run's ``model.keras``) to ``path`` (``.aimodel``) as ``build.variant``.

    Input ``image`` ``[1, S, S, 3]`` (float32, or float16 in the fp16 variant) holding raw 0..255 RGB; output
    ``probabilities`` ``[1, C]``; the labels (``carspotter.labels``, a list) and the preprocessing in the asset's
    custom metadata (``creatorDefinedMetadata`` in the asset's metadata.json).

    Raises:
        ExportError: no model file to read, or the conversion process failed (the last lines of its output).
    """
    if build.source is None or not Path(build.source).is_file():
        raise ExportError(f"Core AI conversion reads the run's model.keras ({build.source}): not found")
    with tempfile.TemporaryDirectory(prefix="carspotter-coreai-") as tmp:
        meta, facts = Path(tmp) / "metadata.json", Path(tmp) / "facts.json"
        meta.write_text(json.dumps(_metadata(build)), encoding="utf-8")
        env = {**os.environ, "KERAS_BACKEND": "torch", "TF_CPP_MIN_LOG_LEVEL": "2"}
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "carspotter.export.formats.coreai.convert",
                str(build.source),
                str(path),
                str(facts),
                "--variant",
                build.variant.name,
                "--metadata",
                str(meta),
                *(["--localizer", str(Path(build.source).parent)] if build.box_model is not None else []),
            ],
            capture_output=True,
            text=True,
            env=env,
            timeout=TIMEOUT_S,
        )
        if done.returncode != 0 or not facts.is_file():
            lines = [ln for ln in done.stderr.strip().splitlines() if ln.strip() and "Warning" not in ln]
            raise ExportError(f"Core AI conversion failed (exit {done.returncode}): {' | '.join(lines[-2:])[:400]}")
        converted = json.loads(facts.read_text())
    return {
        **converted,
        "runtime": "Core AI (iOS 27+ / macOS 27+)",
        "model_type": "aimodel",
        "input": {
            "name": build.spec.name,
            "shape": [1, build.spec.size, build.spec.size, 3],
            "dtype": "float32" if build.variant.family == "fp32" else "float16",
        },
        "output": {"name": build.spec.output_name, "shape": [1, len(build.labels)]},
        **(
            {"box_output": {"name": BOX_OUTPUT, "shape": [1, 4], "meaning": BOX_MEANING}}
            if build.box_model is not None
            else {}
        ),
    }


def readme(model_file: str, spec: InputSpec, n_classes: int) -> str:
    """The Core AI part of ``ios/README.md`` (the Swift package's README is Core ML's, with this section added)."""
    return f"""
## Core AI (iOS 27+ / macOS 27+): `Sources/CarSpotter/{model_file}`

The same model as the Core ML file, converted through PyTorch (`torch.export`, `coreai-torch`) and checked in Apple's
Core AI runtime (`coreai-core`) against the reference, photo by photo. On iOS 27 / macOS 27 and later the package
loads this `.aimodel`; before, the `.mlpackage`. Both take the same `{spec.size}x{spec.size}` pixels from the
package's reference resize. Input `image` `[1, {spec.size}, {spec.size}, 3]` raw 0..255 RGB (float16 in the fp16
variant), output `probabilities` `[1, {n_classes}]`, and `box` `[1, 4]` when the run had a localizer (`twoPass` runs
on either backend).
"""


FORMAT = FormatSpec(
    name="coreai",
    title="Core AI",
    platform="ios",
    filename="CarSpotterModel.aimodel",
    variants=(
        VariantSpec("fp16", "fp16", use="float16 weights and compute (coreai-opt cast_fp32_to_fp16)"),
        VariantSpec("fp32", "fp32", use="float32 weights and compute"),
        VariantSpec("int8-weights", "int8", use="int8 weights per output channel, fp16 compute (coreai-opt)"),
        VariantSpec(
            "palettized-6bit",
            "lowbit",
            use="6-bit k-means tables per 16 output channels with a scale per channel, fp16 compute (coreai-opt)",
        ),
    ),
    baseline="fp16",
    joins="coreml",
    order=20,
    conversion=Conversion(
        convert=export,
        unavailable=coreai_unavailable,
        carries_box=True,
    ),
    execution=Execution(
        runtimes=(COREAI_RUNTIME,),
        intermediates=coreai_intermediates,
    ),
    shipping=Shipping(
        model_dir="Sources/CarSpotter",
        # its part of the Swift package: its README section (the package itself is Core ML's)
        package=PlatformPackage("coreai", readme=readme, texts=PlatformTexts()),
    ),
)
"""Core AI, registered through the ``carspotter.formats`` entry point (pyproject.toml)."""
