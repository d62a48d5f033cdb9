"""Re-run the reliability audit's failing cases from the audit's own text and print the tally.

    .venv/bin/python bench/audit_tally.py                 # every case (~10 minutes)
    .venv/bin/python bench/audit_tally.py --only R01,S05  # some cases
    .venv/bin/python bench/audit_tally.py --list          # the parsed cases and their commands, nothing run
    .venv/bin/python bench/audit_tally.py --show S05      # a case's full bash script, outcome and output

The audit (``../shared/science/audit-reliability.md``, or ``--audit PATH``) is read at run time:
its "Reproduction setup" block (which defines D, M, T, X, F, LM and writes s.csv and b.yaml) and
the failure list under "## Failures". A case is named by an id in bold at the head of a bullet
(``**R01: ...**``, ``**O02–O04, O06–O15: ...**``) or at the head of a sub-bullet (``- S06 ...``);
the parser checks the ids it finds against each section's stated count and the document's total.
The 178 passing cases have no reproduction commands in the document and are not re-run.

Each case runs in a fresh temporary folder laid out as the setup expects (``../shared`` beside
it, ``src/gutaxis/data`` inside it, ``gutaxis`` on PATH from this checkout's venv): the setup block
as written, then the case's command. Where the document gives the command, it is taken from the
document as written (origin ``doc``); where it gives a command and names the change for a variant
(``set: -50`` for S06), the document's command is edited with the document's own text (``doc+edit``);
where it describes the input in words only, the script builds it (``built``, with the reason). The
commands are never stored here.

Each ``gutaxis`` call goes through a small wrapper that records its exit status, wall time and
peak RSS (``wait4``), and kills it above the RSS cap. A case passes when it shows the behaviour
the audit and issue 12 ask for: refused with one ``error:`` line of gutaxis's own (exit 2, no
``SomeError:`` class name, naming the cause), or a ``warning:`` line, or the correct numbers or
files, within the resource budget. Anything else is printed as failing with the reason.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
AUDIT = ROOT.parent / "shared" / "science" / "audit-reliability.md"

TIMEOUT_S = 150  # per case, as the audit's longest
RSS_CAP_MB = 3072  # per gutaxis call: killed above it
# "out of proportion": for an input under 10 MB, the issue's own bound (10 s, 500 MB); W02's
# input is 15 MB, so it gets 30 s and 1 GiB.
SMALL_BUDGET = (10.0, 500.0)
W02_BUDGET = (30.0, 1024.0)

ID = r"(?:INT\d|[A-Z]\d{2})"
IDLIST = rf"{ID}(?:\s*[,–-]\s*{ID})*"
BOLD_HEAD = re.compile(rf"\*\*({IDLIST})(?=[:*\s(])")
SUB_HEAD = re.compile(rf"^\s+- ({IDLIST})\b", re.M)
SECTION = re.compile(r"^### (.+)$", re.M)


# ============================================================================ the document


@dataclass
class Segment:
    ids: list[str]
    text: str
    section: str


@dataclass
class AuditCase:
    id: str
    section: str  # the "### ..." heading it is counted under
    text: str = ""  # every part of the document that names it, joined
    spans: list[str] = field(default_factory=list)  # inline `code` and fenced blocks, in order
    others: dict[str, AuditCase] = field(default_factory=dict, repr=False)  # the document's other cases

    def commands(self) -> list[str]:
        """The code that runs gutaxis (a shell line with `gutaxis <command>`)."""
        return [s for s in self.spans if re.search(r"(^|[;&|(]\s*|\n\s*|^\S+=\S+\s+)gutaxis\s+[a-z]", s)]


@dataclass
class Document:
    setup: str
    cases: dict[str, AuditCase]
    claimed: dict[str, int]  # total / passed / failed from the summary line
    section_counts: dict[str, int]  # heading -> count stated in it


def expand(idlist: str) -> list[str]:
    out: list[str] = []
    for part in re.split(r"\s*,\s*", idlist.strip()):
        m = re.fullmatch(rf"({ID})\s*[–-]\s*({ID})", part)
        if not m:
            out.append(part)
            continue
        a, b = m.groups()
        pa, na = re.match(r"([A-Z]+)(\d+)", a).groups()
        pb, nb = re.match(r"([A-Z]+)(\d+)", b).groups()
        if pa != pb or int(nb) < int(na):
            raise ValueError(f"audit: cannot expand the id range {part!r}")
        width = len(na)
        out += [f"{pa}{i:0{width}d}" for i in range(int(na), int(nb) + 1)]
    return out


def code_spans(text: str) -> list[str]:
    spans = []
    for m in re.finditer(r"```[a-z]*\n(.*?)```|`([^`\n]+)`", text, re.S):
        block = m.group(1)
        spans.append(textwrap.dedent(block).strip() if block is not None else m.group(2))
    return spans


def parse(text: str) -> Document:
    setup_m = re.search(r"## Reproduction setup.*?```sh\n(.*?)```", text, re.S)
    if not setup_m:
        raise ValueError("audit: no ```sh block under '## Reproduction setup'")
    claim = re.search(r"\*\*(\d+) cases: (\d+) passed, (\d+) failed\.\*\*", text)
    if not claim:
        raise ValueError("audit: no '**N cases: P passed, F failed.**' line")
    start = text.index("## Failures")
    end = text.index("## What passed", start)
    body = text[start:end]

    heads = []  # (position, end of head, ids, section)
    sections = [(m.start(), m.group(1)) for m in SECTION.finditer(body)]

    def section_at(pos: int) -> str:
        name = ""
        for p, s in sections:
            if p <= pos:
                name = s
        return name

    for rx in (BOLD_HEAD, SUB_HEAD):
        for m in rx.finditer(body):
            heads.append((m.start(1), rx is BOLD_HEAD, expand(m.group(1))))
    heads.sort()
    # a bold head's part runs to the next bold head (its sub-bullets included); a sub-bullet's to the next head
    bold_stops = sorted({h[0] for h in heads if h[1]} | {p for p, _ in sections} | {len(body)})
    all_stops = sorted({h[0] for h in heads} | set(bold_stops))
    cases: dict[str, AuditCase] = {}
    for pos, bold, ids in heads:
        nxt = min(s for s in (bold_stops if bold else all_stops) if s > pos)
        seg = body[body.rfind("\n", 0, pos) + 1 : nxt]
        sect = section_at(pos)
        for cid in ids:
            case = cases.get(cid)
            if case is None:
                case = cases[cid] = AuditCase(cid, sect if bold else "")
                case.sub_section = sect  # type: ignore[attr-defined]
            if bold and not case.section:
                case.section = sect
            case.text += seg
            case.spans += code_spans(seg)
    for case in cases.values():
        case.others = cases
        if not case.section:  # named only by a sub-bullet: counted under the section it sits in
            case.section = case.sub_section  # type: ignore[attr-defined]
    counts = {}
    for _, name in sections:
        nums = [int(n) for n in re.findall(r"\((\d+)(?:, minor)?\)", name)]
        counts[name] = sum(nums)
    return Document(
        setup_m.group(1),
        cases,
        {"total": int(claim.group(1)), "passed": int(claim.group(2)), "failed": int(claim.group(3))},
        counts,
    )


def check_document(doc: Document) -> list[str]:
    """Problems with the parse: ids per section against the counts the headings state."""
    problems = []
    by_section: dict[str, int] = {}
    for case in doc.cases.values():
        by_section[case.section] = by_section.get(case.section, 0) + 1
    for name, n in doc.section_counts.items():
        if by_section.get(name, 0) != n:
            problems.append(f"section {name!r}: heading says {n}, parsed {by_section.get(name, 0)}")
    if len(doc.cases) != doc.claimed["failed"]:
        problems.append(f"{len(doc.cases)} failing cases parsed, the document says {doc.claimed['failed']}")
    return problems


# ============================================================================ recipes


class NotInDocument(Exception):
    pass


def span(case: AuditCase, needle: str) -> str:
    for s in case.spans:
        if needle in s:
            return s
    raise NotInDocument(f"{case.id}: no code in the document's text of this case contains {needle!r}")


def said(case: AuditCase, needle: str) -> str:
    """A fragment the case's text in the document must contain (the edit a variant names)."""
    if needle not in case.text:
        raise NotInDocument(f"{case.id}: the document's text of this case does not contain {needle!r}")
    return needle


