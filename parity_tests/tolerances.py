"""Parity tolerances, in one place, per precision (recorded in parity.json).

``tau`` (near-tie tolerance, probability units 0..1): two classes whose *reference*
probabilities differ by less than tau may swap places in a format's top-3; each such
near-tie is counted and reported.

``max_abs_diff`` (probability units): the largest |p - q| over every photo and class must
stay below it. The top-3 order alone would pass a format that lost its softmax (same
order, logits instead of probabilities); this bound catches that.

Values follow each arithmetic's rounding: fp32 kernels that reorder sums differed from
the Keras reference by ~1e-6 here, fp16 programs by ~3e-3, int8 by ~1e-2; each bound
leaves an order of magnitude of room without admitting a broken model.
"""

TOLERANCES = {
    "fp32": {"tau": 1e-4, "max_abs_diff": 1e-3},
    "fp32-gpu": {"tau": 1e-3, "max_abs_diff": 1e-2},  # TF32 tensor-core matmuls on Ampere and newer GPUs
    "fp16": {"tau": 1e-2, "max_abs_diff": 5e-2},
    "int8": {"tau": 3e-2, "max_abs_diff": 2e-1},
}


def tau_for(precision: str) -> float:
    """Near-tie tolerance for a precision in :data:`TOLERANCES`. Raises KeyError if unknown."""
    return TOLERANCES[precision]["tau"]


def max_abs_diff_for(precision: str) -> float:
    """Bound on max |p - q| for a precision in :data:`TOLERANCES`. Raises KeyError if unknown."""
    return TOLERANCES[precision]["max_abs_diff"]
