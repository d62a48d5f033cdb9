"""gutaxis.io.datasets: the real download code against a local HTTP server on 127.0.0.1.

The server serves the copies in ../shared/data under the same relative paths as the real
raw.githubusercontent.com URLs (a symlink tree in tmp_path), and GUTAXIS_DATASETS_URL points at it.
"""

from __future__ import annotations

import hashlib
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from gutaxis.errors import GutaxisError, InputError
from gutaxis.io import datasets

# The real URLs' layout (raw.githubusercontent.com/<owner>/<repo>/<commit>/<path>), written out here
# independently of the registry so that a wrong path in datasets.json fails the tests.
GMHI = "jaeyunsung/GMHI_2020/87fe9f6eb96b154683c454067456be48a96bbd9c"
HMP2 = "biobakery/Maaslin2/02ba5133bd2077594239c72754bfd3dde658a3bc/inst/extdata"
USDA = "itgma/maxprotein/28de9da7cb7afcc592498a90770ea86277744d15"
NOVA = "Barabasi-Lab/GroceryDB/44c9f2e2c27cea8be609c8b8362624cef4341bfa/data"
SUN = "yexianingyue/GM_common_diseases/9e2ca93a2bf1c48f96c5748c4704055c362061e0/data"  # PROVENANCE.md's commit
NOVA_TRAIN = "GroceryDB_training_dataset_SRFNDSS_2001_2018_NOVA123_multi_compositions_12Nutrients.csv"
LAYOUT = {
    ("gmhi2020_validation", "validation_abundance.csv"): GMHI,
    ("gmhi2020_validation", "validation_metadata.csv"): GMHI,
    ("gmhi2020_validation", "MH_species.txt"): GMHI,
    ("gmhi2020_validation", "MN_species.txt"): GMHI,
    ("maaslin2_hmp2", "HMP2_taxonomy.tsv"): HMP2,
    ("maaslin2_hmp2", "HMP2_metadata.tsv"): HMP2,
    ("usda_sr28_abbrev", "ABBREV.txt"): USDA,
    ("nova_fndds_sr_grocerydb", NOVA_TRAIN): NOVA,
    ("nova_fndds_sr_grocerydb", "GroceryDB_IgFPro.csv"): NOVA,
    ("sun2024_gm_common_diseases", "mpa4_class.profile"): SUN,
    ("sun2024_gm_common_diseases", "sample.group"): SUN,
}
DATASET_OF_SHARED = {
    "gmhi2020_validation": "gmhi2020_validation",
    "maaslin2_hmp2": "hmp2_maaslin2",
    "usda_sr28_abbrev": "usda_sr28_abbrev",
    "nova_fndds_sr_grocerydb": "nova_fndds_sr_grocerydb",
    "sun2024_gm_common_diseases": "sun2024_gm_common_diseases",
}


class _Server:
    def __init__(self, root: Path):
        self.requests: list[str] = []
        server = self

        class Handler(SimpleHTTPRequestHandler):
            def do_GET(self):
                server.requests.append(self.path)
                super().do_GET()

            def log_message(self, *args):  # keep test output clean
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), partial(Handler, directory=str(root)))
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def mirror(tmp_path, shared):
    """A symlink tree laid out like the real URLs, served on 127.0.0.1."""
    root = tmp_path / "www"
    for (shared_dir, fname), rel in LAYOUT.items():
        target = root / rel / fname
        target.parent.mkdir(parents=True, exist_ok=True)
        target.symlink_to(shared("data", shared_dir, fname))
    with _Server(root) as server:
        yield server, root


