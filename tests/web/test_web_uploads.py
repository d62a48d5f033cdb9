"""Stool-profile uploads: the gut card matches the package's own numbers, every format reads, unsafe
files are refused fast and small, and nobody but the person (or a dietitian with consent) sees it."""

from __future__ import annotations

import gzip
import io
import re
import resource
import struct
import time
import tracemalloc
import uuid
import warnings
import zipfile
import zlib

import h5py
import numpy as np
import pandas as pd
import pytest
from conftest import SHARED, signup
from sqlalchemy import func, select

MB = 1024 * 1024
METAPHLAN = SHARED / "data" / "gmwi2_example" / "SRR1761667_metaphlan.txt"
# species of the GMHI lists (gutaxis/data/gmhi_species.tsv) and of the panels, so every index is defined
TAXA = [
    "Alistipes putredinis",
    "Bifidobacterium adolescentis",
    "Faecalibacterium prausnitzii",
    "Eubacterium rectale",
    "Escherichia coli",
    "Ruminococcus gnavus",
    "Prevotella copri",
    "Akkermansia muciniphila",
]
COUNTS = [310, 45, 220, 130, 12, 9, 80, 4]


def needs_shared():
    if not METAPHLAN.is_file():
        pytest.skip("../shared (reference data) is not present beside this checkout")


# --------------------------------------------------------------------------- helpers
def upload(b, name: str, data, *, client_id: str | None = None):
    """POST /uploads as the upload form does."""
    form = {"client_id": client_id} if client_id else None
    return b.post_form("/uploads", form, files={"file": (name, data, "application/octet-stream")}, page="/uploads")


def upload_id(r) -> int:
    assert r.status_code == 303, r.text[:800]
    m = re.fullmatch(r"/uploads/(\d+)", r.headers["location"])
    assert m, r.headers["location"]
    return int(m.group(1))


def card_of(app, uid: int) -> dict:
    from gutaxis.web.models import Upload

    with app.state.sessions() as db:
        u = db.get(Upload, uid)
        assert u.status == "done", u.error
        return u.result


def indices_of(path):
    """What the package gives for the file, computed here independently of the web app."""
    import gutaxis

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        adata = gutaxis.read_profile(path)
        return adata, gutaxis.health_indices(adata).iloc[0]


def visible_text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).replace("&#39;", "'")


def audit_rows(app, **where):
    from gutaxis.web.models import AuditEvent

    with app.state.sessions() as db:
        q = select(AuditEvent)
        for k, v in where.items():
            q = q.where(getattr(AuditEvent, k) == v)
        return db.scalars(q.order_by(AuditEvent.id)).all()


def count(app, model) -> int:
    with app.state.sessions() as db:
        return db.scalar(select(func.count()).select_from(model))


def grant(app, person_id: int, dietitian_id: int, scopes: str = "microbiome") -> None:
    from gutaxis.web.models import Consent

    with app.state.sessions() as db:
        db.add(Consent(person_id=person_id, dietitian_id=dietitian_id, scopes=scopes))
        db.commit()


def biom_table():
    import biom

    taxonomy = [{"taxonomy": ["k__Bacteria", f"g__{t.split()[0]}", f"s__{t.replace(' ', '_')}"]} for t in TAXA]
    return biom.Table(
        np.array(COUNTS, dtype=float)[:, None], TAXA, ["S1"], observation_metadata=taxonomy, type="OTU table"
    )


def biom_v2_bytes() -> bytes:
    buf = io.BytesIO()
    with h5py.File(buf, "w") as handle:
        biom_table().to_hdf5(handle, "gutaxis web tests")
    return buf.getvalue()


def qza() -> bytes:
    from test_io_roundtrip import qza_bytes  # the QIIME 2 artifact writer of the io tests

    return qza_bytes(biom_v2_bytes(), artifact_type="FeatureTable[Frequency]")


FORMATS = {
    "biom_v1.biom": lambda: biom_table().to_json("gutaxis web tests").encode(),
    "biom_v2.biom": biom_v2_bytes,
    "table.qza": qza,
    "profile.tsv": lambda: ("taxon\tS1\n" + "".join(f"{t}\t{c}\n" for t, c in zip(TAXA, COUNTS, strict=True))).encode(),
    "profile_rows.csv": lambda: ("sample," + ",".join(TAXA) + "\nS1," + ",".join(map(str, COUNTS)) + "\n").encode(),
    "profile.tsv.gz": lambda: gzip.compress(
        ("taxon\tS1\n" + "".join(f"{t}\t{c}\n" for t, c in zip(TAXA, COUNTS, strict=True))).encode()
    ),
}


