"""Near-tie tolerances, in one place, per precision (recorded in parity.json).

tau is in probability units (0..1): two classes whose *reference* probabilities differ
by less than tau may swap places in a format's top-3 (a near-tie, counted and
reported). The values follow the rounding error of each arithmetic: fp32 kernels that
reorder sums differ from the reference by ~1e-6 here, fp16 by ~1e-3, int8 by ~1e-2.
"""

TOLERANCES = {
    "fp32": 1e-4,
    "fp32-gpu": 1e-3,  # TF32 tensor-core matmuls on Ampere and newer GPUs
    "fp16": 1e-2,
    "int8": 3e-2,
}


def tau_for(precision: str) -> float:
    """Near-tie tolerance for a precision name in :data:`TOLERANCES`.

    Raises:
        KeyError: unknown precision.
    """
    return TOLERANCES[precision]