@pytest.fixture
def env(monkeypatch, tmp_path, mirror):
    server, _ = mirror
    monkeypatch.setenv("GUTAXIS_DATASETS_URL", server.url)
    monkeypatch.setenv("GUTAXIS_DATA_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_registry_lists_source_licence_citation():
    table = datasets.list_datasets()
    assert {"gmhi2020_validation", "hmp2_maaslin2"} <= set(table.index)
    for col in ("title", "licence", "citation", "source"):
        assert table[col].astype(str).str.len().gt(10).all(), col
    assert table["files"].astype(str).str.len().gt(0).all()
    assert "doi:10.1038/s41467-020-18476-8" in table.loc["gmhi2020_validation", "citation"]
    assert "MIT" in table.loc["hmp2_maaslin2", "licence"]


def test_registry_checksums_match_provenance(shared):
    """Every sha256 in datasets.json equals the one in ../shared/data/*/PROVENANCE.md and the file itself."""
    for (shared_dir, fname), _ in LAYOUT.items():
        prov = shared("data", shared_dir, "PROVENANCE.md").read_text()
        entry = datasets.dataset_info(DATASET_OF_SHARED[shared_dir])["files"][fname]
        assert entry["sha256"] in prov, f"{fname}: registry sha256 not in {shared_dir}/PROVENANCE.md"
        assert entry["sha256"] == _sha256(shared("data", shared_dir, fname))
        assert entry["bytes"] == shared("data", shared_dir, fname).stat().st_size


def test_fetch_downloads_checks_and_caches(env, mirror):
    server, _ = mirror
    paths = datasets.fetch("gmhi2020_validation", progress=False)
    assert set(paths) == {"validation_abundance.csv", "validation_metadata.csv", "MH_species.txt", "MN_species.txt"}
    for fname, path in paths.items():
        assert path.parent == env / "gmhi2020_validation"
        assert _sha256(path) == datasets.dataset_info("gmhi2020_validation")["files"][fname]["sha256"]
    assert len(server.requests) == 4
    assert all(r.startswith(f"/{GMHI}/") for r in server.requests)

    # second fetch: served from the cache, the server is not hit
    again = datasets.fetch("gmhi2020_validation", progress=False)
    assert again == paths
    assert len(server.requests) == 4

    one = datasets.fetch("hmp2_maaslin2/HMP2_metadata.tsv", progress=True)
    assert isinstance(one, Path) and one.name == "HMP2_metadata.tsv"
    assert server.requests[-1] == f"/{HMP2}/HMP2_metadata.tsv"


def test_cache_dir_argument_overrides_env(env, tmp_path):
    path = datasets.fetch("gmhi2020_validation/MH_species.txt", cache_dir=tmp_path / "elsewhere", progress=False)
    assert path == tmp_path / "elsewhere" / "gmhi2020_validation" / "MH_species.txt"
    assert not (env / "gmhi2020_validation" / "MH_species.txt").exists()


def test_corrupted_file_fails_clearly_and_is_removed(env, mirror):
    _, root = mirror
    served = root / GMHI / "MN_species.txt"
    data = bytearray(served.read_bytes())
    served.unlink()
    data[5] ^= 0x20  # one flipped bit
    served.write_bytes(bytes(data))
    expected = datasets.dataset_info("gmhi2020_validation")["files"]["MN_species.txt"]["sha256"]

    with pytest.raises(datasets.DatasetChecksumError) as err:
        datasets.fetch("gmhi2020_validation/MN_species.txt", progress=False)
    msg = str(err.value)
    assert isinstance(err.value, GutaxisError)
    assert "MN_species.txt" in msg and expected in msg and hashlib.sha256(data).hexdigest() in msg
    assert "\n" not in msg
    folder = env / "gmhi2020_validation"
    assert not folder.exists() or list(folder.iterdir()) == []


def test_server_error_and_unknown_names(env, monkeypatch):
    with pytest.raises(InputError, match="unknown dataset 'nope'"):
        datasets.fetch("nope")
    with pytest.raises(InputError, match="has no file"):
        datasets.fetch("gmhi2020_validation/nope.csv")
    monkeypatch.setenv("GUTAXIS_DATASETS_URL", "http://127.0.0.1:9/")  # discard port: refused
    with pytest.raises(datasets.DatasetError, match=r"download from http://127.0.0.1:9/.*failed"):
        datasets.fetch("gmhi2020_validation/MH_species.txt", progress=False)


def test_default_cache_is_pooch_os_cache(monkeypatch):
    import pooch

    monkeypatch.delenv("GUTAXIS_DATA_DIR", raising=False)
    assert datasets.cache_dir() == Path(pooch.os_cache("gutaxis"))
    monkeypatch.setenv("GUTAXIS_DATA_DIR", "/some/where")
    assert datasets.cache_dir() == Path("/some/where")


def test_cli_fetch_prints_the_paths(env, mirror, tmp_path):
    from typer.testing import CliRunner

    from gutaxis.cli import app

    server, _ = mirror
    result = CliRunner().invoke(app, ["datasets", "fetch", "hmp2_maaslin2", "--cache", str(tmp_path / "c")])
    assert result.exit_code == 0, result.output
    paths = [Path(line) for line in result.output.split()]
    assert sorted(p.name for p in paths) == ["HMP2_metadata.tsv", "HMP2_taxonomy.tsv"]
    assert all(p.is_file() and p.parent == tmp_path / "c" / "hmp2_maaslin2" for p in paths)
    assert len(server.requests) == 2


def test_food_tables_fetched_where_the_lifestyle_readers_look(env, mirror):
    """`gutaxis datasets fetch usda_sr28_abbrev` puts ABBREV.txt where read_usda_abbrev() looks."""
    from gutaxis.lifestyle.foods import default_nova_path, default_usda_path, read_nova, read_usda_abbrev

    server, _ = mirror
    usda = datasets.fetch("usda_sr28_abbrev/ABBREV.txt", progress=False)
    nova = datasets.fetch(f"nova_fndds_sr_grocerydb/{NOVA_TRAIN}", progress=False)
    assert server.requests == [f"/{USDA}/ABBREV.txt", f"/{NOVA}/{NOVA_TRAIN}"]
    assert usda == default_usda_path() and nova == default_nova_path()
    foods = read_usda_abbrev()  # default path: the cache just filled
    assert len(foods) == 8790  # SR28 count (PROVENANCE.md)
    assert foods.loc["09040", "fiber_g"] == pytest.approx(2.6)  # BANANAS,RAW
    nova_table = read_nova()
    assert len(nova_table) == 10499  # PROVENANCE.md: 10,499 rows
    assert nova_table["nova"].isin([1, 2, 3, 4]).all()


def test_fetch_from_a_local_copy_checks_and_installs(tmp_path, shared):
    """`fetch(..., source=)` (`datasets fetch --from`): offline machines install a copied folder, checked by sha256."""
    cache = tmp_path / "cache"
    paths = datasets.fetch("hmp2_maaslin2", cache_dir=cache, source=shared("data", "maaslin2_hmp2"))
    for fname, path in paths.items():
        assert path == cache / "hmp2_maaslin2" / fname and not path.is_symlink()
        assert _sha256(path) == _sha256(shared("data", "maaslin2_hmp2", fname))
        assert datasets.verify_cached(path, cache=cache) == path
    left = sorted(p.name for p in (cache / "hmp2_maaslin2").iterdir())
    assert left == sorted([*paths, *(f".{f}.sha256-stamp" for f in paths)])  # the files and their stamps, no temp files


def test_fetch_from_a_changed_copy_is_refused_and_copies_nothing(tmp_path, shared):
    src = tmp_path / "copy"
    src.mkdir()
    for fname in ("HMP2_taxonomy.tsv", "HMP2_metadata.tsv"):
        (src / fname).write_bytes(shared("data", "maaslin2_hmp2", fname).read_bytes())
    with open(src / "HMP2_metadata.tsv", "ab") as fh:
        fh.write(b"extra\trow\n")
    cache = tmp_path / "cache"
    with pytest.raises(datasets.DatasetChecksumError, match=r"HMP2_metadata.tsv"):
        datasets.fetch("hmp2_maaslin2/HMP2_metadata.tsv", cache_dir=cache, source=src)
    assert not (cache / "hmp2_maaslin2" / "HMP2_metadata.tsv").exists()
    (src / "HMP2_taxonomy.tsv").unlink()
    with pytest.raises(InputError, match=r"no file 'HMP2_taxonomy.tsv'"):
        datasets.fetch("hmp2_maaslin2/HMP2_taxonomy.tsv", cache_dir=cache, source=src)


def test_cli_fetch_from(tmp_path, shared):
    from typer.testing import CliRunner

    from gutaxis.cli import app

    r = CliRunner().invoke(
        app,
        [
            "datasets",
            "fetch",
            "hmp2_maaslin2",
            "--cache",
            str(tmp_path),
            "--from",
            str(shared("data", "maaslin2_hmp2")),
        ],
    )
    assert r.exit_code == 0, r.output
    assert (tmp_path / "hmp2_maaslin2" / "HMP2_taxonomy.tsv").is_file()