# --------------------------------------------------------------------------- the card
def test_metaphlan_card_matches_the_package(app, person, tmp_path):
    needs_shared()
    r = person.html("/uploads")
    assert r.status_code == 200 and 'enctype="multipart/form-data"' in r.text and 'name="client_id"' in r.text
    uid = upload_id(upload(person, METAPHLAN.name, METAPHLAN.read_bytes()))
    page = person.html(f"/uploads/{uid}")
    assert page.status_code == 200
    assert "data-poll" not in page.text  # done: it stops checking
    card = card_of(app, uid)
    _, want = indices_of(METAPHLAN)
    got = {i["key"]: i["value"] for i in card["indices"]}
    for key in ("GMHI", "shannon", "richness", "simpson", "inverse_simpson", "pielou"):
        assert got[key] == pytest.approx(float(want[key]), rel=1e-12, abs=1e-15), key
    for p in card["panels"]:
        assert p["value"] == pytest.approx(float(want[p["key"]]), rel=1e-12, abs=1e-15), p["key"]
    text = visible_text(page.text)
    assert f"Gut Microbiome Health Index (GMHI) {want['GMHI']:.2f}" in text
    assert f"Diversity (Shannon index) {want['shannon']:.2f}" in text
    assert f"Number of species found {want['richness']:.0f}" in text

    # the unclassified share, parsed by hand from the file's own UNKNOWN/UNCLASSIFIED line
    line = next(ln for ln in METAPHLAN.read_text().splitlines() if ln.split("\t")[0] in ("UNKNOWN", "UNCLASSIFIED"))
    share = float(line.split("\t")[2])
    assert card["unclassified"]["fraction"] == pytest.approx(share / 100, rel=1e-12)
    assert f"{share:.0f}% of reads were not classified" in text
    assert text.index("were not classified") < text.index("Gut Microbiome Health Index")  # stated first
    assert "gutaxis informs and never diagnoses" in text
    assert "need a healthy reference" in text and "gutaxis reference" in text  # no reference set up
    assert "<caption>" in page.text and 'scope="row"' in page.text and 'scope="col"' in page.text
    assert "style=" not in page.text and not re.search(r"<script(?![^>]*\bsrc=\"/static/)", page.text)
    # listed on the uploads page; the job page links back to the card
    assert METAPHLAN.name in person.html("/uploads").text
    from gutaxis.web.models import Job

    with app.state.sessions() as db:
        jid = db.scalar(select(Job.id).where(Job.kind == "parse_profile"))
    assert f'href="/jobs/{jid}"' in page.text
    jp = person.html(f"/jobs/{jid}")
    assert jp.status_code == 200 and "Done." in jp.text and f'href="/uploads/{uid}"' in jp.text


def test_percentiles_against_a_healthy_reference(app, person, settings, tmp_path):
    needs_shared()
    from gutaxis.measure import HealthyReference, percentiles

    rng = np.random.default_rng(3)
    ref = HealthyReference(
        values={
            "GMHI": rng.normal(0.5, 1.0, 40),
            "shannon": rng.normal(2.5, 0.6, 40),
            "faecalibacterium_prausnitzii": rng.uniform(0, 0.15, 40),
        },
        n_samples=40,
        source="test cohort",
    )
    settings.reference = ref.to_json(tmp_path / "reference.json")
    uid = upload_id(upload(person, METAPHLAN.name, METAPHLAN.read_bytes()))
    card = card_of(app, uid)
    _, want = indices_of(METAPHLAN)
    pct = percentiles(want.to_frame().T.astype(float), HealthyReference.from_json(settings.reference)).iloc[0]
    got = {x["key"]: x["percentile"] for x in card["indices"] + card["panels"]}
    for key in ("GMHI", "shannon", "faecalibacterium_prausnitzii"):
        assert got[key] == pytest.approx(float(pct[key]))
    assert got["richness"] is None
    text = visible_text(person.html(f"/uploads/{uid}").text)
    assert f"{round(pct['GMHI'])}% of them" in text and "compared with 40 healthy people" in text
    assert "need a healthy reference" not in text


