"""The model's input and output and its backbone, described once: :class:`InputSpec`, :class:`BackboneSpec`.

Every stage that names a fact of the model's interface takes it from here: the trainer
builds the Keras model with these names and this rescaling and stores the spec in run.json
(``input``, ``output``); each exporter writes it in its own format (Core ML image input and
descriptions, ONNX ``input_spec`` metadata, TFLite metadata description) and the app
READMEs quote it. The idea follows MediaPipe Model Maker's ``ModelSpec`` (one object with
the input shape and normalization, handed to every step that needs it). The preprocessing
record (decoder, orientation, colour, resize, large JPEGs) is part of the input spec
(:attr:`InputSpec.preprocessing`); the backbone's facts are :data:`BACKBONE`.
"""

from __future__ import annotations

from dataclasses import dataclass

from carspotter.model import photos, reference_resize

INPUT_NAME = "image"
"""Name of the model input in every format."""

OUTPUT_NAME = "probabilities"
"""Name of the Keras softmax layer and of the ONNX / TFLite output."""

INPUT_RANGES = {
    # name: (Rescaling scale, offset); output = input * scale + offset
    "-1,1": (1.0 / 127.5, -1.0),  # Keras ImageNet weights (inception_v3.preprocess_input)
    "0,1": (1.0 / 255.0, 0.0),  # e.g. the offline nsfwjs-derived backbone
}
"""Pixel ranges backbone weights expect, and the ``keras.layers.Rescaling`` that maps 0..255 to them."""

PIXEL_RANGE = (0, 255)

RESIZE = {
    "method": "integer box pre-reduction (antialiasing), then bilinear without antialiasing as MediaPipe Tasks "
    "on CPU: OpenCV 4 warpPerspective INTER_LINEAR, BORDER_REPLICATE, output x samples input x * w / S "
    "(ONNX's 'asymmetric' mapping)",
    "reduction": reference_resize.REDUCTION,
    "library": "numpy + opencv",
    "aspect": "stretch",
    "version": 2,
}
"""How photos are resized to ``S x S`` (:func:`carspotter.model.reference_resize.resize` implements it).
``version`` 2 (December 2026) added the box pre-reduction; version 1 (no key) was the bilinear alone."""


@dataclass(frozen=True)
class BackboneSpec:
    """The backbone's facts, in one place.

    Attributes:
        name: for people and messages (``InceptionV3``).
        keras_layer: the backbone's layer name inside the reference model (``inception_v3``).
        native_size: the input side it was designed for, pixels (299: Szegedy et al. 2016).
        min_size: the smallest input side ``keras.applications`` accepts, pixels (75).
        imagenet_range: key of :data:`INPUT_RANGES` that Keras' ImageNet weights expect
            (``inception_v3.preprocess_input``: -1..1).
        finetune_layers: top layers of the backbone unfrozen in phase 2 (50).
        gradcam_layer: the last convolutional block, where Grad-CAM looks (``mixed10``, 8 x 8 x 2048 at 299 px).
    """

    name: str
    keras_layer: str
    native_size: int
    min_size: int
    imagenet_range: str
    finetune_layers: int
    gradcam_layer: str

    def application(self):
        """The ``keras.applications`` constructor (``keras.applications.InceptionV3``)."""
        import keras

        return getattr(keras.applications, self.name)


BACKBONE = BackboneSpec(
    name="InceptionV3",
    keras_layer="inception_v3",
    native_size=299,
    min_size=75,
    imagenet_range="-1,1",
    finetune_layers=50,
    gradcam_layer="mixed10",
)
"""The backbone carspotter fine-tunes."""


