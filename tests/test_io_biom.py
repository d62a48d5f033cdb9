"""BIOM v1/v2 and QIIME 2 .qza specifics: taxonomy metadata, sample metadata, artifact provenance."""

from __future__ import annotations

import io

import biom
import h5py
import numpy as np
import pytest
from test_io_roundtrip import SAMPLES, TAXA, biom_v2_bytes, counts, qza_bytes

import gutaxis.io as gio
from gutaxis.errors import InputError


def _write_v2(path, table: biom.Table) -> None:
    with h5py.File(path, "w") as handle:
        table.to_hdf5(handle, "gutaxis tests")


@pytest.mark.parametrize(
    "taxonomy,expected",
    [
        (
            [
                "k__Bacteria",
                "p__Firmicutes",
                "c__Clostridia",
                "o__Clostridiales",
                "f__Lachnospiraceae",
                "g__Blautia",
                "s__",
            ],
            ("Blautia", np.nan, "genus"),
        ),
        (
            [
                "D_0__Bacteria",
                "D_1__Firmicutes",
                "D_2__Clostridia",
                "D_3__Clostridiales",
                "D_4__Lachnospiraceae",
                "D_5__[Ruminococcus] gnavus group",
            ],
            ("Ruminococcus gnavus group", np.nan, "genus"),
        ),
        (
            [
                "d__Bacteria",
                "p__Firmicutes_A",
                "c__Clostridia",
                "o__Lachnospirales",
                "f__Lachnospiraceae",
                "g__Blautia_A",
                "s__Blautia_A obeum",
            ],
            ("Blautia A", "Blautia A obeum", "species"),
        ),
    ],
)
def test_taxonomy_metadata_styles(tmp_path, taxonomy, expected):
    table = biom.Table(np.array([[3.0, 1.0]]), ["f1"], ["A", "B"], observation_metadata=[{"taxonomy": taxonomy}])
    path = tmp_path / "t.biom"
    _write_v2(path, table)
    adata = gio.read_biom(path)
    genus, species, rank = expected
    assert adata.var.loc["f1", "genus"] == genus
    assert adata.var.loc["f1", "rank"] == rank
    if isinstance(species, float):
        assert np.isnan(adata.var.loc["f1", "species"])
    else:
        assert adata.var.loc["f1", "species"] == species
    assert adata.var.loc["f1", "kingdom"] == "Bacteria"


def test_taxonomy_as_joined_string_in_json(tmp_path):
    table = biom.Table(
        np.array([[3.0, 1.0], [1.0, 1.0]]),
        ["f1", "f2"],
        ["A", "B"],
        observation_metadata=[
            {"taxonomy": "k__Bacteria; p__Verrucomicrobia; g__Akkermansia"},
            {"taxonomy": "Unassigned"},
        ],
        sample_metadata=[{"body_site": "gut", "age": 31}, {"body_site": "gut", "age": 45}],
    )
    path = tmp_path / "t.json.biom"
    path.write_text(table.to_json("tests"))
    adata = gio.read_biom(path)
    assert adata.var.loc["f1", "genus"] == "Akkermansia"
    assert np.isnan(adata.var.loc["f2", "kingdom"]) and np.isnan(adata.var.loc["f2", "taxon"])
    assert list(adata.obs["age"]) == [31, 45] and list(adata.obs["body_site"]) == ["gut", "gut"]
    np.testing.assert_allclose(adata.layers["counts"].toarray(), [[3, 1], [1, 1]])


def test_biom_provenance_and_sparse_x(tmp_path):
    path = tmp_path / "v2.biom"
    path.write_bytes(biom_v2_bytes(counts()))
    adata = gio.read_biom(path)
    prov = adata.uns["provenance"]
    assert prov["reader"] == "biom" and prov["biom_format_version"] == "2 (HDF5)"
    assert prov["biom"]["type"] == "OTU table"
    assert adata.X.format == "csr"  # BIOM tables stay sparse


def test_qza_records_artifact(tmp_path):
    path = tmp_path / "table.qza"
    uid = "3d6e0e7c-5a0b-4d4b-9a39-7f1f3f0f0a11"
    path.write_bytes(qza_bytes(biom_v2_bytes(counts(), taxonomy=False), uid=uid))
    adata = gio.read_qza(path)
    prov = adata.uns["provenance"]
    assert prov["artifact_uuid"] == uid
    assert prov["artifact_type"] == "FeatureTable[Frequency]"
    assert prov["artifact_format"] == "BIOMV210DirFmt"
    assert prov["archive_version"] == "5" and prov["qiime2_framework"] == "2023.9.1"
    assert list(adata.obs_names) == SAMPLES and list(adata.var_names) == TAXA
    np.testing.assert_array_equal(adata.layers["counts"].toarray(), counts())


@pytest.mark.parametrize(
    "artifact_type", ["FeatureData[Taxonomy]", "FeatureTable[PresenceAbsence]", "SampleData[SequencesWithQuality]"]
)
def test_qza_other_types_are_named(tmp_path, artifact_type):
    path = tmp_path / "x.qza"
    path.write_bytes(qza_bytes(biom_v2_bytes(counts()), artifact_type=artifact_type))
    with pytest.raises(InputError) as info:
        gio.read_qza(path)
    assert artifact_type in str(info.value) and str(path) in str(info.value)


def test_qza_biom_member_is_not_hdf5(tmp_path):
    path = tmp_path / "x.qza"
    buf = io.BytesIO()
    buf.write(b"not hdf5")
    path.write_bytes(qza_bytes(buf.getvalue()))
    with pytest.raises(InputError, match=r"feature-table.biom is not a readable BIOM v2 table"):
        gio.read_qza(path)


def test_biom_duplicate_or_garbage(tmp_path):
    path = tmp_path / "garbage.biom"
    path.write_text('{"format": "Biological Observation Matrix 1.0.0", "rows": 3}')
    with pytest.raises(InputError, match="not a readable BIOM table"):
        gio.read_biom(path)
