"""bench/audit_tally.py reads the reliability audit itself: it must find every failing case.

The expected ids below were read off ``../shared/science/audit-reliability.md`` by hand, section
by section (the headings state 15, 12, 12, 17, 6 + 10, 2 and 1 cases).
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

HAND = {
    "Silent wrong numbers (15)": "R01 R25 R26 P13 P14 A05 S05 S06 S07 S09 L01 L02 L03 L15 D16",
    "Silent drops, ignored settings, missing warnings (12)": "S11 S21 S22 S14 A17 A18 A21 A10 R45 L05 L12 L19",
    "Crashes, hangs and resource blow-ups (12)": "B08 Q09 Q07 Q08 S30 S31 S32 S28 S29 S34 Q06 W02",
    "Outputs: not atomic, stale files, raw errors (17)": (
        "INT1 INT2 INT3 O16 O02 O03 O04 O06 O07 O08 O09 O10 O11 O12 O13 O14 O15"
    ),
    "Raw exceptions on input (6) and misleading errors (10)": (
        "L07 L08 L11 S26 D14 A30 A12 A13 A16 A36 S24 S25 S16 R12 R09 M12"
    ),
    "Determinism (2, minor)": "E02 E05",
    "Security, low (1)": "L21",
}


@pytest.fixture(scope="module")
def tally():
    spec = importlib.util.spec_from_file_location("audit_tally", ROOT / "bench" / "audit_tally.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules["audit_tally"] = mod
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def text(shared):
    return shared("science", "audit-reliability.md").read_text(encoding="utf-8")


def test_parser_finds_the_75_failing_cases_in_their_sections(tally, text):
    doc = tally.parse(text)
    assert doc.claimed == {"total": 253, "passed": 178, "failed": 75}
    got = {}
    for case in doc.cases.values():
        got.setdefault(case.section, set()).add(case.id)
    assert got == {k: set(v.split()) for k, v in HAND.items()}
    assert len(doc.cases) == 75
    assert tally.check_document(doc) == []
    # the setup block defines what the commands use
    for name in ("D=", "M=", "T=", "X=", "F=", "LM=", "s.csv", "b.yaml"):
        assert name in doc.setup


def test_every_case_has_a_command_that_runs_gutaxis(tally, text):
    doc = tally.parse(text)
    book = tally.recipes()
    assert set(book) == set(doc.cases)
    origins = {}
    for cid, case in doc.cases.items():
        cmd = book[cid].command(case)  # raises NotInDocument when the document lacks what it needs
        assert "gutaxis " in cmd, cid
        origins[book[cid].origin] = origins.get(book[cid].origin, 0) + 1
        if book[cid].origin == "doc":
            # a command marked as the document's contains one of the document's code spans as written
            spans = [s for c in case.others.values() for s in c.spans if "gutaxis " in s]
            assert any(s in cmd for s in spans), cid
    assert sum(origins.values()) == 75


def test_documents_own_commands_are_taken_as_written(tally, text):
    doc = tally.parse(text)
    book = tally.recipes()
    r01 = book["R01"].command(doc.cases["R01"])
    assert r01 == "head -c 18538 $M > t.txt; gutaxis report t.txt -o o"
    # S06 is S05's command with the change the document names for it
    assert (
        book["S06"].command(doc.cases["S06"])
        == "sed 's/shift: 20/set: -50/' b.yaml > x.yaml; gutaxis simulate x.yaml -o o"
    )
    assert tally.expand("O02–O04, O06–O15") == ["O02", "O03", "O04"] + [f"O{i:02d}" for i in range(6, 16)]


def test_a_case_missing_from_the_document_is_noticed(tally, text):
    """Drop the R01 bullet: the section count and the total no longer match, and R01 has no text."""
    start = text.index("- **R01:")
    cut = text[:start] + text[text.index("- **R25, R26:", start) :]
    doc = tally.parse(cut)
    assert "R01" not in doc.cases
    problems = tally.check_document(doc)
    assert any("Silent wrong numbers" in p for p in problems) and any("74 failing cases" in p for p in problems)
    # and a recipe whose document text is gone says so instead of running something else
    edited = tally.parse(text.replace("`set: -50`", "`set: -5`"))
    with pytest.raises(tally.NotInDocument, match="S06"):
        tally.recipes()["S06"].command(edited.cases["S06"])


def test_checks_tell_a_refusal_from_a_raw_exception(tally, tmp_path):
    """The classifier on hand-written outcomes: an own error passes, a class-named one fails."""

    def run(rc, err):
        return tally.Run(rc, "", err, [{"rc": rc, "seconds": 1.0, "rss_mb": 100.0, "capped": False}], tmp_path, 1.0)

    check = tally.refused("x.yaml")
    assert check(run(2, "error: x.yaml: is a folder, not a scenario file — give a file\n"))[0]
    assert not check(
        run(1, "error: IsADirectoryError: [Errno 21] Is a directory: 'x.yaml' (run `gutaxis --debug ...`)\n")
    )[0]
    assert not check(run(0, "report written\n"))[0]
    assert not check(run(-11, ""))[0]  # segfault
    assert not check(run(2, "error: something else entirely\n"))[0]
    slow = tally.within(10, 500, check)
    r = run(2, "error: x.yaml: bad\n")
    r.calls[0]["rss_mb"] = 900.0
    ok, why = slow(r)
    assert not ok and "900 MB" in why
    r = run(2, "error: x.yaml: bad\n")
    r.calls[0]["cpu_s"] = 25.0
    ok, why = slow(r)
    assert not ok and "CPU 25.0 s" in why
    r.calls[0]["cpu_s"] = 2.0
    assert slow(r)[0]
