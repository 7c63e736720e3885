"""An ML program translated op by op into an ONNX graph: the MIL execution that runs Core ML files off Apple platforms.

Core ML's ``MLModel.predict`` exists only on macOS, and no library executes ML
Programs elsewhere. The program read back from the shipped ``.mlpackage``
(:mod:`carspotter.export.formats.coreml.mil_program`) is translated here op by op into an ONNX graph, which
:mod:`carspotter.export.formats.coreml.mil_execution` runs with ONNX Runtime on the CPU.

It is an independent execution of the MIL program, not Core ML: it follows the MIL op
definitions (coremltools ``mil/ops/defs/iOS15``) with fp32 arithmetic, and in
``"fp16"`` mode rounds every fp16-typed value (each op output and each constant) to
float16, which is how the Core ML runtime computes an fp16 program on GPU / Neural
Engine up to accumulation order.

Input: for an image input, ``[N, S, S, 3]`` uint8 RGB (the same decoded pixels as every
format), laid out as Core ML hands an ``ImageType`` to the program (NCHW float, values
0..255); the ImageType's scale and bias are ``mul``/``add`` ops inside an ML program
(coremltools puts them there), so they run like any op. For a tensor input, the array as
the program declares it. Output: the ``classify`` op's probabilities ``[N, C]`` (or a non-classifier's single
output), and ``box`` ``[N, 4]`` when the program has the localizer's ``box`` output.

Supported ops: :data:`SUPPORTED_OPS`, derived from the translator's ``op_*`` methods (const,
constexpr_affine_dequantize for 8-bit compressed weights (iOS 16), constexpr_lut_to_dense for
palettized weights (iOS 16 / 18), constexpr_blockwise_shift_scale for block-wise quantized weights
(iOS 18), cast, add, sub, mul,
real_div, relu, sigmoid, softmax, conv, max_pool, avg_pool, concat, reduce_mean, linear, matmul,
transpose, reshape, batch_norm, classify). Any other op raises
:class:`~carspotter.util.errors.MILExecutionError` naming it; nothing is skipped.
"""

from __future__ import annotations

import numpy as np

from carspotter.util.errors import MILExecutionError

MODES = ("fp32", "fp16")
ONNX_OPSET = 17


def _dtype_name(var) -> str:
    from coremltools.converters.mil.mil import types

    t = var.dtype
    if types.is_tensor(var.sym_type):
        t = var.sym_type.get_primitive()
    return types.builtin_to_string(t)