@pytest.mark.parametrize("name", list(FORMATS))
def test_formats_parse(app, person, tmp_path, name):
    data = FORMATS[name]()
    uid = upload_id(upload(person, name, data))
    card = card_of(app, uid)
    local = tmp_path / name
    local.write_bytes(gzip.decompress(data) if name.endswith(".gz") else data)
    if name.endswith(".gz"):
        local = local.rename(tmp_path / name[:-3])
    _, want = indices_of(local)
    got = {i["key"]: i["value"] for i in card["indices"]}
    assert got["GMHI"] == pytest.approx(float(want["GMHI"]), rel=1e-12)
    assert got["shannon"] == pytest.approx(float(want["shannon"]), rel=1e-12)
    assert got["richness"] == len(TAXA)
    assert card["unclassified"] is None
    page = person.html(f"/uploads/{uid}")
    assert page.status_code == 200 and "Gut health card" in page.text
    assert "were not classified" not in page.text


def test_multi_sample_file_is_refused_with_a_message(app, person):
    text = "taxon\tAlice\tBob\n" + "".join(f"{t}\t{c}\t{c + 1}\n" for t, c in zip(TAXA, COUNTS, strict=True))
    uid = upload_id(upload(person, "two.tsv", text.encode()))
    page = visible_text(person.html(f"/uploads/{uid}").text)
    assert "two.tsv" in page and "holds 2 samples (Alice, Bob)" in page and "one sample per file" in page


def test_failed_parse_shows_the_readers_message(app, person, settings):
    bad = "taxon\tS1\nFaecalibacterium prausnitzii\t0.5\nAlistipes putredinis\tabc\n"
    uid = upload_id(upload(person, "mine.tsv", bad.encode()))
    page = person.html(f"/uploads/{uid}")
    assert page.status_code == 200
    text = visible_text(page.text)
    assert "could not be read" in text
    assert "mine.tsv: non-numeric value 'abc' for row 'Alistipes putredinis', column 'S1' (line 3)" in text
    assert "Traceback" not in page.text and str(settings.data_dir) not in page.text and ".job-" not in page.text
    from gutaxis.web.models import Job

    with app.state.sessions() as db:
        job = db.scalar(select(Job).where(Job.kind == "parse_profile"))
        assert job.status == "failed" and "non-numeric value 'abc'" in job.error
    jp = person.html(f"/jobs/{job.id}")
    assert jp.status_code == 200 and "non-numeric value" in jp.text and "Traceback" not in jp.text
    assert "data-poll" not in jp.text


def test_same_client_id_stores_once(app, person):
    from gutaxis.web.models import Job, Upload

    cid = str(uuid.uuid4())
    data = FORMATS["profile.tsv"]()
    first = upload_id(upload(person, "p.tsv", data, client_id=cid))
    again = upload_id(upload(person, "p.tsv", data, client_id=cid))
    assert first == again
    assert count(app, Upload) == 1 and count(app, Job) == 1
    stored = [p for p in (app.state.settings.upload_dir).iterdir() if p.is_file()]
    assert len(stored) == 1 and re.fullmatch(r"[0-9a-f]{32}", stored[0].name)  # a random name, not the user's


def test_download_is_the_file_as_an_attachment(app, person):
    data = FORMATS["biom_v2.biom"]()
    uid = upload_id(upload(person, "mine v2.biom", data))
    r = person.get(f"/uploads/{uid}/download")
    assert r.status_code == 200 and r.content == data
    assert r.headers["content-type"] == "application/octet-stream"
    assert r.headers["content-disposition"].startswith("attachment;")
    assert "mine%20v2.biom" in r.headers["content-disposition"]
    assert r.headers["x-content-type-options"] == "nosniff"


def test_job_page_refreshes_while_the_job_runs(app, person):
    from gutaxis.web.models import Job

    with app.state.sessions() as db:
        job = Job(kind="parse_profile", person_id=person.user_id, params={"upload_id": 999})
        db.add(job)
        db.commit()
        jid = job.id
    r = person.html(f"/jobs/{jid}")
    assert r.status_code == 200
    assert 'data-poll="2"' in r.text and "waiting for the worker" in r.text
    with app.state.sessions() as db:
        db.get(Job, jid).status = "running"
        db.commit()
    assert 'data-poll="2"' in person.html(f"/jobs/{jid}").text


