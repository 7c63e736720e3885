"""Graph rewrites applied to the ``torch.export`` program before Core AI conversion (``coreai-torch``).

:func:`exact_average_pool` is the one rewrite carspotter needs. Keras' ``AveragePooling2D(3, 1, "same")`` (nine of
them in InceptionV3's ``mixed`` blocks) reaches PyTorch as ``aten.avg_pool2d(x, 3, 1, padding=1,
count_include_pad=False)``: the average over the part of the window inside the image. ``coreai-torch`` 0.4.3 with
``coreai-core`` 1.0.0b3 computes that layer wrongly, off by up to 0.59 on one layer (../shared/TOOLCHAIN.md,
2026-12-06; on a 10-class InceptionV3 it moved the top-1 of 15 % of photos). The rewrite computes the same average
from ops the converter gets right: the padded average with ``count_include_pad=True`` (zeros counted), divided by
the fraction of the window that lies inside the image (the same average of a tensor of ones). At the borders the
division restores the mean of the in-image pixels exactly (up to float32 rounding); inside, the fraction is 1.

``tests/test_coreai.py`` keeps the rewrite honest both ways: the rewritten program agrees with Keras, and the
unrewritten single layer is still wrong in Core AI (when a future converter gets it right, that test fails and the
rewrite can go).
"""

from __future__ import annotations

AVG_POOL = "aten.avg_pool2d.default"
"""The op the rewrite replaces, as ``str(node.target)`` reads."""


def _needs_rewrite(node) -> bool:
    """An ``avg_pool2d`` that excludes padding and has padding to exclude."""
    if node.op != "call_function" or str(node.target) != AVG_POOL:
        return False
    args = list(node.args) + [None] * (7 - len(node.args))
    padding = args[3] if args[3] is not None else node.kwargs.get("padding", [0, 0])
    include = args[5] if args[5] is not None else node.kwargs.get("count_include_pad", True)
    divisor = args[6] if args[6] is not None else node.kwargs.get("divisor_override")
    return not include and divisor is None and any(int(p) for p in padding)


def exact_average_pool(graph_module) -> int:
    """Rewrite every padded ``avg_pool2d(..., count_include_pad=False)`` of an FX ``graph_module`` (the unlifted
    module of a ``torch.export`` program, ``ExportedProgram.module()``) in place into
    ``avg_pool2d(x, ..., count_include_pad=True) / avg_pool2d(ones[1, 1, H, W], ..., count_include_pad=True)``.

    Shapes: ``x`` is ``[N, C, H, W]`` (NCHW, as Keras' torch backend pools); the fraction is ``[1, 1, H', W']`` and
    broadcasts. Export the module again afterwards (``torch.export.export``) so the new nodes get their metadata.

    Returns:
        How many nodes were rewritten (9 for InceptionV3).
    """
    import torch

    aten = torch.ops.aten
    graph, count = graph_module.graph, 0
    for node in list(graph.nodes):
        if not _needs_rewrite(node):
            continue
        args = list(node.args) + [None] * (7 - len(node.args))
        x, kernel, stride, padding = args[0], args[1], args[2] or args[1], args[3]
        ceil = bool(args[4]) if args[4] is not None else bool(node.kwargs.get("ceil_mode", False))
        height, width = x.meta["val"].shape[-2:] if "val" in x.meta else node.meta["val"].shape[-2:]
        with graph.inserting_before(node):
            padded = graph.call_function(aten.avg_pool2d.default, (x, kernel, stride, padding, ceil, True))
            ones = graph.call_function(
                aten.ones.default,
                ([1, 1, int(height), int(width)],),
                {"dtype": torch.float32, "device": torch.device("cpu")},
            )
            fraction = graph.call_function(aten.avg_pool2d.default, (ones, kernel, stride, padding, ceil, True))
            exact = graph.call_function(aten.div.Tensor, (padded, fraction))
        node.replace_all_uses_with(exact)
        graph.erase_node(node)
        count += 1
    if count:
        graph.lint()
        graph_module.recompile()
    return count
