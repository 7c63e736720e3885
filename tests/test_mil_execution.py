"""The MIL reference executor, op by op, against the Keras layer each op came from.

Each case builds a one-layer Keras model, converts it with coremltools to an ML program
(as the exporter does), checks the expected MIL op is in the program, and compares the
executor's output with Keras on a random tensor of odd size.
"""

from __future__ import annotations

import numpy as np
import pytest

from carspotter.export.formats.coreml.mil_execution import MILExecution
from carspotter.export.formats.coreml.mil_program import load_mlpackage
from carspotter.util.errors import MILExecutionError

keras = pytest.importorskip("keras")
L = keras.layers
SHAPE = (17, 23, 5)  # odd height and width
B = {"bias_initializer": "random_normal"}  # zero biases would be folded away by the converter


def to_program(tmp_path, build, shape=SHAPE, precision="fp32", image=False):
    from carspotter.export.formats.coreml.library import import_coremltools
    from carspotter.util.quiet import quiet

    ct = import_coremltools()
    inp = keras.Input(shape, name="x")
    model = keras.Model(inp, build(inp))
    kind = (
        ct.ImageType(name="x", shape=(1,) + shape, color_layout=ct.colorlayout.RGB)
        if image
        else ct.TensorType(name="x", shape=(1,) + shape)
    )
    with quiet():
        ml = ct.convert(
            model,
            inputs=[kind],
            convert_to="mlprogram",
            minimum_deployment_target=ct.target.iOS15,
            compute_precision=ct.precision.FLOAT16 if precision == "fp16" else ct.precision.FLOAT32,
        )
    path = tmp_path / "m.mlpackage"
    ml.save(str(path))
    return model, load_mlpackage(path)


def ops_of(program):
    return {op.op_type for op in program.function.operations}


CASES = {
    "conv_same_s1": (lambda x: L.Conv2D(4, 3, padding="same", **B)(x), "conv"),
    "conv_same_s2": (lambda x: L.Conv2D(4, 3, strides=2, padding="same", **B)(x), "conv"),
    "conv_valid_s2": (lambda x: L.Conv2D(4, 3, strides=2, padding="valid", **B)(x), "conv"),
    "conv_1x7_same": (lambda x: L.Conv2D(3, (1, 7), padding="same", **B)(x), "conv"),
    "conv_7x1_valid": (lambda x: L.Conv2D(3, (7, 1), padding="valid", use_bias=False)(x), "conv"),
    "conv_dilated": (lambda x: L.Conv2D(3, 3, dilation_rate=2, padding="same", **B)(x), "conv"),
    "conv_even_kernel_same_s2": (lambda x: L.Conv2D(3, 4, strides=2, padding="same", **B)(x), "conv"),
    "depthwise_groups": (lambda x: L.DepthwiseConv2D(3, padding="same", **B)(x), "conv"),
    "max_pool_valid_s2": (lambda x: L.MaxPooling2D(3, strides=2, padding="valid")(x), "max_pool"),
    "max_pool_same_s2": (lambda x: L.MaxPooling2D(3, strides=2, padding="same")(x), "max_pool"),
    "avg_pool_same_s1": (lambda x: L.AveragePooling2D(3, strides=1, padding="same")(x), "avg_pool"),
    "avg_pool_same_s2": (lambda x: L.AveragePooling2D(3, strides=2, padding="same")(x), "avg_pool"),
    "avg_pool_valid_s2": (lambda x: L.AveragePooling2D(2, strides=2, padding="valid")(x), "avg_pool"),
    "global_avg_pool": (lambda x: L.GlobalAveragePooling2D()(x), "reduce_mean"),
    "relu": (lambda x: L.ReLU()(x), "relu"),
    "softmax": (lambda x: L.Softmax()(x), "softmax"),
    "concat": (lambda x: L.Concatenate()([L.Conv2D(2, 1, **B)(x), L.ReLU()(x)]), "concat"),
    "add": (lambda x: L.Add()([x, L.ReLU()(x)]), "add"),
    "multiply": (lambda x: L.Multiply()([x, L.ReLU()(x)]), "mul"),
    "subtract": (lambda x: L.Subtract()([x, L.ReLU()(x)]), "sub"),
    "rescaling": (lambda x: L.Rescaling(1 / 127.5, -1.0)(x), "mul"),
    "permute": (lambda x: L.Permute((3, 1, 2))(x), "transpose"),
    "reshape": (lambda x: L.Reshape((17 * 23, 5))(x), "reshape"),
    "dense_2d": (lambda x: L.Dense(7, **B)(L.GlobalAveragePooling2D()(x)), "linear"),
    "dense_no_bias": (lambda x: L.Dense(7, use_bias=False)(L.GlobalAveragePooling2D()(x)), "matmul"),
    "dense_softmax_head": (lambda x: L.Dense(6, activation="softmax", **B)(L.GlobalAveragePooling2D()(x)), "softmax"),
    "matmul": (
        lambda x: L.Dot(axes=(2, 2))([L.Reshape((17 * 23, 5))(x), L.Reshape((17 * 23, 5))(L.ReLU()(x))]),
        "matmul",
    ),
}