@dataclass(frozen=True)
class InputSpec:
    """What the model takes and gives.

    Attributes:
        size: S, input side in pixels; the input is ``[N, S, S, 3]`` NHWC RGB.
        model_input_range: key of :data:`INPUT_RANGES`: the range the backbone sees after
            the Rescaling layer inside the model. Callers always feed raw 0..255.
        name: input name (:data:`INPUT_NAME`).
        output_name: output name (:data:`OUTPUT_NAME`).
    """

    size: int
    model_input_range: str
    name: str = INPUT_NAME
    output_name: str = OUTPUT_NAME

    layout = "NHWC"
    color = "RGB"
    dtype = "float32"

    def __post_init__(self):
        if self.model_input_range not in INPUT_RANGES:
            raise ValueError(f"model_input_range {self.model_input_range!r}: choose one of {', '.join(INPUT_RANGES)}")

    @property
    def shape(self) -> list:
        """``[None, S, S, 3]`` (batch dimension free)."""
        return [None, self.size, self.size, 3]

    @property
    def rescaling(self) -> tuple[float, float]:
        """``(scale, offset)`` of the Rescaling layer inside the model."""
        return INPUT_RANGES[self.model_input_range]

    @property
    def resize(self) -> dict:
        """How photos are resized to ``S x S`` (:data:`RESIZE`)."""
        return dict(RESIZE)

    @property
    def preprocessing(self) -> dict:
        """How photos become this input: run.json's and the manifest's ``preprocessing`` record."""
        return {
            "decoder": "Pillow",
            "exif_orientation": "applied (HEIF rotation applied once, by the decoder)",
            "color": "8-bit RGB; alpha composited on white (255,255,255); 16-bit scaled >> 8; CMYK via Pillow",
            "animated": "first frame",
            "resize": self.resize,
            "large_photos": f"every pixel decoded (no JPEG DCT scaling); up to {photos.MAX_PIXELS:,} pixels",
            "min_side_px": photos.MIN_SIDE,
            "pixel_range": list(PIXEL_RANGE),
            "layout": self.layout,
            "dtype_fed": f"{self.dtype} holding integer values {PIXEL_RANGE[0]}..{PIXEL_RANGE[1]}",
        }

    def describe(self) -> str:
        """One sentence for model metadata: what to feed."""
        return (
            f"{self.color} photo, EXIF orientation applied, resized to {self.size}x{self.size} by stretching "
            f"(aspect ratio not kept), raw pixel values {PIXEL_RANGE[0]}..{PIXEL_RANGE[1]}."
        )

    def metadata(self) -> dict:
        """Compact spec for model files (ONNX ``input_spec``, Core ML user metadata)."""
        return {
            "name": self.name,
            "layout": self.layout,
            "color": self.color,
            "dtype": self.dtype,
            "pixel_range": list(PIXEL_RANGE),
            "shape": ["N", self.size, self.size, 3],
            "resize": RESIZE["aspect"],
        }

    def to_json(self) -> dict:
        """run.json / manifest.json ``input``."""
        scale, offset = self.rescaling
        return {
            "name": self.name,
            "shape": self.shape,
            "dtype": self.dtype,
            "layout": self.layout,
            "color": self.color,
            "pixel_range": list(PIXEL_RANGE),
            "model_input_range": self.model_input_range,
            "rescaling": {"scale": scale, "offset": offset},
        }

    def output_json(self, num_classes: int) -> dict:
        """run.json ``output``: ``[N, C]`` softmax probabilities."""
        return {"name": self.output_name, "shape": [None, num_classes], "kind": "softmax probabilities"}

    @classmethod
    def from_json(cls, data: dict) -> "InputSpec":
        """Read back :meth:`to_json` (run.json or manifest.json ``input``).

        Raises:
            ValueError: the shape is not ``[N, S, S, 3]`` with an integer S, or the range is unknown.
        """
        shape = data["shape"]
        if len(shape) != 4 or not isinstance(shape[1], int) or shape[1] != shape[2] or shape[3] != 3:
            raise ValueError(f"input shape {shape}: expected [N, S, S, 3]")
        return cls(size=shape[1], model_input_range=data["model_input_range"], name=data.get("name", INPUT_NAME))
