"""ONNX export with tf2onnx: raw-pixel NHWC input, probabilities out, labels in metadata_props.

Phone files have a fixed ``[1, S, S, 3]`` input: ONNX Runtime's NNAPI and CoreML execution
providers take no node whose shapes are dynamic (its mobile usability check: 0 of 218 nodes
with a dynamic batch, 218 of 218 with it fixed), so an app that asks for them would silently
get the CPU. The ``dynamic-batch`` variant keeps ``[N, S, S, 3]`` for servers; ``ort`` is the
fp32 model in ORT format for ONNX Runtime Mobile, with its ``required_operators`` config.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from carspotter.export.build import Build
from carspotter.export.formats.onnx.readme import RESIZE_ADVICE, ROI_ADVICE, SELFTEST_TEXT, THRESHOLD_CODE, onnx_readme
from carspotter.export.formats.onnx import package as npm
from carspotter.export.formats.onnx.accelerators import NOTE, accelerator_cells, onnx_mobile_gate
from carspotter.export.formats.onnx.drift import onnx_intermediates
from carspotter.export.formats.onnx.runtime import ORT_CPU, ORT_CUDA
from carspotter.export.platform_package import PlatformPackage, PlatformTexts
from carspotter.model.format_spec import Checks, Conversion, Execution, FormatOption, FormatSpec, Shipping, VariantSpec
from carspotter.model.localizer import BOX_MEANING, BOX_OUTPUT
from carspotter.util.quiet import quiet


ONNX_OPSETS = (17, 18)  # tf2onnx 1.17 refuses opset 19

LOGGERS = ("tf2onnx", "ort_format_model.utils")
"""tf2onnx's logger and ONNX Runtime's ORT converter's (its own level), silenced while they run."""


@dataclass(frozen=True)
class Recipe:
    """How an ONNX variant is made from the converted graph (a :class:`VariantSpec`'s ``recipe``).

    Attributes:
        dynamic: batch dimension ``N`` (servers) instead of fixed at 1 (phone EPs).
        fp16: weights and compute in float16 (``onnxruntime.transformers.float16``, :data:`FP16_KEEP_FP32` kept).
        quantize: ``""``, ``"qdq"`` (static int8 QDQ) or ``"qdq-mixed"`` (the sensitive layers kept in float32).
        ort: written in ORT format (ONNX Runtime Mobile) with its operator config.
    """

    dynamic: bool = False
    fp16: bool = False
    quantize: str = ""
    ort: bool = False


FP16_KEEP_FP32 = ("Softmax",)
"""Ops the fp16 variant keeps in float32 (with casts around them), so that ONNX Runtime's NNAPI and CoreML execution
providers take every node of the file (``onnxruntime.transformers.float16.convert_float_to_float16``'s
``op_block_list``)."""
REQUIRED_OPERATORS = "carspotter.required_operators.config"
"""The ORT file's operator config (for a reduced ONNX Runtime build), beside it in the bundle."""


