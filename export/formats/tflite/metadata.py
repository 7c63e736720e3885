"""Embed labels and image normalization as TFLite metadata (MediaPipe Tasks' schema).

mediapipe 1.2.2's ``metadata_writers`` import a compiled module
``mediapipe.tasks.cc.metadata.python._pywrap_metadata_version`` that its wheels do not
ship, and tflite-support (the other writer) needs protobuf < 4, which TensorFlow 2.21
cannot share a venv with. The compiled module provides one function,
``GetMinimumMetadataParserVersion(buffer) -> str``: the smallest metadata-parser version
that understands every field present. :func:`minimum_parser_version` computes the same
thing in Python from the field-introduction table documented in MediaPipe's
``metadata_schema.fbs`` (each field is annotated with the version that added it), and
:func:`_install_version_module` registers it under the missing module's name before the
writers are imported. Nothing else of MediaPipe is patched.
"""

from __future__ import annotations

import sys
import types

# Schema members added after metadata version 1.0.0, with the version that added them
# (MediaPipe metadata_schema.fbs, "Added in: x.y.z" comments).
_VOCABULARY_FILE = (1, 0, 1)
_PROCESS_UNITS = (1, 1, 0)
_TOKENIZER_BERT_OR_SENTENCEPIECE = (1, 1, 0)
_TENSOR_GROUPS = (1, 2, 0)
_TOKENIZER_REGEX = (1, 2, 1)
_AUDIO_PROPERTIES = (1, 3, 0)
_SCANN_INDEX_FILE = (1, 4, 0)
_ASSOCIATED_FILE_VERSION = (1, 4, 1)
_CUSTOM_METADATA = (1, 5, 0)


def minimum_parser_version(buffer: bytes) -> str:
    """Smallest metadata-parser version that understands every field in ``buffer``.

    Args:
        buffer: a ``ModelMetadata`` flatbuffer (file identifier ``M001``).

    Returns:
        Version string ``"MAJOR.MINOR.PATCH"``, at least ``"1.0.0"``.
    """
    from mediapipe.tasks.metadata import metadata_schema_py_generated as fb

    md = fb.ModelMetadataT.InitFromObj(fb.ModelMetadata.GetRootAs(bytes(buffer), 0))
    found = [(1, 0, 0)]

    def files(items):
        for f in items or []:
            if f.type == fb.AssociatedFileType.VOCABULARY:
                found.append(_VOCABULARY_FILE)
            if f.type == fb.AssociatedFileType.SCANN_INDEX_FILE:
                found.append(_SCANN_INDEX_FILE)
            if f.version is not None:
                found.append(_ASSOCIATED_FILE_VERSION)

    def units(items):
        for u in items or []:
            if u.optionsType in (
                fb.ProcessUnitOptions.BertTokenizerOptions,
                fb.ProcessUnitOptions.SentencePieceTokenizerOptions,
            ):
                found.append(_TOKENIZER_BERT_OR_SENTENCEPIECE)
            if u.optionsType == fb.ProcessUnitOptions.RegexTokenizerOptions:
                found.append(_TOKENIZER_REGEX)

    def tensors(items):
        for t in items or []:
            files(t.associatedFiles)
            units(t.processUnits)
            if t.content is not None and t.content.contentPropertiesType == fb.ContentProperties.AudioProperties:
                found.append(_AUDIO_PROPERTIES)

    for sg in md.subgraphMetadata or []:
        tensors(sg.inputTensorMetadata)
        tensors(sg.outputTensorMetadata)
        files(sg.associatedFiles)
        for attr, version in (
            ("inputProcessUnits", _PROCESS_UNITS),
            ("outputProcessUnits", _PROCESS_UNITS),
            ("inputTensorGroups", _TENSOR_GROUPS),
            ("outputTensorGroups", _TENSOR_GROUPS),
            ("customMetadata", _CUSTOM_METADATA),
        ):
            value = getattr(sg, attr, None)
            if value is not None:
                found.append(version)
                if attr.endswith("ProcessUnits"):
                    units(value)
    files(md.associatedFiles)
    return ".".join(map(str, max(found)))


def _install_version_module() -> None:
    name = "mediapipe.tasks.cc.metadata.python._pywrap_metadata_version"
    if name in sys.modules:
        return
    try:
        __import__(name)
        return  # a future wheel ships the compiled module: use it
    except ImportError:
        pass
    module = types.ModuleType(name)
    module.GetMinimumMetadataParserVersion = minimum_parser_version
    for parent in ("mediapipe.tasks.cc", "mediapipe.tasks.cc.metadata", "mediapipe.tasks.cc.metadata.python"):
        sys.modules.setdefault(parent, types.ModuleType(parent))
    sys.modules[name] = module


def add_classifier_metadata(
    tflite_model: bytes,
    labels: list[str],
    *,
    name: str,
    version: str,
    description: str,
    author: str,
    license: str,
    input_description: str,
    box: bool = False,
) -> bytes:
    """Return ``tflite_model`` with MediaPipe image-classifier metadata embedded.

    The input gets normalization mean 0, std 1 on every channel: the model takes raw
    RGB 0..255 and rescales inside itself, so MediaPipe must feed pixels unchanged.
    The output gets the labels as an associated ``labels.txt`` (TENSOR_AXIS_LABELS).

    Args:
        tflite_model: flatbuffer bytes from ``TFLiteConverter``; float32 image input
            ``[1, S, S, 3]`` and ``[1, C]`` probability output.
        labels: C class names in index order.
        name, version, description, author, license: general model information.
        input_description: what to feed (from the model's input spec).
        box: the file has a second output, the localizer's ``[1, 4]`` box (a feature output in the metadata, which
            MediaPipe's ImageClassifier reports as head 1 without labels).

    Returns:
        The model flatbuffer with metadata and the packed labels file.
    """
    _install_version_module()
    from mediapipe.tasks.python.metadata.metadata_writers import metadata_writer

    writer = metadata_writer.MetadataWriter(bytearray(tflite_model))
    writer._general_md = metadata_writer.metadata_info.GeneralMd(
        name=name, version=version, description=description, author=author, licenses=license
    )
    writer.add_image_input(norm_mean=[0.0, 0.0, 0.0], norm_std=[1.0, 1.0, 1.0], description=input_description)
    writer.add_classification_output(
        metadata_writer.Labels().add(list(labels), exported_filename="labels.txt"),
        description="Softmax probabilities, one per class, in labels.txt order.",
    )
    if box:
        writer.add_feature_output(name="box", description="The car's box x0, y0, x1, y1 in 0..1 of the input.")
    model_with_metadata, _ = writer.populate()
    writer._temp_folder.cleanup()  # its __del__ fails if left to interpreter shutdown
    del writer
    return bytes(model_with_metadata)


def read_metadata(tflite_model: bytes) -> tuple[dict, list[str]]:
    """Read back embedded metadata: ``(metadata as a dict, labels from the packed labels.txt)``."""
    _install_version_module()
    import json

    from mediapipe.tasks.python.metadata import metadata

    displayer = metadata.MetadataDisplayer.with_model_buffer(bytes(tflite_model))
    meta = json.loads(displayer.get_metadata_json())
    names = displayer.get_packed_associated_file_list()
    labels = (
        displayer.get_associated_file_buffer("labels.txt").decode("utf-8").splitlines() if "labels.txt" in names else []
    )
    return meta, labels
