"""Convert a run's ``model.keras`` to a Core AI ``.aimodel``, in a process of its own on Keras' PyTorch backend.

    KERAS_BACKEND=torch python -m carspotter.export.formats.coreai.convert MODEL.keras OUT.aimodel FACTS.json \
        --variant fp32|fp16|int8-weights|palettized-6bit --metadata METADATA.json

Keras 3 picks its backend once per process, and export runs on TensorFlow, so :mod:`carspotter.export.formats.coreai.format`
starts this module (as :mod:`carspotter.model.reference_worker` is started for JAX). The path is the one Apple
documents for Core AI (``coreai-torch``: "convert PyTorch models to CoreAI format"): the model as it is, its
Rescaling (the preprocessing) inside, exported by ``torch.export.export`` at ``[1, S, S, 3]`` float32 holding 0..255,
:func:`carspotter.export.formats.coreai.rewrite.exact_average_pool` applied, ``run_decompositions(get_decomp_table())``,
then for ``fp16`` ``coreai_opt.casting.cast_fp32_to_fp16`` (weights and compute in float16, input and output left
float32), then ``TorchConverter().add_exported_program(...).to_coreai()``, for a compressed variant a
``coreai_opt.coreai_utils`` weight pass (:data:`COMPRESSION`), then ``save_asset``. The input is named
``image``, the output ``probabilities`` ``[1, C]`` (and ``box`` ``[1, 4]`` with ``--localizer RUN_DIR``: the run's
localizer joined to the model); the labels and the preprocessing go into the asset's metadata.

``FACTS.json`` gets what the manifest records: the variant, the rewritten pools, the op counts of the exported
program, the library versions and the seconds each step took.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path

COMPRESSION = {
    "int8-weights": ("quantize_weights", {"dtype": "INT8", "granularity": "PER_CHANNEL"}),
    "palettized-6bit": (
        "palettize_weights",
        {
            "lut_dtype": None,
            "n_bits": 6,
            "granularity": "PER_GROUPED_CHANNEL",
            "group_size": 16,
            "enable_per_channel_scale": True,
            "num_kmeans_workers": 1,
        },
    ),
}
"""Compressed-weight variants: ``coreai_opt.coreai_utils`` pass and its arguments, applied to the converted fp16 program
(fp16 compute, as Core ML's compressed variants). ``int8-weights``: symmetric int8 per output channel.
``palettized-6bit``: a 64-entry k-means table per 16 output channels with a scale per channel (one table per tensor
serves InceptionV3 badly: its convolutions carry the folded BatchNormalization scales); one k-means worker, since the
pass's process pool hung here behind torch's threads. Weights under the pass's 1,024-element threshold stay fp16."""

VARIANTS = ("fp32", "fp16", *COMPRESSION)
"""What :func:`convert` builds: float32, float16 weights and compute (``cast_fp32_to_fp16``), or fp16 with compressed
weights (:data:`COMPRESSION`)."""


def _compress(program, variant: str):
    """``program`` (an ``AIProgram``) with its weights compressed as :data:`COMPRESSION` says for ``variant``."""
    from coreai_opt import coreai_utils

    name, options = COMPRESSION[variant]
    kwargs = {
        k: getattr(coreai_utils.DType, v)
        if k in ("dtype", "lut_dtype") and v
        else getattr(coreai_utils.CompressionGranularity, v)
        if k == "granularity"
        else v
        for k, v in options.items()
    }
    return getattr(coreai_utils, name)(program, **kwargs)


def _exported_program(model, rewrite: bool):
    """``(the decomposed torch.export program of a loaded Keras model at [1, S, S, 3], pools rewritten)``."""
    import torch
    from coreai_torch import get_decomp_table

    from carspotter.export.formats.coreai.rewrite import exact_average_pool

    size = model.input_shape[1]
    example = (torch.zeros((1, size, size, 3), dtype=torch.float32),)
    with torch.no_grad():
        program = torch.export.export(model, example)
        module = program.module()
        rewritten = exact_average_pool(module) if rewrite else 0
        program = torch.export.export(module, example) if rewritten else program
        return program.run_decompositions(get_decomp_table()), rewritten


def _asset_metadata(metadata: dict):
    from coreai.runtime import AIModelAssetMetadata

    meta = AIModelAssetMetadata()
    meta.author, meta.license = metadata.get("author", ""), metadata.get("license", "")
    meta.model_description = metadata.get("description", "")
    for key, value in metadata.get("custom", {}).items():
        meta.set_custom(key, value)
    return meta


def _to_coreai(program, variant: str, metadata: dict, box: bool = False):
    """The ``AIProgram`` of ``program`` as ``variant``: fp16 cast (all but fp32), conversion, weight compression."""
    from coreai_torch import TorchConverter

    if variant != "fp32":
        from coreai_opt.casting import cast_fp32_to_fp16

        program = cast_fp32_to_fp16(program)
    converter = TorchConverter(mode=TorchConverter.Mode.RELEASE)  # DEBUG embeds this machine's source paths
    from carspotter.model.localizer import BOX_OUTPUT

    outputs = [metadata.get("output", "probabilities")] + ([BOX_OUTPUT] if box else [])
    converter.add_exported_program(program, input_names=[metadata.get("input", "image")], output_names=outputs)
    ai_program = converter.to_coreai()
    return _compress(ai_program, variant) if variant in COMPRESSION else ai_program


def convert(
    model_path: Path, out: Path, variant: str, metadata: dict, rewrite: bool = True, localizer: Path | None = None
) -> dict:
    """Write ``out`` (.aimodel) from ``model_path`` (.keras) as ``variant``; returns the facts (module docstring).
    ``rewrite=False`` leaves the average pools as Keras exported them (only for the test that checks the converter
    still needs the rewrite). ``localizer``: the run folder whose localizer (``carspotter localize``) joins the model,
    which then gives a second output, ``box`` ``[1, 4]`` (:func:`carspotter.model.localizer.load_two_output`).

    Raises:
        ValueError: an unknown variant, or a model whose input is not ``[N, S, S, 3]``.
        whatever keras, torch or coreai-torch raise (the caller turns it into one line).
    """
    import warnings

    warnings.filterwarnings("ignore", module="coreai_torch")
    import keras
    import torch
    import coreai.authoring  # noqa: F401  (before coreai._compiler.dialects: the import is circular otherwise)
    import coreai_torch

    if variant not in VARIANTS:
        raise ValueError(f"Core AI variant {variant!r}: choose from {', '.join(VARIANTS)}")
    seconds, t0 = {}, time.time()
    model = keras.saving.load_model(model_path, safe_mode=True)
    if localizer is not None:
        from carspotter.model.localizer import load_two_output

        model = load_two_output(localizer, model)
    shape = tuple(model.input_shape)
    if len(shape) != 4 or shape[1] != shape[2] or shape[3] != 3:
        raise ValueError(f"{model_path}: input {shape} is not [N, S, S, 3]")
    seconds["load"], t0 = time.time() - t0, time.time()
    program, rewritten = _exported_program(model, rewrite)
    ops = Counter(
        str(n.target).removeprefix("aten.").split(".")[0]
        for n in program.graph.nodes
        if n.op == "call_function" and "assert" not in str(n.target)
    )
    seconds["torch_export"], t0 = time.time() - t0, time.time()
    _to_coreai(program, variant, metadata, localizer is not None).save_asset(
        Path(out), metadata=_asset_metadata(metadata)
    )
    seconds["convert"] = time.time() - t0
    return {
        "variant": variant,
        "avg_pool_rewritten": rewritten,
        "ops": dict(sorted(ops.items())),
        "versions": {"torch": torch.__version__, "coreai-torch": coreai_torch.__version__, "keras": keras.__version__},
        "seconds": {k: round(v, 2) for k, v in seconds.items()},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model")
    parser.add_argument("out")
    parser.add_argument("facts")
    parser.add_argument("--variant", choices=VARIANTS, default="fp32")
    parser.add_argument(
        "--metadata", default=None, help="JSON file: author, license, description, custom {key: JSON value}"
    )
    parser.add_argument("--keep-avg-pool", action="store_true", help="skip the average-pool rewrite (tests only)")
    parser.add_argument("--localizer", type=Path, default=None, help="RUN_DIR: add its localizer's box output")
    args = parser.parse_args(argv)
    metadata = json.loads(Path(args.metadata).read_text()) if args.metadata else {}
    facts = convert(
        Path(args.model),
        Path(args.out),
        args.variant,
        metadata,
        rewrite=not args.keep_avg_pool,
        localizer=args.localizer,
    )
    Path(args.facts).write_text(json.dumps(facts))
    return 0


if __name__ == "__main__":
    sys.exit(main())
