"""Our stand-in for MediaPipe's missing compiled GetMinimumMetadataParserVersion."""

from __future__ import annotations

import flatbuffers
import pytest

from carspotter.export.formats.tflite.metadata import minimum_parser_version

fb = pytest.importorskip("mediapipe.tasks.metadata.metadata_schema_py_generated", reason="mediapipe is not installed")


def buffer(subgraph=None, model_files=None) -> bytes:
    md = fb.ModelMetadataT()
    md.name = "m"
    md.subgraphMetadata = [subgraph or fb.SubGraphMetadataT()]
    md.associatedFiles = model_files
    b = flatbuffers.Builder(0)
    b.Finish(md.Pack(b), b"M001")
    return bytes(b.Output())


def file(kind, version=None):
    f = fb.AssociatedFileT()
    f.name, f.type, f.version = "f.txt", kind, version
    return f


def test_plain_metadata_is_1_0_0():
    assert minimum_parser_version(buffer()) == "1.0.0"


def test_axis_labels_file_stays_1_0_0():
    sg = fb.SubGraphMetadataT()
    t = fb.TensorMetadataT()
    t.associatedFiles = [file(fb.AssociatedFileType.TENSOR_AXIS_LABELS)]
    sg.outputTensorMetadata = [t]
    assert minimum_parser_version(buffer(sg)) == "1.0.0"


@pytest.mark.parametrize(
    "make, expected",
    [
        (lambda sg: setattr(sg, "associatedFiles", [file(fb.AssociatedFileType.VOCABULARY)]), "1.0.1"),
        (lambda sg: setattr(sg, "inputProcessUnits", []), "1.1.0"),
        (lambda sg: setattr(sg, "outputTensorGroups", []), "1.2.0"),
        (lambda sg: setattr(sg, "associatedFiles", [file(fb.AssociatedFileType.SCANN_INDEX_FILE)]), "1.4.0"),
        (lambda sg: setattr(sg, "associatedFiles", [file(fb.AssociatedFileType.DESCRIPTIONS, "v2")]), "1.4.1"),
        (lambda sg: setattr(sg, "customMetadata", []), "1.5.0"),
    ],
)
def test_each_later_field_raises_the_version(make, expected):
    sg = fb.SubGraphMetadataT()
    make(sg)
    assert minimum_parser_version(buffer(sg)) == expected


def test_the_highest_field_wins():
    sg = fb.SubGraphMetadataT()
    sg.inputProcessUnits = []
    sg.customMetadata = []
    assert minimum_parser_version(buffer(sg, [file(fb.AssociatedFileType.VOCABULARY)])) == "1.5.0"