def test_upload_page_shows_progress_then_failure(app, person):
    from gutaxis.web.models import Job, Upload

    with app.state.sessions() as db:
        up = Upload(
            person_id=person.user_id,
            client_id=str(uuid.uuid4()),
            filename="later.tsv",
            stored_name="0" * 32,
            size=10,
            kind="profile",
        )
        db.add(up)
        db.flush()
        job = Job(kind="parse_profile", person_id=person.user_id, params={"upload_id": up.id})
        db.add(job)
        db.commit()
        uid, jid = up.id, job.id
    r = person.html(f"/uploads/{uid}")
    assert r.status_code == 200 and 'data-poll="2"' in r.text
    assert "Waiting to start: waiting for the worker" in visible_text(r.text)
    with app.state.sessions() as db:  # a failure on our side: the job says so, the upload never finished
        j = db.get(Job, jid)
        j.status, j.error = "failed", "The job failed on our side; nothing you sent was lost. Try again."
        db.commit()
    r = person.html(f"/uploads/{uid}")
    assert "data-poll" not in r.text and "The job failed on our side" in r.text


def test_diary_uploads_are_covered_by_the_diary_scope(app, person, dietitian):
    from gutaxis.web.models import Upload

    with app.state.sessions() as db:
        up = Upload(
            person_id=person.user_id,
            client_id=str(uuid.uuid4()),
            filename="cronometer.csv",
            stored_name="0" * 32,
            size=10,
            kind="cronometer",
            status="done",
        )
        db.add(up)
        db.commit()
        uid = up.id
    r = person.html(f"/uploads/{uid}")
    assert r.status_code == 303 and r.headers["location"].startswith(f"/import?upload={uid}")
    grant(app, person.user_id, dietitian.user_id, "microbiome")
    assert dietitian.html(f"/uploads/{uid}").status_code == 404
    grant(app, person.user_id, dietitian.user_id, "diary")
    r = dietitian.html(f"/uploads/{uid}")
    assert r.status_code == 200 and "Imported into the diary" in r.text
    assert audit_rows(app, actor_id=dietitian.user_id)[-1].action == "read"


def test_unreadable_reference_is_said_not_fatal(app, person, settings, tmp_path):
    settings.reference = tmp_path / "reference.json"
    settings.reference.write_text("{not json")
    uid = upload_id(upload(person, "p.tsv", FORMATS["profile.tsv"]()))
    card = card_of(app, uid)
    assert card["reference"] is None and "cannot be read" in card["reference_note"]
    assert str(tmp_path) not in person.html(f"/uploads/{uid}").text


# --------------------------------------------------------------------------- who may see it
def test_others_get_404_and_a_denied_row(app, person, dietitian):
    uid = upload_id(upload(person, "p.tsv", FORMATS["profile.tsv"]()))
    from gutaxis.web.models import Job

    with app.state.sessions() as db:
        jid = db.scalar(select(Job.id).where(Job.kind == "parse_profile"))
    other = signup(app, "other@example.org")
    urls = [f"/uploads/{uid}", f"/uploads/{uid}/download", f"/jobs/{jid}"]
    for who in (dietitian, other):  # the dietitian has no consent
        for url in urls:
            before = len(audit_rows(app, actor_id=who.user_id, action="denied"))
            r = who.html(url)
            assert r.status_code == 404, (url, r.status_code)
            assert "p.tsv" not in r.text
            denied = audit_rows(app, actor_id=who.user_id, action="denied")
            assert len(denied) == before + 1 and denied[-1].subject_id == person.user_id
    # dietitian's client list without consent
    assert dietitian.html(f"/clients/{person.user_id}/uploads").status_code == 404
    # ids that do not exist answer the same, with a denied row
    for url in ("/uploads/99999", "/uploads/99999/download", "/jobs/99999"):
        before = len(audit_rows(app, actor_id=other.user_id, action="denied"))
        assert other.html(url).status_code == 404
        assert len(audit_rows(app, actor_id=other.user_id, action="denied")) == before + 1
    assert not audit_rows(app, action="read")
    from gutaxis.web.audit import verify_chain

    with app.state.sessions() as db:
        assert verify_chain(db) is None