def _same_pads(in_sizes, kernel, strides, dilations, lower=False):
    """Explicit ONNX pads [begin..., end...] for MIL/TF 'same' padding (extra pad at the end)."""
    begins, ends = [], []
    for n, k, s, d in zip(in_sizes, kernel, strides, dilations):
        out = -(-n // s)
        total = max((out - 1) * s + (k - 1) * d + 1 - n, 0)
        small = total // 2
        begins.append(total - small if lower else small)
        ends.append(small if lower else total - small)
    return begins + ends


def _pads(op, x_shape, kernel, strides, dilations):
    pad_type = op.inputs["pad_type"].val if "pad_type" in op.inputs else "valid"
    spatial = list(x_shape[2:])
    if pad_type == "valid":
        return [0] * (2 * len(spatial))
    if pad_type in ("same", "same_lower"):
        if any(not isinstance(n, (int, np.integer)) for n in spatial):
            raise MILExecutionError(f"{op.op_type} {op.name}: 'same' padding needs static spatial sizes, got {spatial}")
        return _same_pads(spatial, kernel, strides, dilations, lower=pad_type == "same_lower")
    if pad_type == "custom":
        pad = [int(v) for v in op.inputs["pad"].val]  # MIL: [d1_begin, d1_end, d2_begin, d2_end]
        return pad[0::2] + pad[1::2]
    raise MILExecutionError(f"{op.op_type} {op.name}: unknown pad_type {pad_type!r}")


class _Translator:
    """Builds the ONNX graph for one MIL function in one mode."""

    def __init__(self, program, mode: str):
        from onnx import TensorProto, helper

        self.helper, self.TensorProto = helper, TensorProto
        self.program, self.mode = program, mode
        self.nodes, self.initializers = [], []
        self.names: dict[str, str] = {}  # MIL var name -> ONNX tensor name (after rounding)
        self.dense: dict[str, np.ndarray] = {}  # constexpr output var name -> its decompressed value (for chains)
        self.counter = 0
        self.output = None

    def fresh(self, base: str) -> str:
        self.counter += 1
        return f"{base}__{self.counter}"

    def const(self, value: np.ndarray, name: str | None = None) -> str:
        from onnx import numpy_helper

        value = np.asarray(value)
        if value.dtype == np.float16:
            value = value.astype(np.float32)  # fp16 values are exact in fp32
        elif value.dtype == np.float64:
            value = value.astype(np.float32)
        name = self.fresh(name or "const")
        self.initializers.append(numpy_helper.from_array(value, name))
        return name

    def node(self, op_type: str, inputs: list[str], out_base: str, **attrs) -> str:
        out = self.fresh(out_base)
        self.nodes.append(self.helper.make_node(op_type, inputs, [out], **attrs))
        return out

    def round_fp16(self, name: str) -> str:
        h = self.node("Cast", [name], name + "_f16", to=self.TensorProto.FLOAT16)
        return self.node("Cast", [h], name + "_r", to=self.TensorProto.FLOAT)

    def value(self, var) -> str:
        """ONNX name holding MIL var ``var`` (constants become initializers on first use)."""
        if var.name in self.names:
            return self.names[var.name]
        if var.name in self.dense:  # a decompressed constexpr output
            self.names[var.name] = self.const(self.dense.pop(var.name), var.name)
            return self.names[var.name]
        if var.val is not None:
            name = self.const(var.val, var.name)
            self.names[var.name] = name
            return name
        raise MILExecutionError(f"variable {var.name!r} is used before it is produced")

    def bind(self, var, onnx_name: str) -> None:
        dtype = _dtype_name(var)
        if self.mode == "fp16" and dtype == "fp16":
            onnx_name = self.round_fp16(onnx_name)
        self.names[var.name] = onnx_name

    def translate(self):
        helper, TP = self.helper, self.TensorProto
        fn = self.program.function
        x = fn.inputs[self.program.input_name]
        shape = list(x.shape)
        if self.program.input_is_image:  # [1, 3, H, W] in the program; NHWC pixels fed
            graph_in = helper.make_tensor_value_info("input", TP.FLOAT, ["N", shape[2], shape[3], 3])
            self.names[x.name] = self.node("Transpose", ["input"], "nchw", perm=[0, 3, 1, 2])
        else:
            graph_in = helper.make_tensor_value_info("input", TP.FLOAT, shape)
            self.names[x.name] = "input"
        for op in fn.operations:
            handler = getattr(self, "op_" + op.op_type, None)
            if handler is None:
                raise MILExecutionError(
                    f"MIL op {op.op_type!r} (named {op.name!r}) is not supported by the reference executor"
                )
            handler(op)
        if self.output is None:
            if len(fn.outputs) != 1:
                raise MILExecutionError(f"expected a classifier or one output, found {[o.name for o in fn.outputs]}")
            self.output = self.value(fn.outputs[0])
        outs = [("output", self.output)] + [("box", self.value(o)) for o in fn.outputs if o.name == "box"]
        self.nodes += [helper.make_node("Identity", [src], [name]) for name, src in outs]
        graph_outs = [helper.make_tensor_value_info(name, TP.FLOAT, None) for name, _ in outs]
        graph = helper.make_graph(self.nodes, "mil_execution", [graph_in], graph_outs, self.initializers)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", ONNX_OPSET)])
        model.ir_version = 8
        return model

    # -- ops ---------------------------------------------------------------------------
    def op_const(self, op):
        pass  # materialized on first use

    def op_constexpr_affine_dequantize(self, op):
        """Compressed weights: ``(quantized_data - zero_point) * scale`` along ``axis`` (iOS 16 spec)."""
        q = np.asarray(op.inputs["quantized_data"].val).astype(np.float32)
        zero = np.asarray(op.inputs["zero_point"].val).astype(np.float32)
        scale = np.asarray(op.inputs["scale"].val).astype(np.float32)
        axis = int(op.inputs["axis"].val)
        shape = [1] * q.ndim
        if zero.ndim == 1:
            zero = zero.reshape([-1 if i == axis else 1 for i in range(q.ndim)])
        if scale.ndim == 1:
            shape[axis] = -1
            scale = scale.reshape(shape)
        value = (q - zero) * scale
        if _dtype_name(op.outputs[0]) == "fp16":
            value = value.astype(np.float16)
        self.names[op.outputs[0].name] = self.const(value, op.outputs[0].name)

    def _materialized(self, op) -> None:
        """A constexpr op's dense value, as coremltools computes it from the op's definition
        (``materialized_val_inference``, or the op class's own ``decompress``: the spec's decompression,
        not ours), in the output's dtype.

        iOS 18 chains constexpr ops: palettization with a per-channel scale is a look-up table produced by
        ``constexpr_blockwise_shift_scale`` and fed to ``constexpr_lut_to_dense``. coremltools' own value
        inference of ``constexpr_lut_to_dense`` reads only a const table, so the chained table comes from
        the value materialized for the op before it.
        """
        chained = {k: self.dense[v.name] for k, v in op.inputs.items() if v.val is None and v.name in self.dense}
        if op.op_type == "constexpr_lut_to_dense" and "lut" in chained:
            axis = op.inputs.get("vector_axis")
            value = np.asarray(
                type(op).decompress(op.inputs["indices"].val, chained["lut"], None if axis is None else axis.val)
            )
        else:  # constexpr_blockwise_shift_scale materializes a chained input itself
            try:
                value = np.asarray(op.materialized_val_inference())
            except (AttributeError, TypeError) as exc:
                raise MILExecutionError(
                    f"MIL op {op.op_type} {op.name!r}: cannot decompress ({exc}); inputs from "
                    f"other constexpr ops: {', '.join(chained) or 'none'}"
                ) from exc
        if value.shape != tuple(op.outputs[0].shape):
            raise MILExecutionError(
                f"MIL op {op.op_type} {op.name!r}: decompressed shape {value.shape} != {op.outputs[0].shape}"
            )
        # an initializer on first use (value()), so a table consumed by the next constexpr op is not one
        self.dense[op.outputs[0].name] = value.astype(
            np.float16 if _dtype_name(op.outputs[0]) == "fp16" else np.float32
        )

    def op_constexpr_lut_to_dense(self, op):
        """Palettized weights: each index replaced by its look-up-table entry (iOS 16 and iOS 18 definitions)."""
        self._materialized(op)

    def op_constexpr_blockwise_shift_scale(self, op):
        """Block-wise quantized weights: ``(data - offset) * scale`` per block (iOS 18 definition)."""
        self._materialized(op)

    def op_cast(self, op):
        target = op.inputs["dtype"].val
        src = self.value(op.inputs["x"])
        if target in ("fp16", "fp32"):
            out = self.node("Identity", [src], op.outputs[0].name)
        elif target in ("int32", "int16", "int8", "uint8", "bool"):
            to = {
                "int32": self.TensorProto.INT32,
                "int16": self.TensorProto.INT16,
                "int8": self.TensorProto.INT8,
                "uint8": self.TensorProto.UINT8,
                "bool": self.TensorProto.BOOL,
            }[target]
            out = self.node("Cast", [src], op.outputs[0].name, to=to)
        else:
            raise MILExecutionError(f"cast {op.name!r} to {target!r} is not supported")
        self.bind(op.outputs[0], out)

    def _binary(self, op, onnx_op):
        out = self.node(onnx_op, [self.value(op.inputs["x"]), self.value(op.inputs["y"])], op.outputs[0].name)
        self.bind(op.outputs[0], out)

    def op_add(self, op):
        self._binary(op, "Add")

    def op_sub(self, op):
        self._binary(op, "Sub")

    def op_mul(self, op):
        self._binary(op, "Mul")

    def op_real_div(self, op):
        self._binary(op, "Div")

    def op_relu(self, op):
        self.bind(op.outputs[0], self.node("Relu", [self.value(op.inputs["x"])], op.outputs[0].name))

    def op_sigmoid(self, op):
        self.bind(op.outputs[0], self.node("Sigmoid", [self.value(op.inputs["x"])], op.outputs[0].name))

    def op_softmax(self, op):
        axis = int(op.inputs["axis"].val) if "axis" in op.inputs else -1
        self.bind(op.outputs[0], self.node("Softmax", [self.value(op.inputs["x"])], op.outputs[0].name, axis=axis))

    def op_transpose(self, op):
        perm = [int(p) for p in op.inputs["perm"].val]
        self.bind(op.outputs[0], self.node("Transpose", [self.value(op.inputs["x"])], op.outputs[0].name, perm=perm))

    def op_reshape(self, op):
        shape = np.asarray(op.inputs["shape"].val, dtype=np.int64)
        if shape.ndim != 1:
            raise MILExecutionError(f"reshape {op.name!r}: shape must be a constant vector")
        out = self.node("Reshape", [self.value(op.inputs["x"]), self.const(shape)], op.outputs[0].name)
        self.bind(op.outputs[0], out)

    def op_concat(self, op):
        if "interleave" in op.inputs and bool(op.inputs["interleave"].val):
            raise MILExecutionError(f"concat {op.name!r} with interleave=True is not supported")
        values = [self.value(v) for v in op.inputs["values"]]
        self.bind(op.outputs[0], self.node("Concat", values, op.outputs[0].name, axis=int(op.inputs["axis"].val)))

    def op_reduce_mean(self, op):
        x = op.inputs["x"]
        axes = (
            [int(a) for a in op.inputs["axes"].val]
            if "axes" in op.inputs and op.inputs["axes"] is not None
            else list(range(len(x.shape)))
        )
        keep = int(bool(op.inputs["keep_dims"].val)) if "keep_dims" in op.inputs else 0
        self.bind(op.outputs[0], self.node("ReduceMean", [self.value(x)], op.outputs[0].name, axes=axes, keepdims=keep))

    def op_linear(self, op):
        x = op.inputs["x"]
        w = self.value(op.inputs["weight"])  # [out, in]
        bias = op.inputs.get("bias")
        wt = self.node("Transpose", [w], "wt", perm=[1, 0])
        out = self.node("MatMul", [self.value(x), wt], op.outputs[0].name)
        if bias is not None:
            out = self.node("Add", [out, self.value(bias)], op.outputs[0].name + "_b")
        self.bind(op.outputs[0], out)

    def op_matmul(self, op):
        names = []
        for key, flag in (("x", "transpose_x"), ("y", "transpose_y")):
            var = op.inputs[key]
            name = self.value(var)
            if flag in op.inputs and bool(op.inputs[flag].val):
                rank = len(var.shape)
                perm = list(range(rank - 2)) + [rank - 1, rank - 2]
                name = self.node("Transpose", [name], key + "t", perm=perm)
            names.append(name)
        self.bind(op.outputs[0], self.node("MatMul", names, op.outputs[0].name))

    def op_batch_norm(self, op):
        x = op.inputs["x"]
        c = x.shape[1]
        gamma = op.inputs.get("gamma")
        beta = op.inputs.get("beta")
        inputs = [
            self.value(x),
            self.value(gamma) if gamma is not None else self.const(np.ones(c, np.float32)),
            self.value(beta) if beta is not None else self.const(np.zeros(c, np.float32)),
            self.value(op.inputs["mean"]),
            self.value(op.inputs["variance"]),
        ]
        eps = float(op.inputs["epsilon"].val) if "epsilon" in op.inputs else 1e-5
        self.bind(op.outputs[0], self.node("BatchNormalization", inputs, op.outputs[0].name, epsilon=eps))

    def op_conv(self, op):
        x = op.inputs["x"]
        weight = op.inputs["weight"]
        k = list(weight.shape[2:])
        strides = [int(s) for s in op.inputs["strides"].val] if "strides" in op.inputs else [1] * len(k)
        dil = [int(d) for d in op.inputs["dilations"].val] if "dilations" in op.inputs else [1] * len(k)
        groups = int(op.inputs["groups"].val) if "groups" in op.inputs else 1
        inputs = [self.value(x), self.value(weight)]
        if op.inputs.get("bias") is not None:
            inputs.append(self.value(op.inputs["bias"]))
        out = self.node(
            "Conv",
            inputs,
            op.outputs[0].name,
            kernel_shape=k,
            strides=strides,
            dilations=dil,
            group=groups,
            pads=_pads(op, x.shape, k, strides, dil),
        )
        self.bind(op.outputs[0], out)

    def _pool(self, op, onnx_op, **extra):
        x = op.inputs["x"]
        k = [int(v) for v in op.inputs["kernel_sizes"].val]
        strides = [int(s) for s in op.inputs["strides"].val] if "strides" in op.inputs else [1] * len(k)
        ceil = int(bool(op.inputs["ceil_mode"].val)) if "ceil_mode" in op.inputs else 0
        out = self.node(
            onnx_op,
            [self.value(x)],
            op.outputs[0].name,
            kernel_shape=k,
            strides=strides,
            pads=_pads(op, x.shape, k, strides, [1] * len(k)),
            ceil_mode=ceil,
            **extra,
        )
        self.bind(op.outputs[0], out)

    def op_max_pool(self, op):
        self._pool(op, "MaxPool")

    def op_avg_pool(self, op):
        exclude = (
            bool(op.inputs["exclude_padding_from_average"].val)
            if "exclude_padding_from_average" in op.inputs
            else False
        )
        self._pool(op, "AveragePool", count_include_pad=0 if exclude else 1)

    def op_classify(self, op):
        self.output = self.value(op.inputs["probabilities"])


SUPPORTED_OPS = frozenset(name[len("op_") :] for name in vars(_Translator) if name.startswith("op_"))
"""MIL op types the MIL execution runs: one ``_Translator.op_<type>`` method each."""


def translate(program, mode: str = "fp32"):
    """The ONNX graph (``onnx.ModelProto``, opset :data:`ONNX_OPSET`) that computes ``program`` (a
    :class:`carspotter.export.formats.coreml.mil_program.MILProgram`) in ``mode`` (``fp32``, or ``fp16``: every fp16-typed value
    rounded to float16).

    Raises:
        MILExecutionError: an unsupported op (named) or a malformed program.
    """
    return _Translator(program, mode).translate()