@dataclass
class Run:
    rc: int | None  # the case script's exit status (None: timed out)
    out: str
    err: str
    calls: list[dict]  # one per gutaxis call: argv, rc, seconds, rss_mb, capped
    folder: Path
    seconds: float


Check = Callable[[Run], "tuple[bool, str]"]


@dataclass
class Recipe:
    area: str
    kind: str
    origin: str  # doc | doc+edit | built
    command: Callable[[AuditCase], str]
    check: Check
    note: str = ""
    timeout: int = TIMEOUT_S


def _last(run: Run) -> dict | None:
    return run.calls[-1] if run.calls else None


def _errline(run: Run) -> str:
    """The last `error:` line; else the command-line parser's usage error (an option out of its range)."""
    lines = [ln for ln in run.err.splitlines() if ln.startswith("error:")]
    if lines:
        return lines[-1]
    usage = re.search(r"(Invalid value for '[^']+': [^│\n]+)", run.err)
    return f"usage: {usage.group(1).strip()}" if usage else ""


def _low(s: str) -> str:
    return s.lower()


def _status(run: Run) -> str:
    c = _last(run)
    if run.rc is None:
        return f"timed out after {run.seconds:.0f} s"
    if c is None:
        return (
            f"gutaxis never ran (script exit {run.rc}): {run.err.strip().splitlines()[-1:] if run.err.strip() else ''}"
        )
    if c.get("capped"):
        return f"killed above {RSS_CAP_MB} MB RSS"
    if c["rc"] < 0 or c["rc"] > 128:
        return f"killed by signal {-c['rc'] if c['rc'] < 0 else c['rc'] - 128}"
    return ""


def refused(*needles: str | tuple[str, ...], line_max: int = 2000, prefix: str = "") -> Check:
    """Exit 2 with one own `error:` line naming each needle (a tuple: any of its members)."""

    def check(run: Run) -> tuple[bool, str]:
        bad = _status(run)
        if bad:
            return False, bad
        c = _last(run)
        line = _errline(run)
        if "Traceback" in run.err:
            return False, "traceback"
        if c["rc"] == 0:
            return False, "exit 0 (accepted)"
        if not line:
            return False, f"exit {c['rc']} without an error: line"
        if re.match(r"error: [A-Za-z_.]*(Error|Exception|Warning)\b:", line) or "--debug" in line:
            return False, f"raw exception: {line[:160]}"
        if c["rc"] != 2:
            return False, f"exit {c['rc']} (not an input error): {line[:160]}"
        if prefix and not line.startswith(prefix):
            return False, f"error does not start with {prefix!r}: {line[:200]}"
        if len(line) > line_max:
            return False, f"error line of {len(line):,} characters"
        for n in needles:
            alts = n if isinstance(n, tuple) else (n,)
            if not any(_low(a) in _low(line) for a in alts):
                return False, f"error does not name {' / '.join(alts)!r}: {line[:200]}"
        return True, line[:150]

    return check


def warned(*needles: str | tuple[str, ...]) -> Check:
    def check(run: Run) -> tuple[bool, str]:
        bad = _status(run)
        if bad:
            return False, bad
        warns = [ln for ln in run.err.splitlines() if ln.startswith("warning:")]
        for w in warns:
            if all(any(_low(a) in _low(w) for a in (n if isinstance(n, tuple) else (n,))) for n in needles):
                return True, w[:150]
        return (
            False,
            f"exit {_last(run)['rc']}, no warning naming {needles}: {(_errline(run) or 'no error line')[:150]}",
        )

    return check


def either(*checks: Check) -> Check:
    def check(run: Run) -> tuple[bool, str]:
        reasons = []
        for ch in checks:
            ok, why = ch(run)
            if ok:
                return True, why
            reasons.append(why)
        return False, " | ".join(dict.fromkeys(reasons))

    return check


def within(seconds: float, rss_mb: float, then: Check) -> Check:
    """The last gutaxis call within the budget: CPU seconds (user + sys: wall time on a shared
    machine measures its other jobs too; it is printed beside) and peak RSS."""

    def check(run: Run) -> tuple[bool, str]:
        c = _last(run)
        used = ""
        if c is not None and not _status(run):
            cpu = c.get("cpu_s", c["seconds"])
            used = f"CPU {cpu:.1f} s (wall {c['seconds']:.1f} s), {c['rss_mb']:.0f} MB"
            if cpu > seconds or c["rss_mb"] > rss_mb:
                return False, f"{used} (budget {seconds:.0f} s CPU, {rss_mb:.0f} MB)"
        ok, why = then(run)
        if used and ok:
            why = f"{used}; " + why
        return ok, why

    return check


def succeeded(predicate: Callable[[Run], tuple[bool, str]]) -> Check:
    """Exit 0 and the outputs satisfy the predicate."""

    def check(run: Run) -> tuple[bool, str]:
        bad = _status(run)
        if bad:
            return False, bad
        if _last(run)["rc"] != 0:
            return False, f"exit {_last(run)['rc']}: {_errline(run)[:160]}"
        try:
            return predicate(run)
        except (OSError, ValueError, KeyError, IndexError) as exc:
            return False, f"outputs unreadable: {type(exc).__name__}: {exc}"

    return check