def export(build: Build, path: Path) -> dict:
    """Convert with ``tf2onnx.convert.from_keras`` and embed labels and input spec.

    The graph input (``build.spec.name``) is ``[1, S, S, 3]`` float32 RGB 0..255 (``[N, S, S, 3]``,
    batch dimension named ``N``, for ``dynamic-batch``); the output (``build.spec.output_name``)
    is ``[1, C]`` (``[N, C]``).
    ``metadata_props`` hold ``labels`` (JSON list, index order), ``input_spec`` (JSON) and the
    general info. The model passes ``onnx.checker.check_model(full_check=True)``.

    Variants: ``fp32``; ``fp16`` (weights and compute in float16, inputs and outputs kept
    float32 so apps still feed raw pixels, the softmax in float32 so the phone EPs take every node:
    ``onnxruntime.transformers.float16``, :data:`FP16_KEEP_FP32`);
    ``int8-qdq`` (static quantization in QDQ format, per-channel int8 weights and uint8
    activations calibrated on ``build.representative``: ``onnxruntime.quantization.quantize_static``);
    ``int8-qdq-mixed`` (the same with the most sensitive layers in float32: :mod:`carspotter.export.formats.onnx.mixed`);
    ``dynamic-batch`` (fp32, any batch: servers); ``ort`` (fp32 in ORT format: :func:`_to_ort`).

    Raises:
        ValueError: ``build.options["onnx_opset"]`` not in :data:`ONNX_OPSETS`, or ``int8-qdq`` without
            representative photos.
    """
    import onnx

    spec, opset = build.spec, _opset(build)
    if opset not in ONNX_OPSETS:
        raise ValueError(f"ONNX opset {opset}: tf2onnx 1.17 supports {ONNX_OPSETS}")
    recipe = build.variant.recipe
    dynamic = recipe.dynamic
    proto = _converted(build, dynamic)
    _set_batch(proto, dynamic)
    _rename_outputs(proto, [spec.output_name, BOX_OUTPUT])
    _set_metadata(proto, build, dynamic)
    if recipe.fp16:
        from onnxruntime.transformers.float16 import convert_float_to_float16

        # The softmax stays float32 (FP16_KEEP_FP32): in float16 the phone EPs refuse what it lowers to (NNAPI
        # ReduceMax / ReduceSum, the CoreML EP's NeuralNetwork format also Exp), measured 412/414 and 411/414 nodes;
        # kept in float32 every node of the file runs on NNAPI and both CoreML formats (411/411).
        proto = convert_float_to_float16(proto, keep_io_types=True, op_block_list=list(FP16_KEEP_FP32))
        _sort_topologically(proto.graph)  # the converter appends its input casts at the end
    plan = None
    if recipe.quantize == "qdq-mixed":
        from carspotter.export.formats.onnx.mixed import excluded_nodes

        exclude, plan = excluded_nodes(build, proto)
        proto = _quantize_qdq(proto, build.representative, path.parent, exclude)
    elif recipe.quantize == "qdq":
        proto = _quantize_qdq(proto, build.representative, path.parent)
    onnx.checker.check_model(proto, full_check=True)
    facts = _facts(build, proto, opset, dynamic, plan)
    if recipe.ort:
        return {**facts, **_to_ort(proto, path)}
    path.write_bytes(proto.SerializeToString())
    return facts


def _facts(build: Build, proto, opset: int, dynamic: bool, plan) -> dict:
    """The variant's manifest facts: runtime, opset, input and output(s), metadata, the mixed plan."""
    batch, spec = ("N" if dynamic else 1), build.spec
    return {
        "variant": build.variant.name,
        "runtime": "ONNX Runtime",
        "opset": opset,
        "input": {"name": proto.graph.input[0].name, "dtype": "float32", "shape": [batch, spec.size, spec.size, 3]},
        "output": {"name": proto.graph.output[0].name, "dtype": "float32", "shape": [batch, len(build.labels)]},
        **(
            {
                "box_output": {
                    "name": BOX_OUTPUT,
                    "dtype": "float32",
                    "shape": [batch, 4],
                    "meaning": BOX_MEANING,
                }
            }
            if len(proto.graph.output) > 1
            else {}
        ),
        "metadata": "metadata_props: labels (JSON), input_spec (JSON), name, version, description, author, license",
        **({"plan": plan} if plan else {}),
    }


def _opset(build: Build) -> int:
    """The ONNX opset of this export (``--onnx-opset``, default 17)."""
    return build.options.get("onnx_opset", ONNX_OPSETS[0])


def _set_batch(proto, dynamic: bool) -> None:
    """The batch dimension of every graph input and output: ``N`` (any batch) or fixed at 1 (phone EPs)."""
    for value in list(proto.graph.input) + list(proto.graph.output):
        dim = value.type.tensor_type.shape.dim[0]
        dim.ClearField("dim_value")
        if dynamic:
            dim.dim_param = "N"
        else:
            dim.ClearField("dim_param")
            dim.dim_value = 1


def _set_metadata(proto, build: Build, dynamic: bool) -> None:
    """``metadata_props``: labels (JSON, index order), input_spec (JSON), name, version, description, author, license."""
    spec, info = build.spec, build.info
    props = {
        "labels": json.dumps(build.labels, ensure_ascii=False),
        "input_spec": json.dumps({**spec.metadata(), "shape": ["N" if dynamic else 1, spec.size, spec.size, 3]}),
        "name": info.name,
        "version": info.version,
        "description": info.description,
        "author": info.author,
        "license": info.license,
    }
    del proto.metadata_props[:]
    for k, v in props.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = k, v
    proto.producer_name = "carspotter (tf2onnx)"
    proto.doc_string = info.description


