"""Core ML with the localizer's box: a classifier ML program with a second output, ``box``.

``coremltools.convert(..., classifier_config=...)`` of a two-output Keras model fails in coremltools 9.0: the
TensorFlow frontend records the model's two output types, the ``classify`` op then turns the probabilities into two
outputs (``classLabel``, ``classLabel_probs``), and the backend indexes three outputs into a list of two
(``IndexError`` in ``get_func_output``). So the conversion takes two steps, both coremltools' own: the model to a MIL
program (``convert_to="milinternal"``), whose outputs are renamed (the box to ``box``) and whose recorded output
types are dropped (they hold no image output to honour), then that program to an ML program with the classifier
config, the compute precision and the deployment target (``coremltools.convert`` of a ``Program``).

The outputs are told apart by name: the Keras model is rebuilt with a dict output ``{"box", "probabilities"}``,
which ``tf.nest`` flattens in sorted key order, so the TensorFlow graph's ``Identity`` is the box and
``Identity_1`` the probabilities; their shapes (``[1, 4]``, ``[1, C]``) are checked before anything is renamed.
"""

from __future__ import annotations

from carspotter.model.localizer import BOX_OUTPUT
from carspotter.util.errors import ExportError
from carspotter.export.formats.coreml.library import LOGGERS
from carspotter.util.quiet import quiet


def convert_with_box(ct, build, inputs: list, target, precision):
    """The run's two-output model (``build.box_model``) as a classifier ML program with a ``box`` output.

    Args:
        ct: the coremltools module.
        build: the format build (``box_model``: ``image -> [probabilities [N, C], box [N, 4]]``; ``labels``).
        inputs: coremltools input types (the ``ImageType``).
        target: ``ct.target`` member; precision: ``ct.precision`` member (compute precision).

    Returns:
        ``coremltools.models.MLModel``: outputs ``classLabel``, ``classLabel_probs`` and ``box``.

    Raises:
        ExportError: the converted program's outputs are not one ``[1, C]`` and one ``[1, 4]``.
    """
    import keras

    model = build.box_model
    named = keras.Model(model.inputs, {"box": model.outputs[1], "probabilities": model.outputs[0]})
    with quiet(*LOGGERS):
        program = ct.convert(
            named,
            source="tensorflow",
            inputs=inputs,
            convert_to="milinternal",
            minimum_deployment_target=target,
            compute_precision=ct.precision.FLOAT32,
        )
    function = program.functions["main"]
    outputs = sorted(function.outputs, key=lambda v: v.name)  # Identity: box, Identity_1: probabilities
    shapes = [tuple(v.shape) for v in outputs]
    if shapes != [(1, 4), (1, len(build.labels))]:
        raise ExportError(
            f"Core ML two-output conversion: outputs {[v.name for v in outputs]} have shapes {shapes}, "
            f"not (1, 4) and (1, {len(build.labels)}); export without the localizer"
        )
    box, probabilities = outputs
    box.name, probabilities.name = BOX_OUTPUT, "probabilities"
    function.output_types = None  # see the module docstring
    with quiet(*LOGGERS):
        return ct.convert(
            program,
            classifier_config=ct.ClassifierConfig(list(build.labels), predicted_probabilities_output="probabilities"),
            convert_to="mlprogram",
            minimum_deployment_target=target,
            compute_precision=precision,
        )
