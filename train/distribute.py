"""Distribution strategy and mixed precision for training.

Strategies (``tf.distribute``, TensorFlow guide "Distributed training with TensorFlow"):

- ``default``: one device (the first GPU if any, else the CPU).
- ``mirrored``: ``MirroredStrategy``, synchronous data parallelism over every GPU of
  this host (all-reduce of gradients).
- ``multiworker``: ``MultiWorkerMirroredStrategy`` over several hosts; each host runs
  the same ``carspotter train`` command with its ``TF_CONFIG`` environment variable
  naming the cluster and its own task index (see docs/training.md, 'Several hosts').
- ``auto``: ``mirrored`` with two or more GPUs, else ``default``.

``--batch-size`` is per replica: the global batch is ``batch_size x replicas``, and the
learning rates scale linearly with the replicas (Goyal et al. 2017, "Accurate, Large
Minibatch SGD: Training ImageNet in 1 Hour", linear scaling rule).

Mixed precision: the Keras ``mixed_float16`` policy (float16 compute, float32
variables; Micikevicius et al. 2018) with the softmax layer kept in float32; Keras wraps
the optimizer in a ``LossScaleOptimizer``. It pays off on GPUs with tensor cores; on a CPU
it is slower, and the command says so.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass

from carspotter.util.errors import UsageError

STRATEGIES = ("auto", "default", "mirrored", "multiworker")


@dataclass
class Distribution:
    """The strategy in use.

    Attributes:
        name: resolved strategy name (``default``, ``mirrored``, ``multiworker``).
        strategy: the ``tf.distribute.Strategy``.
        replicas: ``strategy.num_replicas_in_sync``.
        devices: device names the replicas run on.
    """

    name: str
    strategy: object
    replicas: int
    devices: list[str]

    def scale(self, batch_size: int, lr: float) -> tuple[int, float]:
        """``(global batch, learning rate)`` for ``batch_size`` per replica (linear scaling rule)."""
        return batch_size * self.replicas, lr * self.replicas

    def to_json(self) -> dict:
        return {"strategy": self.name, "replicas": self.replicas, "devices": self.devices}


def make_distribution(name: str, devices: list[str] | None = None) -> Distribution:
    """Create the strategy named ``name`` (see the module docstring).

    Args:
        name: one of :data:`STRATEGIES`.
        devices: explicit device names for ``mirrored`` (e.g. ``["/cpu:0", "/cpu:1"]`` with
            logical CPU devices, as the tests do); None for every GPU.

    Raises:
        UsageError: unknown name, ``mirrored`` without two devices, or ``multiworker``
            without ``TF_CONFIG``.
    """
    import tensorflow as tf

    if name not in STRATEGIES:
        raise UsageError(f"--strategy {name}: must be one of {', '.join(STRATEGIES)}")
    gpus = [f"/gpu:{i}" for i, _ in enumerate(tf.config.list_physical_devices("GPU"))]
    if name == "auto":
        name = "mirrored" if len(gpus) >= 2 else "default"
    if name == "mirrored":
        devices = devices or gpus
        if len(devices) < 2:
            raise UsageError(
                f"--strategy mirrored needs two or more GPUs on this host; found {len(gpus)}. "
                "Use --strategy default (or auto)"
            )
        strategy = tf.distribute.MirroredStrategy(devices)
        return Distribution("mirrored", strategy, strategy.num_replicas_in_sync, list(devices))
    if name == "multiworker":
        if "TF_CONFIG" not in os.environ:
            raise UsageError(
                "--strategy multiworker needs the TF_CONFIG environment variable naming the cluster "
                "and this worker's index (see docs/training.md, 'Several hosts')"
            )
        strategy = tf.distribute.MultiWorkerMirroredStrategy()
        return Distribution("multiworker", strategy, strategy.num_replicas_in_sync, gpus or ["/cpu:0"])
    strategy = tf.distribute.get_strategy()
    return Distribution("default", strategy, 1, gpus[:1] or ["/cpu:0"])


def set_mixed_precision(enabled: bool) -> str:
    """Set the global Keras dtype policy: ``mixed_float16`` when enabled, else ``float32``.

    Returns:
        The policy name now in force.
    """
    import keras
    import tensorflow as tf

    policy = "mixed_float16" if enabled else "float32"
    if enabled and not tf.config.list_physical_devices("GPU"):
        print(
            "[train] warning: --mixed-precision on a CPU runs float16 in software and is slower than float32; "
            "it pays off on GPUs with tensor cores",
            file=sys.stderr,
            flush=True,
        )
    keras.mixed_precision.set_dtype_policy(policy)
    return policy


def compute_facts(policy: str) -> dict:
    """run.json ``training``: what the training ran on and in which arithmetic, beside each phase's images/s.

    ``device_names``: the backend's names of the devices (the CPU's model name, or each GPU's); ``matmul_precision``:
    ``float32``, or ``tf32`` where TensorFlow lets float32 products use TensorFloat-32 tensor cores (its default on
    NVIDIA Ampere and newer GPUs); ``input_fed``: uint8 batches, cast on the device.
    """
    import tensorflow as tf

    from carspotter.model.reference_worker import cpu_name

    gpus = tf.config.list_physical_devices("GPU")
    names = [tf.config.experimental.get_device_details(g).get("device_name", g.name) for g in gpus] or [cpu_name()]
    tf32 = bool(gpus) and tf.config.experimental.tensor_float_32_execution_enabled()
    return {
        "device_names": names,
        "matmul_precision": "tf32" if tf32 else "float32",
        "input_fed": "uint8 batches, cast to float32 on the device inside the training model (model.keras keeps "
        f"its float32 input); compute policy {policy}",
    }
