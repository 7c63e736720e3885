"""A Core ML ML program read back from its ``.mlpackage`` (coremltools' ``milproto.load``, weights from
``weights/weight.bin``) without running it: :func:`load_mlpackage`, its op counts and its classifier labels."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from carspotter.util.errors import MILExecutionError


@dataclass
class MILProgram:
    """A loaded ML program: the pymil ``Function`` ``main`` plus what the spec says about its input.

    Attributes:
        function: ``coremltools.converters.mil.mil.Function``.
        input_name: the program's single input.
        input_is_image: the model description declares it an ``ImageType``.
        labels: class labels of the ``classify`` op (empty for a non-classifier).
    """

    function: object
    input_name: str
    input_is_image: bool
    labels: list[str]


def load_mlpackage(path: str | Path) -> MILProgram:
    """Read an ``.mlpackage``: spec, MIL program with its weights, image preprocessing, labels.

    Raises:
        MILExecutionError: not an ML program, or more than one input.
    """
    from carspotter.export.formats.coreml.library import import_coremltools

    ct = import_coremltools()
    from coremltools.converters.mil.frontend.milproto.load import load

    path = Path(path)
    spec = ct.utils.load_spec(str(path))
    if spec.WhichOneof("Type") != "mlProgram":
        raise MILExecutionError(f"{path}: not an ML program (type {spec.WhichOneof('Type')})")
    weights = path / "Data" / "com.apple.CoreML" / "weights"
    program = load(spec, spec.specificationVersion, file_weights_dir=str(weights))
    function = program.functions["main"]
    if len(function.inputs) != 1:
        raise MILExecutionError(f"{path}: expected one input, found {list(function.inputs)}")
    name = next(iter(function.inputs))
    described = {i.name: i.type.WhichOneof("Type") for i in spec.description.input}
    labels = []
    for op in function.operations:
        if op.op_type == "classify":
            labels = [str(c) for c in op.inputs["classes"].val]
    return MILProgram(function, name, described.get(name) == "imageType", labels)


def mil_op_counts(spec) -> Counter:
    """Count the MIL op types in an mlprogram spec's ``main`` function (ops in nested blocks too)."""
    counts: Counter = Counter()

    def walk(block):
        for op in block.operations:
            counts[op.type] += 1
            for inner in op.blocks:
                walk(inner)

    main = spec.mlProgram.functions["main"]
    for block in main.block_specializations.values():
        walk(block)
    return counts


def classifier_labels(spec) -> list[str]:
    """Labels of a classifier mlprogram, read from its ``classify`` op's ``classes`` list."""
    main = spec.mlProgram.functions["main"]
    for block in main.block_specializations.values():
        for op in block.operations:
            if op.type == "classify":
                value = op.inputs["classes"].arguments[0].value
                return [item.immediateValue.tensor.strings.values[0] for item in value.immediateValue.list.values]
    return []
