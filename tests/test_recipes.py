"""Variants are data: each format's converter reads a variant's ``recipe``, never its name.

The recipes are checked against what their converters accept (coremltools' op configs) and against each other (no
two variants of a format are made the same way unless one is a copy in another file format).
"""

from __future__ import annotations

import pytest

from carspotter.model.formats import FORMATS


@pytest.mark.parametrize("fmt", ["coreml", "tflite", "onnx"])
def test_no_two_variants_of_a_format_are_made_the_same_way(fmt):
    spec = FORMATS[fmt]
    made = [(v.recipe, v.mil_mode) for v in spec.variants if v.copy_of is None]
    assert len(made) == len(set(made)) == len([v for v in spec.variants if v.copy_of is None])


def test_every_core_ml_compression_is_an_op_config_coremltools_accepts():
    cto = pytest.importorskip("coremltools.optimize.coreml")
    from carspotter.export.formats.coreml.package import APPLE_OS

    compressed = {v.name: v.recipe for v in FORMATS["coreml"].variants if v.recipe is not None}
    assert set(compressed) == {
        "int8-weights",
        "palettized-6bit",
        "palettized-4bit",
        "palettized-mixed",
        "palettized-4bit-grouped",
        "int4-blockwise",
    }
    for name, recipe in compressed.items():
        assert recipe.target in APPLE_OS, name
        if recipe.compress == "mixed":
            continue
        config = {"palettize_weights": cto.OpPalettizerConfig, "linear_quantize_weights": cto.OpLinearQuantizerConfig}
        op = config[recipe.compress](**dict(recipe.config))  # raises on an argument coremltools does not take
        assert hasattr(cto, recipe.compress) and op is not None
    # the two iOS 18 ops need iOS 18; the package's iOS 16 cannot make them the default
    for name in ("palettized-4bit-grouped", "int4-blockwise"):
        assert compressed[name].target == "iOS18" and not FORMATS["coreml"].variant(name).default_ok


def test_only_the_calibrated_tflite_variant_has_integer_input_and_output():
    variants = FORMATS["tflite"].variants
    assert [v.name for v in variants if v.recipe.full_integer] == [v.name for v in variants if v.calibration]
    assert [v.name for v in variants if not v.recipe.optimize] == ["fp32"]