def _converted(build: Build, dynamic: bool):
    """``tf2onnx.convert.from_keras`` of ``build.model`` with a ``[1, S, S, 3]`` (or, ``dynamic``, ``[N, S, S, 3]``)
    input: an ``onnx.ModelProto`` the caller may edit. The fixed-batch graph is converted once per export and
    kept serialized in ``build.conversions``, so every variant gets its own copy of it."""
    import onnx
    import tensorflow as tf
    import tf2onnx

    spec = build.spec
    key = ("tf2onnx", _opset(build), spec.name, spec.size, build.box_model is not None)
    if not dynamic and key in build.conversions:
        return onnx.load_from_string(build.conversions[key])
    signature = [tf.TensorSpec((None if dynamic else 1, spec.size, spec.size, 3), tf.float32, name=spec.name)]
    with quiet(*LOGGERS):
        proto, _ = tf2onnx.convert.from_keras(
            build.box_model or build.model, input_signature=signature, opset=_opset(build)
        )
    if not dynamic:  # dynamic-batch is one variant: nothing to share
        build.conversions[key] = proto.SerializeToString()
    return proto


def _to_ort(proto, path: Path) -> dict:
    """Write ``proto`` in ORT format at ``path`` and its operator config beside it (:data:`REQUIRED_OPERATORS`).

    ONNX Runtime's own converter (``python -m onnxruntime.tools.convert_onnx_models_to_ort``, ORT docs
    "ORT model format") with the *Runtime* optimization style and ``target_platform="arm"``: the file
    keeps the basic-level graph, which the NNAPI and CoreML EPs can take, and records the CPU
    optimizations to replay (``session.enable_saved_runtime_optimizations = 1``); the *Fixed* style would
    save CPU-only fused nodes (FusedConv) that no phone EP takes. The config's comment lines, which name
    the converter's temporary files, are reduced to the file name.
    """
    import tempfile

    from onnxruntime.tools.convert_onnx_models_to_ort import OptimizationStyle, convert_onnx_models_to_ort

    with tempfile.TemporaryDirectory(dir=path.parent) as tmp:
        src, out = Path(tmp) / "model.onnx", Path(tmp) / "out"
        src.write_bytes(proto.SerializeToString())
        with quiet(*LOGGERS):
            convert_onnx_models_to_ort(
                src, output_dir=out, optimization_styles=[OptimizationStyle.Runtime], target_platform="arm"
            )
        (ort_file,) = out.glob("*.ort")
        (config,) = out.glob("*.config")
        lines = [ln for ln in config.read_text().splitlines() if not ln.startswith("# ")]
        (path.parent / REQUIRED_OPERATORS).write_text(f"# Generated from {path.name}\n" + "\n".join(lines) + "\n")
        ort_file.replace(path)
    return {
        "runtime": "ONNX Runtime Mobile (ORT format)",
        "required_operators": REQUIRED_OPERATORS,
        "optimization_style": "Runtime (basic-level graph; replay with session.enable_saved_runtime_optimizations=1)",
        "extra_files": [REQUIRED_OPERATORS],
    }


def accelerators(path: Path) -> dict | None:
    """ONNX Runtime's mobile usability check of an ``.onnx`` variant file (:mod:`.accelerators`);
    None for the ``.ort`` file (the check reads ONNX; the ORT file is the fp32 ONNX converted)."""
    from carspotter.export.formats.onnx.accelerators import onnx_mobile_usability

    return None if Path(path).suffix == ".ort" else onnx_mobile_usability(path)


def _rename_outputs(proto, names: list[str]) -> None:
    """Give the graph outputs stable names in the Keras model's output order (``probabilities``, then ``box`` when the
    run has a localizer), rewriting the nodes that produce them."""
    for value, name in zip(proto.graph.output, names):
        old = value.name
        if old == name:
            continue
        for node in proto.graph.node:
            node.output[:] = [name if o == old else o for o in node.output]
        value.name = name


