"""read_profile: format detection, explicit formats, unknown formats."""

from __future__ import annotations

import zipfile

import pytest
from test_io_roundtrip import biom_v2_bytes, counts

import gutaxis
import gutaxis.io as gio
from gutaxis.errors import InputError


def test_public_surface():
    for name in (
        "read_profile",
        "read_metaphlan",
        "read_biom",
        "read_qza",
        "read_table",
        "read_h5ad",
        "read_metadata",
        "add_metadata",
        "FilteredWarning",
        "SUPPORTED_FORMATS",
    ):
        assert hasattr(gio, name)
    assert set(gio.SUPPORTED_FORMATS) == {"metaphlan", "biom", "qza", "table", "h5ad"}
    assert gutaxis.read_profile is gio.read_profile  # lazy export of the package
    assert issubclass(gio.FilteredWarning, UserWarning)


def test_unknown_format_argument(tmp_path):
    path = tmp_path / "t.tsv"
    path.write_text("taxon\tS1\nA b\t1\n")
    with pytest.raises(InputError, match="unknown format 'kraken'"):
        gio.read_profile(path, format="kraken")


def test_explicit_format_skips_detection(tmp_path):
    path = tmp_path / "t.txt"
    path.write_text("taxon\tS1\tS2\nA b\t1\t2\n")
    adata = gio.read_profile(path, format="table")
    assert adata.uns["provenance"]["format_reason"] == "given"


@pytest.mark.parametrize(
    "content,suffix,message",
    [
        (b"\x00\x01\x02binary", ".dat", "binary file"),
        (b"", ".tsv", "empty"),
        (b'{"a": 1}', ".json", "JSON file that is not a BIOM table"),
        (b"\x89HDF\r\n\x1a\n" + b"\x00" * 64, ".h5", "HDF5 file that cannot be opened"),
    ],
)
def test_unknown_or_broken_files(tmp_path, content, suffix, message):
    path = tmp_path / f"x{suffix}"
    path.write_bytes(content)
    with pytest.raises(InputError, match=message) as info:
        gio.read_profile(path)
    assert str(path) in str(info.value)


def test_zip_that_is_not_an_artifact(tmp_path):
    path = tmp_path / "x.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("table.tsv", "a\tb\n")
    with pytest.raises(InputError, match="not a QIIME 2 artifact"):
        gio.read_profile(path)


def test_missing_file():
    with pytest.raises(InputError, match="file not found"):
        gio.read_profile("no/such/file.tsv")


def test_hdf5_biom_detected_by_content(tmp_path):
    path = tmp_path / "no_extension"
    path.write_bytes(biom_v2_bytes(counts()))
    assert gio.detect_format(path) == ("biom", "HDF5 with BIOM attributes (BIOM v2)")


def test_list_must_be_metaphlan(tmp_path):
    with pytest.raises(InputError, match="list of files is read as MetaPhlAn"):
        gio.read_profile([tmp_path / "a", tmp_path / "b"], format="biom")