def _randomize_batchnorm(model, rng):
    for layer in model.layers:
        if isinstance(layer, L.BatchNormalization):
            c = layer.gamma.shape[0]
            layer.set_weights(
                [rng.uniform(0.5, 2, c), rng.normal(0, 1, c), rng.normal(0, 1, c), rng.uniform(0.5, 2, c)]
            )


@pytest.mark.parametrize("case", sorted(CASES))
def test_op_matches_keras_fp32(tmp_path, case):
    build, op = CASES[case]
    model, program = to_program(tmp_path, build)
    assert op in ops_of(program), f"{case}: expected MIL op {op!r}, program has {sorted(ops_of(program))}"
    x = np.random.default_rng(0).normal(0, 1, (1,) + SHAPE).astype(np.float32)
    got = MILExecution(program, "fp32").run(x)
    want = np.asarray(model(x))
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


def test_batch_norm_inference_matches_keras(tmp_path):
    rng = np.random.default_rng(1)
    layer = L.BatchNormalization(epsilon=1e-3)
    inp = keras.Input(SHAPE, name="x")
    model = keras.Model(inp, layer(inp))
    _randomize_batchnorm(model, rng)  # non-trivial statistics, set before conversion
    _, program = to_program(tmp_path, lambda x: layer(x))
    assert ops_of(program) & {"batch_norm", "mul", "add"}
    x = rng.normal(0, 1, (1,) + SHAPE).astype(np.float32)
    np.testing.assert_allclose(MILExecution(program).run(x), np.asarray(model(x, training=False)), rtol=1e-4, atol=1e-4)


def test_image_input_scale_and_bias_and_layout(tmp_path):
    from carspotter.export.formats.coreml.library import import_coremltools
    from carspotter.util.quiet import quiet

    ct = import_coremltools()
    inp = keras.Input((9, 11, 3), name="image")
    model = keras.Model(inp, L.Conv2D(2, 3, padding="same")(inp))
    with quiet():
        ml = ct.convert(
            model,
            inputs=[ct.ImageType(name="image", shape=(1, 9, 11, 3), scale=1 / 255, bias=[-1, -0.5, 0.25])],
            convert_to="mlprogram",
            compute_precision=ct.precision.FLOAT32,
            minimum_deployment_target=ct.target.iOS15,
        )
    ml.save(str(tmp_path / "img.mlpackage"))
    program = load_mlpackage(tmp_path / "img.mlpackage")
    assert program.input_is_image
    pixels = np.random.default_rng(2).integers(0, 256, (2, 9, 11, 3)).astype(np.uint8)
    expected = np.asarray(model(pixels / 255.0 + np.array([-1, -0.5, 0.25])))  # the program transposes back to NHWC
    np.testing.assert_allclose(MILExecution(program).run(pixels), expected, rtol=1e-4, atol=1e-4)