def _quantize_qdq(proto, representative, workdir: Path, exclude: list[str] = ()):
    """Static int8 quantization (QDQ) calibrated on ``representative`` ``[M, S, S, 3]`` uint8 photos; the nodes named in
    ``exclude`` stay float32 (``nodes_to_exclude``)."""
    import tempfile

    import numpy as np
    import onnx
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    if representative is None or len(representative) == 0:
        raise ValueError("int8-qdq needs representative photos")

    input_name = proto.graph.input[0].name

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.items = iter(representative)

        def get_next(self):
            px = next(self.items, None)
            return None if px is None else {input_name: px[None].astype(np.float32)}

    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        src, dst = Path(tmp) / "fp32.onnx", Path(tmp) / "int8.onnx"
        src.write_bytes(proto.SerializeToString())
        with quiet(*LOGGERS):
            quantize_static(
                str(src),
                str(dst),
                Reader(),
                quant_format=QuantFormat.QDQ,
                per_channel=True,
                activation_type=QuantType.QUInt8,
                weight_type=QuantType.QInt8,
                nodes_to_exclude=list(exclude),
            )
        quantized = onnx.load(dst)
    del quantized.metadata_props[:]
    quantized.metadata_props.extend(proto.metadata_props)
    quantized.producer_name, quantized.doc_string = proto.producer_name, proto.doc_string
    return quantized


def _sort_topologically(graph) -> None:
    """Reorder ``graph.node`` so every node comes after the producers of its inputs (Kahn)."""
    available = {i.name for i in graph.input} | {i.name for i in graph.initializer} | {""}
    pending = list(graph.node)
    ordered = []
    while pending:
        ready = [n for n in pending if all(i in available for i in n.input)]
        if not ready:
            raise ValueError("ONNX graph has a cycle or an input nobody produces")
        for n in ready:
            ordered.append(n)
            available.update(n.output)
        pending = [n for n in pending if all(n is not r for r in ready)]
    del graph.node[:]
    graph.node.extend(ordered)


FORMAT = FormatSpec(
    name="onnx",
    title="ONNX",
    platform="onnx",
    filename="carspotter.onnx",
    variants=(
        VariantSpec("fp32", "fp32", recipe=Recipe()),
        VariantSpec("fp16", "fp16", recipe=Recipe(fp16=True)),
        VariantSpec("int8-qdq", "int8", calibration=True, recipe=Recipe(quantize="qdq")),
        VariantSpec(
            "int8-qdq-mixed",
            "int8",
            calibration=True,
            use="int8 QDQ with the layers most sensitive to int8 weights kept in float32 (per-layer "
            "sensitivity on representative photos; nodes_to_exclude)",
            recipe=Recipe(quantize="qdq-mixed"),
        ),
        VariantSpec(
            "dynamic-batch",
            "fp32",
            default_ok=False,
            use="servers: input [N, S, S, 3], any batch; no phone EP takes a dynamic shape",
            recipe=Recipe(dynamic=True),
        ),
        VariantSpec(
            "ort",
            "fp32",
            default_ok=False,
            always=True,
            suffix=".ort",
            copy_of="fp32",
            use="ONNX Runtime Mobile: the fp32 model in ORT format, with its required_operators config",
            recipe=Recipe(ort=True),
        ),
    ),
    baseline="fp32",
    order=30,
    conversion=Conversion(
        convert=export,
        options=(
            FormatOption(
                "--onnx-opset", ONNX_OPSETS, ONNX_OPSETS[0], "ONNX opset of the ONNX files (default %(default)s)"
            ),
        ),
        carries_box=True,
    ),
    execution=Execution(
        runtimes=(ORT_CPU, ORT_CUDA),
        intermediates=onnx_intermediates,
    ),
    checks=Checks(
        accelerators=accelerators,
        accelerator_gate=onnx_mobile_gate,
        accelerator_cells=accelerator_cells,
        accelerator_note=NOTE,
    ),
    shipping=Shipping(
        model_dir="",
        app_package="npm",
        app_model_rank=1,
        package=PlatformPackage(
            "onnx",
            readme=onnx_readme,
            package=npm.npm_package,
            texts=PlatformTexts(SELFTEST_TEXT, THRESHOLD_CODE, " or the top-1 is '{name}'", RESIZE_ADVICE, ROI_ADVICE),
        ),
    ),
)
"""ONNX, registered through the ``carspotter.formats`` entry point (pyproject.toml)."""