def test_dietitian_with_consent_reads_with_one_audit_row_per_get(app, person, dietitian):
    needs_shared()
    uid = upload_id(upload(person, METAPHLAN.name, METAPHLAN.read_bytes()))
    grant(app, person.user_id, dietitian.user_id, "microbiome")
    for n in (1, 2):
        r = dietitian.html(f"/uploads/{uid}")
        assert r.status_code == 200 and "Gut health card" in r.text
        reads = audit_rows(app, actor_id=dietitian.user_id, action="read", resource="upload")
        assert len(reads) == n and reads[-1].record == f"upload:{uid}" and reads[-1].subject_id == person.user_id
    r = dietitian.get(f"/uploads/{uid}/download")
    assert r.status_code == 200 and r.content == METAPHLAN.read_bytes()
    assert audit_rows(app, actor_id=dietitian.user_id, action="read")[-1].record == f"upload:{uid}:download"
    r = dietitian.html(f"/clients/{person.user_id}/uploads")
    assert r.status_code == 200 and METAPHLAN.name in r.text and 'action="/uploads"' not in r.text
    # the owner's reads leave no rows; another scope does not open the upload
    n = len(audit_rows(app))
    assert person.html(f"/uploads/{uid}").status_code == 200 and len(audit_rows(app)) == n
    assert (
        dietitian.post_form(
            "/uploads", files={"file": ("x.tsv", b"a\tb\n", "text/plain")}, page=f"/uploads/{uid}"
        ).status_code
        == 404
    )  # uploading is the person's


def test_consent_for_another_scope_is_not_enough(app, person, dietitian):
    uid = upload_id(upload(person, "p.tsv", FORMATS["profile.tsv"]()))
    grant(app, person.user_id, dietitian.user_id, "diary,plan")
    assert dietitian.html(f"/uploads/{uid}").status_code == 404
    assert audit_rows(app, actor_id=dietitian.user_id)[-1].action == "denied"