def test_fp16_mode_rounds_every_fp16_value(tmp_path):
    model, program = to_program(tmp_path, lambda x: L.Rescaling(1.0, 0.0001)(x), shape=(3, 3, 1), precision="fp16")
    x = np.full((1, 3, 3, 1), 1000.0, np.float32)
    fp32 = MILExecution(program, "fp32").run(x)
    fp16 = MILExecution(program, "fp16").run(x)
    assert np.all(fp32 > 1000.0)  # 1000 + fp16(0.0001) in fp32 arithmetic
    assert np.all(fp16 == 1000.0)  # the sum rounded to float16 (spacing 0.5 at 1000)


def test_fp16_program_close_to_keras_in_fp16_mode(tmp_path):
    model, program = to_program(tmp_path, CASES["conv_same_s2"][0], precision="fp16")
    x = np.random.default_rng(3).normal(0, 1, (1,) + SHAPE).astype(np.float32)
    np.testing.assert_allclose(MILExecution(program, "fp16").run(x), np.asarray(model(x)), rtol=2e-2, atol=2e-2)


def test_unknown_op_is_named(tmp_path):
    _, program = to_program(tmp_path, lambda x: keras.ops.tanh(x), shape=(3, 5, 2))
    with pytest.raises(MILExecutionError, match="MIL op 'tanh' .* not supported"):
        MILExecution(program)


# Ops and attributes the TF converter never emits, built directly with coremltools' MIL Builder.


def builder_program(tmp_path, fn, shape):
    from coremltools.converters.mil import Builder as mb

    from carspotter.export.formats.coreml.library import import_coremltools
    from carspotter.util.quiet import quiet

    ct = import_coremltools()
    prog = mb.program(input_specs=[mb.TensorSpec(shape=shape)])(fn)
    with quiet():
        ml = ct.convert(
            prog,
            convert_to="mlprogram",
            compute_precision=ct.precision.FLOAT32,
            minimum_deployment_target=ct.target.iOS15,
        )
    ml.save(str(tmp_path / "b.mlpackage"))
    return load_mlpackage(tmp_path / "b.mlpackage")


def test_batch_norm_op_matches_keras(tmp_path):
    from coremltools.converters.mil import Builder as mb

    rng = np.random.default_rng(4)
    c = 5
    gamma, beta, mean, var = rng.uniform(0.5, 2, c), rng.normal(0, 1, c), rng.normal(0, 1, c), rng.uniform(0.5, 2, c)
    f32 = lambda a: a.astype(np.float32)  # noqa: E731
    program = builder_program(
        tmp_path,
        lambda x: mb.batch_norm(x=x, mean=f32(mean), variance=f32(var), gamma=f32(gamma), beta=f32(beta), epsilon=1e-3),
        (1, c, 9, 7),
    )
    assert "batch_norm" in ops_of(program)
    layer = L.BatchNormalization(axis=1, epsilon=1e-3)
    layer.build((1, c, 9, 7))
    layer.set_weights([gamma, beta, mean, var])
    x = rng.normal(0, 1, (1, c, 9, 7)).astype(np.float32)
    np.testing.assert_allclose(MILExecution(program).run(x), np.asarray(layer(x, training=False)), rtol=1e-4, atol=1e-4)