def _csv_rows(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def daily_dates(expected: list[str]) -> Check:
    def pred(run: Run):
        got = [r["date"] for r in _csv_rows(run.folder / "o" / "daily_scores.csv")]
        return (got == expected, f"daily dates {got[:6]}{'...' if len(got) > 6 else ''}")

    return succeeded(pred)


def same_output_as_plain(name: str, plain_folder: str) -> Check:
    """Exit 0 and o/NAME equal to the output of the same log in UTF-8 (written by the command too)."""

    def pred(run: Run):
        a = _csv_rows(run.folder / "o" / name)
        b = _csv_rows(run.folder / plain_folder / name)
        keys = [k for k in a[0] if k != "text"] if a else []
        same = [[r[k] for k in keys] for r in a] == [[r[k] for k in keys] for r in b]
        return same, f"{name} {'equals' if same else 'differs from'} the UTF-8 log's"

    return succeeded(pred)


def same_table(name: str, ref: str, sep: str = ",") -> Check:
    """Exit 0 of the case's command and o/NAME equal (to 1e-12) to REF/NAME from the plain input."""

    def check(run: Run) -> tuple[bool, str]:
        bad = _status(run)
        if bad:
            return False, bad
        first = run.calls[0] if run.calls else None
        if first is None or first["rc"] != 0:
            return False, f"exit {first['rc'] if first else '?'}: {_errline(run)[:160]}"
        import pandas as pd

        a = pd.read_csv(run.folder / "o" / name, sep=sep)
        b = pd.read_csv(run.folder / ref / name, sep=sep)
        try:
            pd.testing.assert_frame_equal(a, b, rtol=1e-12, atol=0)
        except AssertionError as exc:
            return False, f"{name} differs from the plain input's: {str(exc).splitlines()[0]}"
        return True, f"{name} ({len(a)} rows) equals the plain input's"

    return check


def no_formula_cells(run: Run) -> tuple[bool, str]:
    seen = []
    for name in ("resolved_meals.csv", "logged_meals.csv"):
        p = run.folder / "o" / name
        if not p.exists():
            continue
        with open(p, newline="", encoding="utf-8") as fh:
            for row in csv.reader(fh):
                for cell in row:
                    if cell[:1] in ("=", "+", "@", "\t", "\r") or (
                        cell[:1] == "-" and not re.fullmatch(r"-[\d.eE+-]+", cell)
                    ):
                        seen.append(f"{name}: {cell[:40]!r}")
    return (not seen, "no live formula in the exports" if not seen else f"live formulas: {seen[:3]}")


def report_folder_consistent(run: Run, name: str) -> tuple[bool, str]:
    """The folder is one run's: summary.json, report.html and indices.tsv agree on the samples."""
    o = run.folder / name
    if not (o / "summary.json").exists():
        return False, f"{name}/summary.json missing"
    n_json = len(json.loads((o / "summary.json").read_text())["samples"])
    m = re.search(r"Cohort: (\d+) samples", (o / "report.html").read_text(errors="replace"))
    n_html = int(m.group(1)) if m else None
    with open(o / "indices.tsv") as fh:
        n_tsv = sum(1 for _ in fh) - 1
    ok = n_json == n_html == n_tsv and n_tsv > 0
    return ok, f"{name}: summary.json {n_json}, report.html {n_html}, indices.tsv {n_tsv} samples"


def associate_folder_consistent(run: Run, name: str) -> tuple[bool, str]:
    o = run.folder / name
    if not (o / "params.json").exists():
        return False, f"{name}/params.json missing"
    marks = {}
    for f in ("params.json", "all_results.tsv", "report.html"):
        p = o / f
        marks[f] = p.exists() and "dysbiosis" in p.read_text(errors="replace")
    ok = len(set(marks.values())) == 1 and (o / "report.html").exists()
    return ok, f"{name}: second run's term in " + ", ".join(f"{k} {'yes' if v else 'no'}" for k, v in marks.items())


def int_check(consistent: Callable[[Run, str], tuple[bool, str]]) -> Check:
    """Both folders are one run's each: o (the document's trigger: newer files in the target) and
    o2 (killed a few seconds into the second run); no temporary folder is left beside them."""

    def check(run: Run) -> tuple[bool, str]:
        if run.rc is None:
            return False, f"timed out after {run.seconds:.0f} s"
        if "Traceback" in run.err:
            return False, "traceback"
        whys = []
        for name in ("o", "o2"):
            ok, why = consistent(run, name)
            if not ok:
                return False, why
            whys.append(why)
        left = [p.name for p in run.folder.iterdir() if ".partial-" in p.name or ".old-" in p.name]
        if left:
            return False, f"temporary folders left: {left}"
        mid = [c["rc"] for c in run.calls[3:4]]
        whys.append(
            f"o2's run interrupted mid-run (exit {mid[0]})"
            if mid and mid[0] > 128
            else f"o2's second run was not interrupted mid-run (exit {mid[0] if mid else '?'})"
        )
        return True, "; ".join(whys)

    return check


def shuffle_identical(rel: float) -> Check:
    def pred(run: Run):
        text = run.out.strip().splitlines()[-1] if run.out.strip() else ""
        m = re.search(r"max_rel_diff=(\S+) n=(\d+)", text)
        if not m:
            return False, f"no comparison printed: {text[:120]}"
        diff, n = float(m.group(1)), int(m.group(2))
        return diff <= rel and n > 0, f"{n} p-values, max relative difference {diff:.2g} (tolerance {rel:g})"

    return succeeded(pred)


def o16_check(run: Run) -> tuple[bool, str]:
    """Second run into o: refused as non-empty, or no stale pcoa.tsv listed or left."""
    bad = _status(run)
    if bad:
        return False, bad
    second = run.calls[1] if len(run.calls) > 1 else None
    if second is None:
        return False, "the second run did not happen"
    third = run.calls[2] if len(run.calls) > 2 else None  # the same with --overwrite
    listed = "o/pcoa.tsv" in run.out.split("---overwrite---")[-1]
    left = (run.folder / "o" / "pcoa.tsv").exists()
    if second["rc"] == 0 and (listed or left):
        return False, "a single-sample run into the cohort run's folder lists/keeps its pcoa.tsv"
    if third is not None and (third["rc"] != 0 or listed or left):
        return False, f"with --overwrite: exit {third['rc']}, pcoa.tsv listed {listed}, left {left}"
    return True, f"second run exit {second['rc']} ({_errline(run)[:80]}); with --overwrite no stale pcoa.tsv"


def no_partial(then: Check) -> Check:
    def check(run: Run) -> tuple[bool, str]:
        ok, why = then(run)
        o = run.folder / "o"
        if ok and o.exists() and any(o.iterdir()):
            return False, f"refused, but left {sorted(p.name for p in o.iterdir())}"
        return ok, why

    return check


# ----------------------------------------------------------------------------- small shell helpers
PY = "python -c"


def _doc(needle: str) -> Callable[[AuditCase], str]:
    return lambda c: span(c, needle)


def _scenario_edit(old: str, new_fragment: str, sed_needle: str = "sed 's/shift: 20/") -> Callable[[AuditCase], str]:
    """The S05 command of the document with its sed replacement swapped for the variant the
    document names for this case."""

    def build(c: AuditCase) -> str:
        cmd = span(c, sed_needle)
        return cmd.replace(old, said(c, new_fragment))

    return build


AREA = {
    "R": "readers",
    "B": "readers",
    "Q": "readers",
    "W": "readers",
    "M": "readers",
    "A": "associate",
    "P": "permanova",
    "S": "simulate",
    "L": "diet/insights/plan",
    "O": "outputs",
    "INT": "outputs",
    "E": "determinism",
}

MIDRUN_REPORT = (
    "gutaxis report s.csv -o o2; gutaxis report $D/gmhi2020_validation/validation_abundance.csv -o o2 --overwrite "
    "& p=$!; sleep 5; kill -{sig} $p; wait $p"
)
LOG = (
    "printf 'timestamp,text,ndb_no,grams\\n2024-03-01 08:00,oatmeal,08121,300\\n"
    "2024-03-02 08:00,milk,01077,200\\n' > g.csv"
)
ROWS_SEVEN = (
    "import pandas as pd\n"
    "f=[lambda d:d.strftime('%d/%m/%Y %H:%M'),lambda d:f'{d.day}.{d.month}.{d.year} {d:%H:%M}',"
    "lambda d:d.strftime('%d-%m-%Y %H:%M'),lambda d:d.strftime('%Y-%m-%dT%H:%M'),"
    "lambda d:f'{d.day} {d:%b} {d.year} {d:%H:%M}',lambda d:f'{d:%b} {d.day}, {d.year} {d:%H:%M}',"
    "lambda d:f'{d:%d/%m/%Y} {d.hour%12 or 12}:{d:%M} pm'.replace(' pm',' am' if d.hour<12 else ' pm')]\n"
    "days=pd.date_range('2024-03-01 08:00',periods=40,freq='D')\n"
    "open('m7.csv','w').write('timestamp,text,ndb_no,grams\\n'+''.join("
    "f'\"{f[i%7](d)}\",oatmeal,08121,100\\n' for i,d in enumerate(days)))"
)
BILLION = (
    "l='a0: &a0 [lol,lol,lol,lol,lol,lol,lol,lol,lol,lol]\\n'+"
    "''.join(f'a{{k}}: &a{{k}} ['+','.join([f'*a{{k-1}}']*10)+']\\n' for k in range(1,{levels}))"
)
SHUFFLE_E02 = """
import sys, pandas as pd, numpy as np
a = pd.read_csv('o/all_results.tsv', sep='\\t'); b = pd.read_csv('o2/all_results.tsv', sep='\\t')
key = [k for k in ('feature', 'metadata', 'value') if k in a.columns]
col = '{col}'
a = a.set_index(key).sort_index()[col]; b = b.set_index(key).sort_index()[col]
assert a.index.equals(b.index), 'different result rows'
d = (a - b).abs() / a.abs().clip(lower=1e-300)
print(f'max_rel_diff={{float(np.nanmax(d.to_numpy())) if d.notna().any() else 0.0}} n={{int(a.notna().sum())}}')
"""


def _shuffle_cmd(assoc_args: str, subset: str, col: str) -> Callable[[AuditCase], str]:
    def build(c: AuditCase) -> str:
        said(c, "shuffl")
        make = (
            f"import pandas as pd, numpy as np; t=pd.read_csv('$T',sep='\\t',index_col=0); "
            "x=pd.read_csv('$X',sep='\\t',index_col=0); "
            f"t=t{subset}; x=x.loc[t.index]; o=np.random.default_rng(7).permutation(len(t)); "
            "t.to_csv('t1.tsv',sep='\\t'); "
            f"x.to_csv('x1.tsv',sep='\\t'); t.iloc[o].to_csv('t2.tsv',sep='\\t'); "
            f"x.iloc[np.random.default_rng(8).permutation(len(x))].to_csv('x2.tsv',sep='\\t')"
        )
        return (
            f'{PY} "{make}"\n'
            f"gutaxis associate t1.tsv x1.tsv -o o {assoc_args} && "
            f"gutaxis associate t2.tsv x2.tsv -o o2 {assoc_args} && "
            f"python - <<'EOF'\n{SHUFFLE_E02.format(col=col)}EOF"
        )

    return build


def recipes() -> dict[str, Recipe]:
    R: dict[str, Recipe] = {}

    def add(
        cid: str,
        kind: str,
        origin: str,
        command,
        check: Check,
        note: str = "",
        timeout: int = TIMEOUT_S,
        area: str = "",
    ):
        prefix = re.match(r"[A-Z]+", cid).group(0)
        R[cid] = Recipe(area or AREA.get(prefix, prefix), kind, origin, command, check, note, timeout)

    # ---------------------------------------------------------------- silent wrong numbers
    add("R01", "wrong", "doc", _doc("head -c"), refused("t.txt", ("total", "truncat", "sum")))
    add(
        "R25",
        "wrong",
        "doc",
        _doc("$3=$3/100"),
        either(refused(("proportion", "percent", "100")), warned(("proportion", "percent", "100"))),
    )
    add(
        "R26",
        "wrong",
        "built",
        lambda c: (
            said(c, "one column of a merged table")
            and f'{PY} "import pandas as pd; '
            "m=pd.read_csv('$M',sep='\\t',comment='#',header=None,usecols=[0,2],index_col=0).iloc[:,0]; "
            "t=pd.DataFrame({'a':m,'b':m/100}); t.index.name='clade_name'; t.to_csv('merged.tsv',sep='\\t')\"; "
            "gutaxis report merged.tsv -f metaphlan -o o"
        ),
        either(refused(("proportion", "percent", "100")), warned(("proportion", "percent", "100"))),
        note="merged MetaPhlAn table: sample a as given, sample b divided by 100",
    )
    add("P13", "wrong", "doc", _doc('$3=="NA"'), refused("unknown", "age"), area="permanova")
    add(
        "P14",
        "wrong",
        "doc+edit",
        lambda c: span(c, '$3=="NA"').replace('"unknown"', '"' + said(c, "41,5") + '"'),
        refused("41,5", "age"),
        area="permanova",
    )
    add(
        "A05",
        "wrong",
        "doc",
        _doc("sed '1s/Bifidobacterium bifidum/"),
        refused(("duplicate", "twice"), "Bifidobacterium adolescentis"),
    )
    add("S05", "wrong", "doc", _doc("sed 's/shift: 20/shift: -1000/'"), refused(("shift", "fiber", "-1000")))
    add("S06", "wrong", "doc+edit", _scenario_edit("shift: -1000", "set: -50"), refused(("set", "-50")))
    add(
        "S07",
        "wrong",
        "doc+edit",
        _scenario_edit("shift: -1000", "shift: 1.0e300"),
        refused(("shift", "1e+300", "1.0e300")),
    )
    add(
        "S09",
        "wrong",
        "doc+edit",
        lambda c: span(c, "sed 's/shift: 20/").replace(
            "s/shift: 20/shift: -1000/",
            "s/{input: fiber, shift: 20, ramp_days: 7}/" + said(c, "{input: stress, set: 5}") + "/",
        ),
        refused("stress", ("5", "0-1", "0 and 1", "range")),
    )
    add(
        "L01",
        "wrong",
        "doc",
        _doc("printf 'timestamp,text,ndb_no,grams\\n04/03/2024"),
        either(daily_dates(["2024-03-04", "2024-03-13"]), refused("date")),
        area="diet/insights/plan",
    )
    add(
        "L02",
        "wrong",
        "built",
        lambda c: (
            said(c, "7 date formats")
            and f"python - <<'EOF'\n{ROWS_SEVEN}\nEOF\ngutaxis diet scores m7.csv --foods $F -o o"
        ),
        either(
            daily_dates(
                [f"2024-{m:02d}-{d:02d}" for m, d in [(3, i) for i in range(1, 32)] + [(4, i) for i in range(1, 10)]]
            ),
            refused("date"),
        ),
        note="40 daily entries, 1 Mar - 9 Apr 2024, in 7 day-first formats",
    )
    add(
        "L03",
        "wrong",
        "built",
        lambda c: (
            said(c, "grams=inf")
            and LOG.replace(",300\\n2024-03-02", ",inf\\n2024-03-02") + "; gutaxis diet scores g.csv --foods $F -o o"
        ),
        refused("grams", "inf"),
        note="a two-entry log with grams=inf in row 2",
    )
    add(
        "L15",
        "wrong",
        "built",
        lambda c: (
            said(c, "fiber_g=-5")
            and f"{PY} \"import pandas as pd; f=pd.read_csv('$F',dtype=str); "
            "c=[k for k in f.columns if k.lower().startswith('ndb')][0]; "
            "f.loc[f[c]=='01009','fiber_g']='-5'; assert (f[c]=='01009').any(); f.to_csv('f.csv',index=False)\"; "
            + LOG.replace("08121,300", "01009,100")
            + "; gutaxis diet scores g.csv --foods f.csv -o o"
        ),
        refused("f.csv", "fiber"),
    )
    add(
        "D16",
        "wrong",
        "doc+edit",
        lambda c: (
            said(c, "set oats 08121 fiber 1.7→31.7")
            and "mkdir -p c/usda_sr28_abbrev && cp $D/usda_sr28_abbrev/ABBREV.txt c/usda_sr28_abbrev/ && "
            f"{PY} \"p='c/usda_sr28_abbrev/ABBREV.txt'; L=open(p,encoding='latin-1').read().split('\\n'); "
            "i=[k for k,l in enumerate(L) if l.startswith('~08121~')][0]; f=L[i].split('^'); "
            "assert f[8]=='1.7', f[8]; f[8]='31.7'; "
            "L[i]='^'.join(f); open(p,'w',encoding='latin-1').write('\\n'.join(L))\" && "
            "printf 'timestamp,text,ndb_no,grams\\n2024-03-01 08:00,oats,08121,300\\n' > o.csv && "
            + span(c, "GUTAXIS_DATA_DIR=c gutaxis diet scores")
        ),
        refused(("checksum", "sha256", "changed", "modified"), "fetch"),
        area="datasets",
        note="the document's steps in words (copy, edit oats fiber, 300 g of 08121) before its command",
    )

    # ---------------------------------------------------------------- silent drops
    add(
        "S11",
        "silent",
        "doc+edit",
        lambda c: span(c, "arms: {usual: {}, usual:") + "; gutaxis simulate x.yaml -o o",
        refused("usual", ("duplicate", "twice", "more than once")),
        note="'simulate as above' appended",
    )
    add(
        "S21",
        "silent",
        "built",
        lambda c: f"sed 's/n_candidates:/{said(c, 'n_candidate:')}/' b.yaml > x.yaml; gutaxis simulate x.yaml -o o",
        refused("n_candidate", "n_candidates"),
    )
    add(
        "S22",
        "silent",
        "built",
        lambda c: f"sed 's/replicates:/{said(c, 'replicate:')}/' b.yaml > x.yaml; gutaxis simulate x.yaml -o o",
        refused("replicate", "replicates"),
    )
    add(
        "S14",
        "silent",
        "built",
        lambda c: f"sed 's/^endpoints: .*/{said(c, 'endpoints: []')}/' b.yaml > x.yaml; gutaxis simulate x.yaml -o o",
        refused("endpoints"),
    )
    for cid in ("A17", "A18"):
        add(
            cid,
            "silent",
            "doc",
            _doc("--fixed diagnosis,age"),
            warned("age", "sample"),
            note="A17 and A18 share one command in the document",
        )
    add(
        "A21",
        "silent",
        "built",
        lambda c: (
            said(c, "`cd` next to `CD`")
            and 'awk \'BEGIN{FS=OFS="\\t"} NR==1{for(i=1;i<=NF;i++) if($i=="diagnosis") k=i} '
            'NR>1&&$k=="CD"&&!done{$k="cd";done=1} {print}\' $X > m.tsv; '
            "gutaxis associate $T m.tsv -o o $LM"
        ),
        either(refused("cd", "CD"), warned("cd", "CD")),
        note="one diagnosis CD written cd",
    )
    add("A10", "silent", "doc", _doc("cut -f1,2"), refused(("one feature", "single feature", "1 feature", "constant")))
    add(
        "R45",
        "silent",
        "built",
        lambda c: f"gutaxis report s.csv {said(c, '--orientation samples-as-rows')} -o o",
        either(refused(("orientation", "taxa", "s__")), warned(("orientation", "taxa", "s__"))),
        area="readers",
    )
    add(
        "L05",
        "silent",
        "built",
        lambda c: (
            said(c, "grams=1e9")
            and LOG.replace(",300\\n2024-03-02", ",1e9\\n2024-03-02") + "; gutaxis diet scores g.csv --foods $F -o o"
        ),
        refused("grams", "row 2"),
    )
    add(
        "L12",
        "silent",
        "built",
        lambda c: (
            said(c, "-08:00")
            and "printf 'timestamp,text,ndb_no,grams\\n2024-03-01T20:00-08:00,,01009,100\\n"
            "2024-03-02T08:00-08:00,,08121,300\\n' > z.csv; "
            "gutaxis diet scores z.csv --foods $F -o o"
        ),
        daily_dates(["2024-03-01", "2024-03-02"]),
        note="an evening meal at 20:00 -08:00 must stay on 1 March",
    )
    add(
        "L19",
        "silent",
        "built",
        lambda c: LOG + f"; gutaxis diet scores g.csv --foods $F {said(c, '--age -5')} -o o",
        refused("age"),
    )

    # ---------------------------------------------------------------- crashes, hangs, resources
    add("B08", "crash", "doc", _doc("bad.biom"), within(*SMALL_BUDGET, refused("bad.biom", ("index", "indices"))))
    add(
        "Q09",
        "crash",
        "built",
        lambda c: (
            said(c, "or in the BIOM inside a qza")
            and span(c, "bad.biom").split("; gutaxis")[0]
            + f"; {PY} \"import zipfile; z=zipfile.ZipFile('bad.qza','w'); "
            "z.writestr('u/metadata.yaml','uuid: u\\ntype: FeatureTable[Frequency]\\nformat: BIOMV210DirFmt\\n'); "
            "z.write('bad.biom','u/data/feature-table.biom'); z.close()\"; gutaxis report bad.qza -o o"
        ),
        within(*SMALL_BUDGET, refused("bad.qza", ("index", "indices"))),
        note="B08's bad.biom inside a .qza",
    )
    add("Q07", "hang", "doc", _doc("l.qza"), within(*SMALL_BUDGET, refused("l.qza", line_max=1000)), timeout=60)
    add(
        "Q08",
        "resource",
        "doc+edit",
        lambda c: (
            said(c, "with 6 levels")
            and span(c.others["Q07"], "l.qza").replace("range(1,9)", "range(1,6)").replace("*a8", "*a5")
        ),
        within(*SMALL_BUDGET, refused("l.qza", line_max=1000)),
        note="6 levels: a0..a5",
        timeout=60,
    )
    scen = (
        "python - <<'EOF'\n" + BILLION + "\n"
        "y=open('b.yaml').read()\n{edit}\nopen('x.yaml','w').write(y)\nEOF\ngutaxis simulate x.yaml -o o"
    )
    add(
        "S30",
        "hang",
        "built",
        lambda c: (
            said(c, "Aliases in `description`")
            and scen.format(levels=9, edit="y=l+y.replace('name: t\\n','name: t\\ndescription: *a8\\n')")
        ),
        within(*SMALL_BUDGET, refused(("alias", "anchor"), line_max=1000)),
        timeout=60,
        note="billion-laughs anchors (8 levels) with the scenario description = *a8",
    )
    add(
        "S31",
        "hang",
        "built",
        lambda c: (
            said(c, "an arm `description`")
            and scen.format(levels=9, edit="y=l+y.replace('usual: {},','usual: {description: *a8},')")
        ),
        within(*SMALL_BUDGET, refused(("alias", "anchor"), line_max=1000)),
        timeout=60,
        note="anchors in an arm description",
    )
    add(
        "S32",
        "hang",
        "built",
        lambda c: (
            said(c, "an unchecked `population:` key")
            and scen.format(levels=9, edit="y=l+y.replace('seed: 5}','seed: 5, junk: *a8}')")
        ),
        within(*SMALL_BUDGET, refused(("alias", "anchor", "junk"), line_max=1000)),
        timeout=60,
        note="anchors under population: junk",
    )
    for cid in ("S28", "S29"):
        add(
            cid,
            "resource",
            "built",
            lambda c: (
                said(c, "anchors above under a `junk:` key in `population:`")
                and scen.format(levels=6, edit="y=l+y.replace('seed: 5}','seed: 5, junk: *a5}')")
            ),
            within(*SMALL_BUDGET, refused(("alias", "anchor", "junk"), line_max=1000)),
            timeout=60,
            note="6 levels under population: junk (S28 report.html and S29 result.json come from one run)",
        )
    add(
        "S34",
        "hang",
        "built",
        lambda c: (
            said(c, "`duration_days: 3650` with `n_candidates: 2000000`")
            and "sed 's/duration_days: 28/duration_days: 3650/; s/n_candidates: 300/n_candidates: 2000000/' "
            "b.yaml > x.yaml; "
            "gutaxis simulate x.yaml -o o"
        ),
        within(*SMALL_BUDGET, refused(("estimate", "work", "too", "long", "large"))),
        timeout=120,
    )
    add(
        "Q06",
        "resource",
        "doc+edit",
        lambda c: span(c, "b.qza") + "; gutaxis report b.qza -o o",
        within(*SMALL_BUDGET, refused("b.qza")),
        note="the document's python line, then `gutaxis report b.qza -o o`",
    )
    add(
        "W02",
        "resource",
        "doc",
        _doc("w.csv"),
        within(*W02_BUDGET, succeeded(lambda r: (True, "report written"))),
        timeout=TIMEOUT_S,
    )

    # ---------------------------------------------------------------- outputs
    guard = "kill -0 $p 2>/dev/null && "

    def int_report(c: AuditCase, sig: str, trigger: str) -> str:
        doc_lines = (
            span(c.others["INT2"], "kill -TERM $p")
            .replace("while [", "while " + guard + "[")
            .replace("validation_abundance.csv -o o &", "validation_abundance.csv -o o --overwrite &")
        )
        if trigger:
            doc_lines = doc_lines.replace("o/summary.json -nt o/report.html", trigger)
        return doc_lines.replace("kill -TERM", f"kill -{sig}") + "; wait $p\n" + MIDRUN_REPORT.format(sig=sig)

    add(
        "INT2",
        "stale",
        "doc+edit",
        lambda c: int_report(c, "TERM", ""),
        int_check(report_folder_consistent),
        timeout=150,
        note="--overwrite added (a non-empty target is now refused without it), the wait loop stops when the run "
        "ends; then o2 killed 5 s into its second run",
    )
    add(
        "INT1",
        "stale",
        "doc+edit",
        lambda c: (
            said(c, "SIGINT while `indices.tsv` is written") and int_report(c, "INT", "o/indices.tsv -nt o/report.html")
        ),
        int_check(report_folder_consistent),
        timeout=150,
        note="INT2's commands, SIGINT once indices.tsv is newer; then o2 as INT2",
    )
    add(
        "INT3",
        "stale",
        "built",
        lambda c: (
            said(c, "SIGTERM/SIGINT once `params.json -nt report.html`")
            and "gutaxis associate $T $X -o o $LM; sleep 1; "
            "gutaxis associate $T $X -o o --overwrite --fixed diagnosis,dysbiosis "
            "--reference diagnosis,nonIBD & p=$!; "
            "while kill -0 $p 2>/dev/null && [ ! o/params.json -nt o/report.html ]; "
            "do sleep .01; done; kill -TERM $p; wait $p\n"
            "gutaxis associate $T $X -o o2 $LM; gutaxis associate $T $X -o o2 --overwrite --fixed diagnosis,dysbiosis "
            "--reference diagnosis,nonIBD & p=$!; sleep 6; kill -INT $p; wait $p"
        ),
        int_check(associate_folder_consistent),
        timeout=240,
        note="the document's trigger (params.json newer than report.html), then o2 killed 6 s into its second run",
    )
    add(
        "O16",
        "stale",
        "doc",
        lambda c: (
            span(c, "--sample SAMEA2582018")
            + "; echo ---overwrite---; gutaxis report s.csv --sample SAMEA2582018 -o o --overwrite"
        ),
        o16_check,
        note="then the same with --overwrite",
    )
    # O02-O04, O06-O15: the document lists 13 commands by error class, not by id; ids in the order listed
    ofail = [
        ("FileExistsError", "associate", "touch f; gutaxis associate $T $X -o f $LM"),
        ("FileExistsError", "simulate", "touch f; gutaxis simulate b.yaml -o f"),
        (
            "FileExistsError",
            "diet scores",
            "touch f; gutaxis diet scores src/gutaxis/data/example_person/meals.csv --foods $F -o f",
        ),
        (
            "FileExistsError",
            "insights",
            "touch f; gutaxis insights --meals src/gutaxis/data/example_person/meals.csv "
            "--symptoms src/gutaxis/data/example_person/symptoms.json --foods $F -o f",
        ),
        (
            "FileExistsError",
            "meta",
            "printf 'feature\\tstudy\\teffect\\tse\\nx\\ta\\t0.5\\t0.2\\nx\\tb\\t0.3\\t0.1\\n' > e.tsv; "
            "touch f; gutaxis meta e.tsv -o f",
        ),
        (
            "IsADirectoryError",
            "permanova",
            "mkdir DIR; gutaxis permanova $T -m $X --formula '~ diagnosis' --permutations 9 -o DIR",
        ),
        ("IsADirectoryError", "reference", "mkdir DIR; gutaxis reference $T -m $X --healthy diagnosis=nonIBD -o DIR"),
        ("PermissionError", "report", "mkdir ro; chattr +i ro 2>/dev/null || chmod 500 ro; gutaxis report s.csv -o ro"),
        (
            "PermissionError",
            "associate",
            "mkdir ro; chattr +i ro 2>/dev/null || chmod 500 ro; gutaxis associate $T $X -o ro $LM",
        ),
        (
            "PermissionError",
            "simulate",
            "mkdir ro; chattr +i ro 2>/dev/null || chmod 500 ro; gutaxis simulate b.yaml -o ro",
        ),
        (
            "PermissionError",
            "plan",
            "mkdir ro; chattr +i ro 2>/dev/null || chmod 500 ro; gutaxis plan --example --no-simulate -o ro",
        ),
        (
            "PermissionError",
            "diet scores",
            "mkdir ro; chattr +i ro 2>/dev/null || chmod 500 ro; "
            "gutaxis diet scores src/gutaxis/data/example_person/meals.csv --foods $F -o ro",
        ),
        ("FileNotFoundError", "report", "gutaxis report s.csv -o /proc/x"),
    ]
    oids = [f"O{i:02d}" for i in (2, 3, 4, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15)]
    for cid, (exc, cmd, line) in zip(oids, ofail, strict=True):
        target = re.search(r"-o (\S+)", line).group(1)

        def build(c: AuditCase, exc=exc, cmd=cmd, line=line):
            said(c, exc)
            said(c, cmd.split()[0])
            if (exc, cmd) == ("FileExistsError", "associate"):
                return span(c, "touch f")
            if (exc, cmd) == ("PermissionError", "report"):
                return span(c, "chattr +i ro") + "; rc=$?; chattr -i ro 2>/dev/null; exit $rc"
            return line + ("; rc=$?; chattr -i ro 2>/dev/null; exit $rc" if "chattr" in line else "")

        add(
            cid,
            "raw",
            "doc" if (exc, cmd) in (("FileExistsError", "associate"), ("PermissionError", "report")) else "built",
            build,
            refused(prefix=f"error: {target}"),
            note=f"{exc} from `{cmd} -o {target}` (the document does not say which id is which command)",
            area="outputs",
        )

    # ---------------------------------------------------------------- raw exceptions
    add(
        "L07",
        "raw",
        "built",
        lambda c: (
            said(c, "latin-1")
            and "printf 'timestamp,text,ndb_no,grams\\n2024-03-01 08:00,caf\\xe9 oats,08121,300\\n' > m1.csv; "
            "gutaxis diet scores m1.csv --foods $F -o o; iconv -f latin1 -t utf-8 m1.csv > m8.csv; "
            "gutaxis diet scores m8.csv --foods $F -o u8"
        ),
        either(same_output_as_plain("daily_scores.csv", "u8"), refused("m1.csv")),
        note="'café' in latin-1; compared with the same log in UTF-8",
    )
    add(
        "L08",
        "raw",
        "doc",
        lambda c: (
            span(c.others["L01"], "04/03/2024")
            .replace("04/03/2024", "2024-03-04")
            .replace("13/03/2024", "2024-03-13")
            .split("; gutaxis")[0]
            + "; gutaxis diet scores m.csv --foods $F -o u8; "
            + span(c, "iconv -f utf-8 -t utf-16")
        ),
        either(same_output_as_plain("daily_scores.csv", "u8"), refused("m16.csv")),
        note="L01's m.csv with ISO dates (L01's day/month question aside), once in UTF-8 for the expected output",
    )
    add(
        "L11",
        "raw",
        "built",
        lambda c: (
            said(c, "year-2999")
            and LOG.replace("2024-03-02 08:00", "2999-03-02 08:00") + "; gutaxis diet scores g.csv --foods $F -o o"
        ),
        refused("2999", "row 3"),
    )
    add(
        "S26",
        "raw",
        "built",
        lambda c: said(c, "a folder named `x.yaml`") and "mkdir x.yaml; gutaxis simulate x.yaml -o o",
        refused("x.yaml", ("folder", "directory")),
    )
    add(
        "D14",
        "raw",
        "built",
        lambda c: (
            said(c, "GUTAXIS_DATASETS_URL='not a url'")
            and "GUTAXIS_DATA_DIR=$PWD/empty GUTAXIS_DATASETS_URL='not a url' gutaxis datasets fetch usda_sr28_abbrev"
        ),
        refused(("GUTAXIS_DATASETS_URL", "not a url")),
        area="datasets",
        note="fetch into an empty cache",
    )
    add(
        "A30",
        "raw",
        "built",
        lambda c: f"gutaxis associate $T $X -o o $LM {said(c, '--max-significance 7')}",
        no_partial(refused("max-significance")),
    )

    # ---------------------------------------------------------------- misleading errors
    same_assoc = same_table("all_results.tsv", "ref", sep="\t")
    add(
        "A12",
        "misleading",
        "doc",
        lambda c: span(c, "cp $T t.csv") + "; gutaxis associate $T $X -o ref $LM",
        either(same_assoc, refused("t.csv", ("separator", "tab", "delimit"))),
        note="compared with the .tsv run",
    )
    add(
        "A13",
        "misleading",
        "built",
        lambda c: (
            said(c, "separator")
            and "cp $X x.csv; gutaxis associate $T x.csv -o o $LM; gutaxis associate $T $X -o ref $LM"
        ),
        either(same_assoc, refused("x.csv", ("separator", "tab", "delimit"))),
        note="the metadata named .csv (A12 is the table); compared with the .tsv run",
    )
    for cid, value in (("A16", "unknown"), ("A36", "41,5")):
        add(
            cid,
            "misleading",
            "built",
            lambda c, value=value: (
                span(c.others["P13"], '$3=="NA"').split("; gutaxis")[0].replace('"unknown"', '"' + value + '"')
                + "; gutaxis associate $T m.tsv -o o --fixed diagnosis,age --reference diagnosis,nonIBD"
            ),
            refused("age", value),
            note="P13's m.tsv given to associate",
        )
    # P13/P14 carry the m.tsv command; A16/A36's text points there
    add(
        "S24",
        "misleading",
        "doc",
        _doc("gutaxis simulate run"),
        refused("run", (".yaml", "scenario file", "not found", "no file")),
    )
    add(
        "S25",
        "misleading",
        "doc",
        lambda c: "cp b.yaml b.txt; " + span(c, "gutaxis simulate b.txt"),
        refused("b.txt", ".yaml"),
    )
    add(
        "S16",
        "misleading",
        "built",
        lambda c: (
            f"sed 's/duration_days: 28/{said(c, 'duration_days: true')}/' b.yaml > x.yaml; gutaxis simulate x.yaml -o o"
        ),
        refused("duration_days"),
    )
    add(
        "R12",
        "misleading",
        "built",
        lambda c: (
            said(c, "UTF-16 CSV")
            and "iconv -f utf-8 -t utf-16 s.csv > u.csv; gutaxis report u.csv -o o; gutaxis report s.csv -o ref"
        ),
        either(same_table("indices.tsv", "ref", sep="\t"), refused("u.csv", ("utf-16", "encoding"))),
        note="compared with the UTF-8 file's report",
    )
    add(
        "R09",
        "misleading",
        "built",
        lambda c: (
            said(c, "a tab header with comma rows")
            and "(head -1 s.csv | tr , '\\t'; tail -n +2 s.csv) > h.csv; gutaxis report h.csv -o o"
        ),
        refused("h.csv", ("separator", "tab", "comma", "delimit")),
    )
    add(
        "M12",
        "misleading",
        "built",
        lambda c: said(c, "without `--metadata`") and "gutaxis reference s.csv --healthy Phenotype=Healthy -o r.json",
        refused("--metadata"),
    )

    # ---------------------------------------------------------------- determinism
    add(
        "E02",
        "nondet",
        "built",
        _shuffle_cmd("--fixed diagnosis,dysbiosis --random site,subject --reference diagnosis,nonIBD", "", "pval"),
        shuffle_identical(1e-8),
        timeout=TIMEOUT_S,
        note="full HMP2, rows and metadata shuffled; pval compared",
    )
    add(
        "E05",
        "nondet",
        "built",
        _shuffle_cmd(
            "--fixed diagnosis --reference diagnosis,nonIBD --model maaslin3", ".iloc[:300]", "pval_individual"
        ),
        shuffle_identical(1e-8),
        note="first 300 samples, shuffled; pval_individual compared",
    )

    # ---------------------------------------------------------------- security
    add(
        "L21",
        "security",
        "built",
        lambda c: (
            said(c, "=HYPERLINK(")
            and 'printf \'timestamp,text,ndb_no,grams\\n2024-03-01 08:00,"=HYPERLINK(""http://x"",""y"")",08121,300\\n'
            "2024-03-01 12:00,@SUM(1+1),01009,30\\n' > h.csv; gutaxis diet scores h.csv --foods $F -o o"
        ),
        succeeded(no_formula_cells),
    )
    return R


# ============================================================================ running

SHIM = r"""#!{python}
import json, os, signal, sys, time
real, log, cap = os.environ["TALLY_REAL"], os.environ["TALLY_LOG"], int(os.environ["TALLY_CAP_MB"])
start = time.monotonic()
pid = os.fork()
if pid == 0:
    # a background job of a non-interactive shell ignores SIGINT: restore the default, so that
    # `kill -INT` reaches gutaxis as a Ctrl-C would
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    os.execv(real, [real] + sys.argv[1:])
def forward(sig, _frame):
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass
for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
    signal.signal(s, forward)
capped = False
while True:
    got, status, ru = os.wait4(pid, os.WNOHANG)
    if got:
        break
    try:
        with open(f"/proc/{{pid}}/status") as fh:
            rss = next(int(l.split()[1]) for l in fh if l.startswith("VmRSS:")) / 1024
        if rss > cap and not capped:
            capped = True
            os.kill(pid, signal.SIGKILL)
    except (OSError, StopIteration):
        pass
    time.sleep(0.02)
rc = os.waitstatus_to_exitcode(status)
with open(log, "a") as fh:
    fh.write(json.dumps({{"argv": sys.argv[1:], "rc": rc, "seconds": time.monotonic() - start,
                          "cpu_s": ru.ru_utime + ru.ru_stime, "rss_mb": ru.ru_maxrss / 1024,
                          "capped": capped}}) + "\n")
sys.exit(rc if rc >= 0 else 128 - rc)
"""


def run_case(doc: Document, cid: str, recipe: Recipe, keep: bool = False) -> tuple[Run | None, str]:
    command = recipe.command(doc.cases[cid])
    base = Path(tempfile.mkdtemp(prefix=f"audit-{cid}-"))
    work = base / "w"
    (work / "src" / "gutaxis").mkdir(parents=True)
    (work / "src" / "gutaxis" / "data").symlink_to(ROOT / "src" / "gutaxis" / "data")
    (base / "shared").symlink_to(ROOT.parent / "shared")
    bindir = base / "bin"
    bindir.mkdir()
    shim = bindir / "gutaxis"
    shim.write_text(SHIM.format(python=sys.executable))
    shim.chmod(0o755)
    venv_bin = Path(sys.executable).parent
    env = dict(
        os.environ,
        PATH=f"{bindir}:{venv_bin}:{os.environ.get('PATH', '')}",
        TALLY_REAL=str(venv_bin / "gutaxis"),
        TALLY_LOG=str(base / "calls.jsonl"),
        TALLY_CAP_MB=str(RSS_CAP_MB),
        COLUMNS="200",
        NO_COLOR="1",
    )
    script = doc.setup + "\n" + command + "\n"
    start = time.monotonic()
    with open(base / "out", "w") as out, open(base / "err", "w") as err:
        proc = subprocess.Popen(
            ["bash", "-c", script],
            cwd=work,
            env=env,
            stdout=out,
            stderr=err,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            rc = proc.wait(timeout=recipe.timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            rc = None
    seconds = time.monotonic() - start
    calls = []
    if (base / "calls.jsonl").exists():
        calls = [json.loads(ln) for ln in (base / "calls.jsonl").read_text().splitlines() if ln.strip()]
    run = Run(
        rc, (base / "out").read_text(errors="replace"), (base / "err").read_text(errors="replace"), calls, work, seconds
    )
    if not keep:
        subprocess.run(["chattr", "-R", "-i", str(base)], capture_output=True)
        run._cleanup = base  # type: ignore[attr-defined]
    return run, script


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--audit", type=Path, default=AUDIT)
    ap.add_argument("--only", help="comma-separated case ids")
    ap.add_argument("--list", action="store_true", help="print the parsed cases and commands; run nothing")
    ap.add_argument("--show", help="one case: print its script, outcome, stdout and stderr")
    args = ap.parse_args(argv)
    if not args.audit.is_file():
        print(
            f"error: {args.audit}: the audit is not there — put ../shared beside the checkout or pass --audit PATH",
            file=sys.stderr,
        )
        return 2
    doc = parse(args.audit.read_text(encoding="utf-8"))
    problems = check_document(doc)
    for p in problems:
        print(f"warning: parse: {p}", file=sys.stderr)
    book = recipes()
    missing = sorted(set(doc.cases) - set(book))
    extra = sorted(set(book) - set(doc.cases))
    if missing or extra:
        print(
            f"warning: ids in the document without a recipe: {missing}; recipes without a case: {extra}",
            file=sys.stderr,
        )
    ids = [c for c in doc.cases if c in book]
    if args.show:
        args.only = args.show
    if args.only:
        want = set(args.only.split(","))
        ids = [c for c in ids if c in want]
    if args.list:
        for cid in ids:
            r = book[cid]
            try:
                cmd = r.command(doc.cases[cid])
            except NotInDocument as exc:
                cmd = f"(not runnable: {exc})"
            print(f"## {cid} [{r.area} / {r.kind} / {r.origin}] {r.note}\n{cmd}\n")
        return 0

    results = []
    for cid in ids:
        r = book[cid]
        try:
            run, script = run_case(doc, cid, r, keep=bool(args.show))
        except NotInDocument as exc:
            results.append((cid, r, False, f"not runnable from the document: {exc}", None))
            print(f"{cid:5} NOT RUN  {exc}", flush=True)
            continue
        ok, why = r.check(run)
        t = f"{run.seconds:5.1f}s"
        results.append((cid, r, ok, why, run))
        print(f"{cid:5} {'pass' if ok else 'FAIL':4} {t} {r.area:18} {r.kind:10} {r.origin:8} {why}", flush=True)
        if args.show:
            print(
                f"--- script\n{script}\n--- exit {run.rc}; calls {json.dumps(run.calls)}\n"
                f"--- stdout\n{run.out[-3000:]}\n--- stderr\n{run.err[-3000:]}"
            )
            print(f"--- folder kept: {run.folder}")
        cleanup = getattr(run, "_cleanup", None)
        if cleanup:
            shutil.rmtree(cleanup, ignore_errors=True)

    # ------------------------------------------------------------------ tally
    print()
    areas: dict[str, dict[str, list[int]]] = {}
    for _cid, r, ok, _, _ in results:
        a = areas.setdefault(r.area, {})
        a.setdefault(r.kind, [0, 0])[0 if ok else 1] += 1
    print("| area | kind | re-run | pass now | still failing |")
    print("|---|---|---|---|---|")
    tot = [0, 0]
    for area in sorted(areas):
        for kind in sorted(areas[area]):
            p, f = areas[area][kind]
            tot[0] += p
            tot[1] += f
            print(f"| {area} | {kind} | {p + f} | {p} | {f} |")
    print(f"| **total** | | **{tot[0] + tot[1]}** | **{tot[0]}** | **{tot[1]}** |")
    origins = {}
    for _, r, *_ in results:
        origins[r.origin] = origins.get(r.origin, 0) + 1
    print()
    n_failed = doc.claimed["failed"]
    print(f"Audit: {doc.claimed['total']} cases, {doc.claimed['passed']} passed, {n_failed} failed at its commit.")
    print(
        f"Re-run now: {tot[0] + tot[1]} of the {n_failed} failing cases "
        f"(commands: {', '.join(f'{v} {k}' for k, v in sorted(origins.items()))}); {tot[0]} pass, {tot[1]} still fail."
    )
    print(
        f"Not re-runnable from the document: the {doc.claimed['passed']} cases that passed "
        "(it lists them in prose, without commands)."
    )
    still = [(cid, why) for cid, r, ok, why, _ in results if not ok]
    if still:
        print("\nStill failing:")
        for cid, why in still:
            print(f"  {cid}: {why}")
    return 0 if not still else 1


if __name__ == "__main__":
    sys.exit(main())