# --------------------------------------------------------------------------- refusals
def _zeros_gzip(path, total: int) -> None:
    """A gzip file of ``total`` zero bytes, written small: one deflate block of 1 MB of zeros, made
    after a full flush (so it depends on nothing before it), repeated; header and trailer per RFC 1952."""
    chunk = bytes(MB)
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = c.compress(chunk) + c.flush(zlib.Z_FULL_FLUSH)
    end = c.flush(zlib.Z_FINISH)
    crc = 0
    with open(path, "wb") as out:
        out.write(b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff")
        for _ in range(total // MB):
            out.write(block)
            crc = zlib.crc32(chunk, crc)
        out.write(end + struct.pack("<II", crc, total & 0xFFFFFFFF))


def test_zeros_gzip_is_valid(tmp_path):
    _zeros_gzip(tmp_path / "z.gz", 3 * MB)
    assert gzip.decompress((tmp_path / "z.gz").read_bytes()) == bytes(3 * MB)


@pytest.fixture(scope="module")
def bombs(tmp_path_factory):
    d = tmp_path_factory.mktemp("bombs")
    # zip: one member of 1 GB of zeros, streamed in (zip64)
    with (
        zipfile.ZipFile(d / "bomb.qza", "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as zf,
        zf.open("0e7a1f3c/data/feature-table.biom", "w", force_zip64=True) as f,
    ):
        for _ in range(1024):
            f.write(bytes(MB))
    # gzip: 2 GB of zeros
    _zeros_gzip(d / "bomb.txt.gz", 2048 * MB)
    # 25 MB + 1 byte of text
    with open(d / "big.txt", "wb") as f:
        line = b"k__Bacteria|p__Firmicutes\t2|1239\t1.0\n" * 1000
        n = 0
        while n < 25 * MB + 1:
            part = line[: 25 * MB + 1 - n]
            f.write(part)
            n += len(part)
    # many members, a path outside the archive, an archive in the archive, gzip in gzip
    with zipfile.ZipFile(d / "many.qza", "w") as zf:
        for i in range(1001):
            zf.writestr(f"a/{i}.txt", "x")
    with zipfile.ZipFile(d / "escape.qza", "w") as zf:
        zf.writestr("a/metadata.yaml", "uuid: a\n")
        zf.writestr("../../etc/cron.d/x", "x")
    with zipfile.ZipFile(d / "nested.qza", "w") as zf:
        zf.writestr("a/metadata.yaml", "uuid: a\n")
        zf.writestr("a/data/feature-table.biom", b"PK\x03\x04" + bytes(100))
    (d / "nested.txt.gz").write_bytes(gzip.compress(gzip.compress(b"taxon\tS1\n")))
    return d


REFUSALS = {  # name on the form, file (in the bombs folder) or bytes, status, words of the message
    "zip bomb": ("bomb.qza", "bomb.qza", 413, "unpacks to more than"),
    "gzip bomb": ("bomb.txt.gz", "bomb.txt.gz", 413, "unpacks to more than 100 MB"),
    "wrong magic": ("table.biom", b"\x89PNG\r\n\x1a\n" + bytes(2000), 400, "neither BIOM v1 (JSON) nor BIOM v2"),
    "25 MB + 1": ("big.txt", "big.txt", 413, "larger than the 25 MB limit"),
    "path in name": ("../x.txt", b"taxon\tS1\nA\t1\n", 400, "holds a folder or drive part"),
}


def _refuse(app, person, bombs, name, source, status, words):
    data = (bombs / source).read_bytes() if isinstance(source, str) else source
    r = upload(person, name, data)
    assert r.status_code == status, r.text[:500]
    text = visible_text(r.text)
    assert words in text, text[-1500:]
    return r


@pytest.mark.parametrize("case", list(REFUSALS))
def test_refused_in_bounded_memory(app, person, bombs, case):
    """A bomb or an oversized file is refused without unpacking or keeping it: memory stays
    bounded and nothing is stored. The time it takes is printed, not asserted (timings belong in
    bench/, and a shared CI machine makes a wall-clock bound flaky)."""
    from gutaxis.web.models import Job, Upload

    name, source, status, words = REFUSALS[case]
    data = (bombs / source).read_bytes() if isinstance(source, str) else source
    person.token("/uploads")  # warm: the timing covers the refusal, not the first page
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    r = upload(person, name, data)
    elapsed = time.perf_counter() - t0
    rss_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss0) / 1024  # KiB on Linux
    assert r.status_code == status, r.text[:500]
    assert words in visible_text(r.text)
    tracemalloc.start()
    try:
        r = upload(person, name, data)
        peak_mb = tracemalloc.get_traced_memory()[1] / MB
    finally:
        tracemalloc.stop()
    assert r.status_code == status
    print(
        f"\nREFUSED {case}: {len(data) / MB:.2f} MB sent, HTTP {status}, {elapsed:.3f} s, "
        f"RSS high-water +{rss_mb:.1f} MB, traced peak {peak_mb:.1f} MB (body included)"
    )
    assert rss_mb < 200 and peak_mb < 200
    if name != "../x.txt":
        assert name in visible_text(r.text)  # the message names the file
    assert count(app, Upload) == 0 and count(app, Job) == 0
    assert [p for p in app.state.settings.upload_dir.iterdir() if p.is_file()] == []  # nothing left on disk


@pytest.mark.parametrize(
    "name, source, status, words",
    [
        ("many.qza", "many.qza", 400, "lists 1001 files"),
        ("escape.qza", "escape.qza", 400, "a path outside the archive"),
        ("nested.qza", "nested.qza", 400, "zip archive inside the archive"),
        ("nested.txt.gz", "nested.txt.gz", 400, "gzip archive, not a text profile"),
        ("profile.exe", b"MZ\x90\x00", 400, "this kind of file is not accepted. Accepted: MetaPhlAn"),
        ("profile.txt", b"\x00\x01\x02binary", 400, "binary file"),
        ("profile.txt", "\u00e9t\u00e9".encode("latin-1") + b"\n", 400, "not UTF-8 text"),
        ("profile.qza", b"taxon\tS1\n", 400, "not a zip archive"),
        ("profile.txt.gz", b"taxon\tS1\n", 400, "is not gzip-compressed"),
        ("profile.biom.gz", gzip.compress(b"{}"), 400, "upload .biom and .qza files as they are"),
        ("empty.tsv", b"", 400, "is empty"),
    ],
)
def test_other_refusals(app, person, bombs, name, source, status, words):
    from gutaxis.web.models import Upload

    _refuse(app, person, bombs, name, source, status, words)
    assert count(app, Upload) == 0


@pytest.mark.parametrize(
    "name",
    [
        "",
        "   ",
        "a/b.txt",
        "..\\x.txt",
        "C:\\x.txt",
        "x\x00.txt",
        "x\n.txt",
        "x\x1b.txt",
        "..",
        "c:x.txt",
        "a" * 201 + ".txt",
    ],
)
def test_bad_names_are_refused(name):
    from gutaxis.web.upload_safety import UploadRefused, check_filename

    with pytest.raises(UploadRefused) as info:
        check_filename(name)
    assert info.value.status_code == 400 and "\x00" not in info.value.message


def test_check_upload_directly(tmp_path, settings, bombs):
    from gutaxis.web.upload_safety import UploadRefused, check_upload

    p = tmp_path / "blob"
    p.write_text("#mpa_v30\nUNKNOWN\t-1\t10\n")
    assert check_upload("x.txt", p, settings) == "text"
    p.write_bytes(gzip.compress(b"taxon\tS1\nA\t1\n"))
    assert check_upload("x.tsv.gz", p, settings) == "gzip-text"
    p.write_bytes(FORMATS["biom_v1.biom"]())
    assert check_upload("x.biom", p, settings) == "biom-json"
    p.write_bytes(FORMATS["biom_v2.biom"]())
    assert check_upload("x.BIOM", p, settings) == "biom-hdf5"
    p.write_bytes(FORMATS["table.qza"]())
    assert check_upload("x.qza", p, settings) == "qza"
    settings.max_unpacked = 10
    with pytest.raises(UploadRefused):
        check_upload("x.qza", p, settings)
    t0 = time.perf_counter()
    settings.max_unpacked = 100 * MB
    with pytest.raises(UploadRefused):
        check_upload("bomb.qza", bombs / "bomb.qza", settings)
    assert time.perf_counter() - t0 < 0.5


def test_hdf5_declaring_huge_datasets_fails_the_job(app, person):
    buf = io.BytesIO()
    with h5py.File(buf, "w") as handle:
        handle.attrs["format-url"] = "http://biom-format.org"
        handle.create_dataset(
            "observation/matrix/data", shape=(200 * MB // 8,), dtype="f8", compression="gzip", chunks=(1 << 16,)
        )  # never written: tiny on disk
    data = buf.getvalue()
    assert len(data) < MB
    uid = upload_id(upload(person, "huge.biom", data))
    text = visible_text(person.html(f"/uploads/{uid}").text)
    assert "huge.biom: the HDF5 datasets declare more than 100 MB" in text


def test_uploading_needs_a_person_and_csrf(app, person, dietitian):
    r = person.c.post(
        "/uploads",
        data={"client_id": str(uuid.uuid4())},
        files={"file": ("p.tsv", b"taxon\tS1\nA\t1\n", "text/plain")},
        headers={"accept": "text/html"},
    )
    assert r.status_code == 403
    r = upload(person, "p.tsv", b"taxon\tS1\nA\t1\n", client_id="not-a-uuid")
    assert r.status_code == 400
    r = dietitian.html("/uploads")
    assert r.status_code == 404


def test_unnamed_features_make_panels_not_measurable_not_zero(app, person):
    """A table of ASV ids (iMSMS, one real sample) matches no panel taxon: the card says so, never 0%."""
    needs_shared()
    counts = pd.read_csv(
        SHARED / "data" / "imsms_ms_16s" / "imsms_asv_counts.tsv.gz", sep="\t", index_col=0, nrows=2000
    )
    sample = counts.columns[0]
    one = counts[[sample]]
    one = one[one[sample] > 0]
    uid = upload_id(upload(person, "asv_one_sample.tsv", one.to_csv(sep="\t").encode()))
    card = card_of(app, uid)
    assert card["panels"] and all(p["value"] is None for p in card["panels"])
    assert all(p["text"] == "not measurable in this profile" for p in card["panels"])
    text = visible_text(person.html(f"/uploads/{uid}").text)
    assert "Not measurable in this profile" in text and "shown as 0%" not in text