def test_conv_custom_padding_matches_keras_zero_padding(tmp_path):
    from coremltools.converters.mil import Builder as mb

    rng = np.random.default_rng(5)
    w = rng.normal(0, 1, (4, 3, 3, 3)).astype(np.float32)  # MIL: [Cout, Cin, kH, kW]
    b = rng.normal(0, 1, 4).astype(np.float32)
    program = builder_program(
        tmp_path,
        lambda x: mb.conv(x=x, weight=w, bias=b, strides=[2, 1], pad_type="custom", pad=[1, 2, 0, 3]),
        (1, 3, 11, 8),
    )
    x = rng.normal(0, 1, (1, 3, 11, 8)).astype(np.float32)
    conv = L.Conv2D(4, 3, strides=(2, 1), padding="valid")
    nhwc = np.transpose(x, (0, 2, 3, 1))
    conv.build(nhwc.shape)
    conv.set_weights([np.transpose(w, (2, 3, 1, 0)), b])
    want = np.transpose(np.asarray(conv(L.ZeroPadding2D(((1, 2), (0, 3)))(nhwc))), (0, 3, 1, 2))
    np.testing.assert_allclose(MILExecution(program).run(x), want, rtol=1e-4, atol=1e-4)


def test_avg_pool_counting_padding_matches_keras_zero_padding(tmp_path):
    from coremltools.converters.mil import Builder as mb

    program = builder_program(
        tmp_path,
        lambda x: mb.avg_pool(
            x=x,
            kernel_sizes=[3, 3],
            strides=[2, 2],
            pad_type="custom",
            pad=[1, 1, 1, 1],
            exclude_padding_from_average=False,
        ),
        (1, 2, 9, 7),
    )
    x = np.random.default_rng(6).normal(0, 1, (1, 2, 9, 7)).astype(np.float32)
    nhwc = L.ZeroPadding2D(1)(np.transpose(x, (0, 2, 3, 1)))
    want = np.transpose(np.asarray(L.AveragePooling2D(3, strides=2, padding="valid")(nhwc)), (0, 3, 1, 2))
    np.testing.assert_allclose(MILExecution(program).run(x), want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("tx, ty", [(False, False), (True, False), (False, True), (True, True)])
def test_matmul_transposes_match_keras_ops(tmp_path, tx, ty):
    from coremltools.converters.mil import Builder as mb

    rng = np.random.default_rng(7)
    y = rng.normal(0, 1, (6, 4) if ty else (4, 6)).astype(np.float32)
    program = builder_program(
        tmp_path, lambda x: mb.matmul(x=x, y=y, transpose_x=tx, transpose_y=ty), (2, 4, 3) if tx else (2, 3, 4)
    )
    x = rng.normal(0, 1, (2, 4, 3) if tx else (2, 3, 4)).astype(np.float32)
    a = keras.ops.swapaxes(x, -1, -2) if tx else x
    b = keras.ops.transpose(y) if ty else y
    np.testing.assert_allclose(MILExecution(program).run(x), np.asarray(keras.ops.matmul(a, b)), rtol=1e-5, atol=1e-5)


def test_8bit_compressed_weights_match_the_uncompressed_program(tmp_path):
    """linear_quantize_weights emits constexpr_affine_dequantize; its output must match dequantization."""
    import coremltools.optimize.coreml as cto

    from carspotter.export.formats.coreml.library import import_coremltools
    from carspotter.util.quiet import quiet

    ct = import_coremltools()
    inp = keras.Input(SHAPE, name="x")
    model = keras.Model(inp, L.Conv2D(64, 5, padding="same", **B)(inp))
    with quiet():
        ml = ct.convert(
            model,
            inputs=[ct.TensorType(name="x", shape=(1,) + SHAPE)],
            convert_to="mlprogram",
            minimum_deployment_target=ct.target.iOS16,
            compute_precision=ct.precision.FLOAT32,
        )
        small = cto.linear_quantize_weights(
            ml,
            config=cto.OptimizationConfig(
                global_config=cto.OpLinearQuantizerConfig(mode="linear_symmetric", dtype="int8", weight_threshold=0)
            ),
        )
    small.save(str(tmp_path / "q.mlpackage"))
    program = load_mlpackage(tmp_path / "q.mlpackage")
    assert "constexpr_affine_dequantize" in ops_of(program)
    x = np.random.default_rng(8).normal(0, 1, (1,) + SHAPE).astype(np.float32)
    want = np.asarray(model(x))
    got = MILExecution(program).run(x)
    err = np.abs(got - want).max()
    assert 0 < err < 0.02 * np.abs(want).max()  # 8-bit weights: close, not identical


@pytest.mark.parametrize(
    "name, target, make, op, bound",
    [
        (
            "palettized 4-bit, a table per tensor",
            "iOS16",
            lambda cto: cto.OpPalettizerConfig(mode="kmeans", nbits=4, weight_threshold=0),
            "constexpr_lut_to_dense",
            0.15,
        ),
        (
            "palettized 4-bit, a table per 16 channels",
            "iOS18",
            lambda cto: cto.OpPalettizerConfig(
                mode="kmeans", nbits=4, granularity="per_grouped_channel", group_size=16, weight_threshold=0
            ),
            "constexpr_lut_to_dense",
            0.15,
        ),
        (
            "palettized 4-bit, a table per tensor and a scale per channel (chained constexpr ops)",
            "iOS18",
            lambda cto: cto.OpPalettizerConfig(
                mode="kmeans", nbits=4, enable_per_channel_scale=True, weight_threshold=0
            ),
            "constexpr_lut_to_dense",
            0.15,
        ),
        (
            "int4 block-wise",
            "iOS18",
            lambda cto: cto.OpLinearQuantizerConfig(
                mode="linear_symmetric", dtype="int4", granularity="per_block", block_size=32, weight_threshold=0
            ),
            "constexpr_blockwise_shift_scale",
            0.15,
        ),
    ],
)
def test_lowbit_compressed_weights_run_close_to_the_uncompressed_model(tmp_path, name, target, make, op, bound):
    """The Core ML low-bit variants' decompression ops (palettized look-up tables, 4-bit blocks) run in the MIL
    reference execution: the output is near the uncompressed model's, and a 4-bit palettized weight tensor holds
    at most 16 distinct values (per table), so the tables were applied, not skipped."""
    import coremltools.optimize.coreml as cto

    from carspotter.export.formats.coreml.library import import_coremltools
    from carspotter.util.quiet import quiet

    ct = import_coremltools()
    inp = keras.Input(SHAPE, name="x")  # the second convolution has 64 input channels: two blocks of 32
    model = keras.Model(inp, L.Conv2D(32, 3, padding="same", **B)(L.Conv2D(64, 5, padding="same", **B)(inp)))
    with quiet():
        ml = ct.convert(
            model,
            inputs=[ct.TensorType(name="x", shape=(1,) + SHAPE)],
            convert_to="mlprogram",
            minimum_deployment_target=getattr(ct.target, target),
            compute_precision=ct.precision.FLOAT32,
        )
        config = cto.OptimizationConfig(global_config=make(cto))
        small = (cto.palettize_weights if "palettized" in name else cto.linear_quantize_weights)(ml, config=config)
    small.save(str(tmp_path / "q.mlpackage"))
    program = load_mlpackage(tmp_path / "q.mlpackage")
    assert op in ops_of(program)
    x = np.random.default_rng(9).normal(0, 1, (1,) + SHAPE).astype(np.float32)
    want = np.asarray(model(x))
    err = np.abs(MILExecution(program).run(x) - want).max()
    assert 0 < err < bound * np.abs(want).max(), err
    if "chained" in name:  # the table comes out of constexpr_blockwise_shift_scale (the per-channel scale)
        lut = next(o for o in program.function.operations if o.op_type == op).inputs["lut"]
        assert lut.val is None and lut.op.op_type == "constexpr_blockwise_shift_scale"
    elif "palettized" in name:
        dense = next(o for o in program.function.operations if o.op_type == op).materialized_val_inference()
        groups = 1 if "per tensor" in name else 64 // 16  # at most 64 output channels: 4 tables of 16
        assert len(np.unique(dense)) <= 16 * groups < dense.size
