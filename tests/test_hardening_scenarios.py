"""Hardening of YAML scenarios (``gutaxis simulate``): the simulate cases of the reliability audit
(``../shared/science/audit-reliability.md``, S05-S34), one test per case named by its id, plus a
hypothesis property over the scenario loader and the invariance of results to the order of the arms.

Every scenario is built as the audit builds it: its ``b.yaml`` (written into ``tmp_path``), edited the
way the audit's ``sed`` line edits it. Cases that hung or exhausted memory before the fix (S30, S34) run
in a child process with a time and memory limit, so that a regression fails instead of hanging the suite.

The property test runs a small derandomised budget by default; ``GUTAXIS_FUZZ_EXAMPLES=2000`` runs a
longer randomised hunt (figures printed with ``-s``).
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from _cli import cli
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gutaxis.axis.scenario import load_scenario, run_scenario
from gutaxis.errors import InputError

#: the audit's b.yaml, byte for byte (its printf line)
B_YAML = (
    "name: t\nduration_days: 28\npopulation: {disease: healthy, n_candidates: 300, seed: 5}\ncontrol: usual\n"
    "trial: {n_per_arm: 10, replicates: 20}\n"
    "arms: {usual: {}, fiber: {interventions: [{input: fiber, shift: 20, ramp_days: 7}]}}\n"
    "endpoints: [R, butyrate, il6, CRP]\n"
)
#: an error line is short: one line a person reads (the audit's Q08 error line was 7.2 MB)
SHORT = 600


def _write(tmp_path: Path, text: str, name: str = "x.yaml") -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def _sed(old: str, new: str) -> str:
    assert old in B_YAML, old
    return B_YAML.replace(old, new)


def _edited(tmp_path: Path, old: str, new: str) -> Path:
    """The audit's b.yaml with one ``sed`` edit, written as ``tmp_path/x.yaml``."""
    return _write(tmp_path, _sed(old, new))


def _refused(path, *patterns: str) -> str:
    """``load_scenario(path)`` raises an InputError whose one short line matches every pattern."""
    with pytest.raises(InputError) as info:
        load_scenario(path)
    msg = str(info.value)
    assert len(msg) < SHORT and "\n" not in msg, msg
    for pat in patterns:
        assert pat in msg, (pat, msg)
    return msg


def _laughs(levels: int) -> str:
    """A 'billion laughs' flow sequence: level k holds 10 aliases of level k-1 (10**(levels+1) 'lol's)."""
    items = ["&a0 [" + ",".join(["lol"] * 10) + "]"]
    items += [f"&a{k} [" + ",".join([f"*a{k - 1}"] * 10) + "]" for k in range(1, levels + 1)]
    return "[" + ", ".join(items) + "]"


_CHILD = textwrap.dedent("""
    import json, sys, time
    from gutaxis.axis.scenario import run_scenario
    from gutaxis.errors import InputError
    out = {}
    for path in sys.argv[1:]:
        t0 = time.perf_counter()
        try:
            run_scenario(path)
            kind, msg = "ran", ""
        except InputError as exc:
            kind, msg = "InputError", str(exc)
        except BaseException as exc:
            kind, msg = type(exc).__name__, str(exc)[:300]
        out[path] = {"kind": kind, "msg": msg, "seconds": time.perf_counter() - t0}
        print(json.dumps(out), flush=True)
""")


def _run_guarded(paths, timeout: float = 60.0, mem_gb: float = 3.0) -> dict:
    """``run_scenario`` of each path in a child process limited to ``timeout`` s and ``mem_gb`` of address
    space: path -> {kind, msg, seconds}; a path missing from the answer hung or was killed."""

    def limit():
        lim = int(mem_gb * 2**30)
        resource.setrlimit(resource.RLIMIT_AS, (lim, lim))

    try:
        proc = subprocess.run(
            [sys.executable, "-c", _CHILD, *map(str, paths)],
            capture_output=True,
            text=True,
            timeout=timeout,
            preexec_fn=limit,
            check=False,
        )
        lines = proc.stdout.strip().splitlines()
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout.decode() if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        lines = out.strip().splitlines()
    return json.loads(lines[-1]) if lines else {}


# --------------------------------------------------------------------------- doses: physically possible levels
def test_S05_negative_fiber_shift_refused(tmp_path):
    """S05: a -1000 g/day fiber shift raised butyrate from 16.9 to 52.7 mM."""
    x = _edited(tmp_path, "shift: 20", "shift: -1000")
    _refused(x, "arms.fiber.interventions[0]", "fiber", "shift", "0-150 g/d")


def test_S06_negative_set_refused(tmp_path):
    """S06: ``set: -50`` gave NaN endpoints."""
    x = _edited(tmp_path, "shift: 20", "set: -50")
    _refused(x, "arms.fiber.interventions[0]", "fiber", "set", "-50", "0-150 g/d")


def test_S07_huge_shift_refused(tmp_path):
    """S07: ``shift: 1.0e300`` gave NaN endpoints."""
    x = _edited(tmp_path, "shift: 20", "shift: 1.0e300")
    _refused(x, "arms.fiber.interventions[0]", "fiber", "0-150 g/d")


def test_S09_stress_set_above_its_scale_refused(tmp_path):
    """S09: ``{input: stress, set: 5}`` (5 on a 0-1 scale) raised IL-6 from 2.35 to 37.1."""
    x = _edited(tmp_path, "{input: fiber, shift: 20, ramp_days: 7}", "{input: stress, set: 5}")
    _refused(x, "arms.fiber.interventions[0]", "stress", "0-1")


def test_dose_ranges_edges_and_sources(tmp_path):
    """The edges of the allowed ranges load; one step beyond is refused; every input has a range."""
    from gutaxis.axis import equations as eq
    from gutaxis.axis.inputs import INPUT_RANGES, usual_input_bounds

    assert set(INPUT_RANGES) == set(eq.INPUT_NAMES)
    for name, (lo, hi, note) in INPUT_RANGES.items():
        assert lo < hi and note, name
    for text in ("set: 0", "set: 150", "shift: -5", "shift: 90"):  # usual fiber 5-60 g/d, possible 0-150
        load_scenario(_edited(tmp_path, "shift: 20", text))
    for text, msg in (
        ("set: -0.1", "0-150 g/d"),
        ("set: 150.5", "0-150 g/d"),
        ("shift: -5.5", "-5 to +90"),
        ("shift: 90.5", "-5 to +90"),
    ):
        _refused(_edited(tmp_path, "shift: 20", text), msg)
    # the bounds of the usual inputs that the shifts are checked against are the population's own
    lo, hi = usual_input_bounds("healthy")
    assert (lo["fiber"], hi["fiber"]) == (5.0, 60.0) and (lo["ra"], hi["ra"]) == (0.0, 0.0)
    lo, hi = usual_input_bounds("ra")
    assert (lo["ra"], hi["ra"]) == (1.0, 1.0)
    # a flag already on in this population cannot be shifted further on
    _refused(
        _write(
            tmp_path, _sed("disease: healthy", "disease: ra").replace("input: fiber, shift: 20", "input: ra, shift: 1")
        ),
        "ra",
        "0-1",
    )
    # pss10 is mapped to the stress load and checked on its own 0-40 scale (unchanged)
    _refused(_edited(tmp_path, "{input: fiber, shift: 20, ramp_days: 7}", "{input: pss10, set: 41}"), "pss10")


def test_levels_are_checked_again_on_a_population_given_to_run_scenario(tmp_path):
    """A population given directly may hold usual intakes beyond the documented ones: the run checks them."""
    from gutaxis.axis import equations as eq
    from gutaxis.axis.scenario import _population

    sc = load_scenario(_edited(tmp_path, "shift: 20", "shift: -5"))
    pop = _population(sc)
    pop.inputs[eq.U_F, 0] = 3.0  # 3 - 5 g/d < 0
    with pytest.raises(InputError, match=r"arms\.fiber\.interventions\[0\].*1 of \d+ virtual patients"):
        run_scenario(sc, population=pop)


# --------------------------------------------------------------------------- YAML: duplicates and aliases
def test_S11_duplicate_arm_key_refused(tmp_path):
    """S11: a duplicate arm name silently replaced the control arm (every comparison fiber vs fiber)."""
    x = _write(
        tmp_path,
        B_YAML.replace("arms: {usual: {}, ", "arms: {usual: {}, usual: {interventions: [{input: fiber, shift: 20}]}, "),
    )
    _refused(x, "duplicate key 'usual'", "line 6")
    # any mapping, not only arms
    _refused(_write(tmp_path, B_YAML + "duration_days: 14\n"), "duplicate key 'duration_days'")
    # names that YAML reads as other types are refused rather than turned into text (no: is False)
    _refused(
        _write(tmp_path, _sed("arms: {usual: {}", "arms: {no: {}").replace("control: usual", "control: 'no'")),
        "arm names",
        "quotes",
    )


def test_S28_S29_aliases_under_a_population_key_refused(tmp_path):
    """S28, S29: 6 levels of anchors under ``junk:`` in ``population:`` wrote a 126 MB report.html and a
    122 MB result.json from a 1 KB scenario."""
    x = _edited(tmp_path, "seed: 5}", f"seed: 5, junk: {_laughs(6)}}}")
    assert x.stat().st_size < 1500
    t0 = time.perf_counter()
    _refused(x, "alias")
    assert time.perf_counter() - t0 < 2
    out = tmp_path / "o"
    r = cli("simulate", x, "-o", out)
    assert r.exit_code == 2 and "alias" in r.output and len(r.output) < SHORT, r.output
    assert not out.exists() or not any(out.iterdir())


def test_S31_aliases_in_an_arm_description_refused(tmp_path):
    """S31: aliases in an arm's description hung ``simulate`` (expanded by the provenance hash)."""
    x = _edited(tmp_path, "usual: {}", f"usual: {{description: {_laughs(8)}}}")
    _refused(x, "alias")


def test_S32_aliases_in_an_unchecked_population_key_refused(tmp_path):
    """S32: aliases under an unchecked ``population:`` key hung ``simulate``."""
    x = _edited(tmp_path, "seed: 5}", f"seed: 5, notes: {_laughs(8)}}}")
    _refused(x, "alias")


def test_S30_S34_hangs_end_at_once_with_an_input_error(tmp_path):
    """S30: aliases in ``description`` hung past 60 s (``str()`` of the expansion). S34: ``duration_days:
    3650`` with ``n_candidates: 2000000`` ran with no estimate or guard. Run in a child process with a time
    and memory limit: both must end within seconds with a short InputError."""
    s30 = _write(tmp_path, B_YAML.replace("name: t\n", f"name: t\ndescription: {_laughs(8)}\n"), "s30.yaml")
    s34 = _write(
        tmp_path,
        _sed("duration_days: 28", "duration_days: 3650").replace("n_candidates: 300", "n_candidates: 2000000"),
        "s34.yaml",
    )
    res = _run_guarded([s30, s34], timeout=90)
    for path in (s30, s34):
        got = res.get(str(path))
        assert got is not None, f"{path.name}: no answer within the time limit (hang or memory blow-up)"
        assert got["kind"] == "InputError" and got["seconds"] < 10 and len(got["msg"]) < SHORT, got
    assert "alias" in res[str(s30)]["msg"]
    msg = res[str(s34)]["msg"]
    assert "patient-days" in msg and "allow_large: true" in msg, msg


def test_S34_work_estimate_and_allow_large(tmp_path, monkeypatch):
    """The estimate (patients x days) is exposed; above the limit a run needs ``allow_large: true``."""
    import gutaxis.axis.scenario as scenario_mod

    big = load_scenario(
        _write(
            tmp_path,
            _sed("duration_days: 28", "duration_days: 3650").replace("n_candidates: 300", "n_candidates: 2000000"),
        )
    )
    est = big.work_estimate()
    assert est["patient_days"] == 2_000_000 * 365 + 2_000_000 * 2 * 3650
    assert est["patient_days"] > scenario_mod.MAX_PATIENT_DAYS and est["seconds"] > 3600
    sc = load_scenario(_write(tmp_path, B_YAML))
    assert sc.work_estimate()["patient_days"] == 300 * 365 + 300 * 2 * 28 < scenario_mod.MAX_PATIENT_DAYS
    monkeypatch.setattr(scenario_mod, "MAX_PATIENT_DAYS", 1000)
    with pytest.raises(InputError, match="allow_large: true"):
        run_scenario(sc)
    res = run_scenario(load_scenario(_write(tmp_path, B_YAML + "allow_large: true\n")))
    assert len(res.summary) == 8
    res = run_scenario(sc.with_overrides(allow_large=True))  # also as an override (a CLI option can pass it)
    assert res.provenance["overrides"] == {"allow_large": True}
    _refused(_write(tmp_path, B_YAML + "allow_large: yes please\n"), "allow_large", "true or false")
    # the virtual trials count too: 100000 replicates x 400 endpoints is hours of random draws
    monkeypatch.undo()
    many = (
        "["
        + ", ".join(f"{{output: {o}, day: {d}}}" for o in ("R", "il6", "CRP", "butyrate") for d in range(1, 29))
        + "]"
    )
    slow = load_scenario(
        _write(
            tmp_path,
            _sed("replicates: 20", "replicates: 100000").replace(
                "endpoints: [R, butyrate, il6, CRP]", f"endpoints: {many}"
            ),
        )
    )
    est = slow.work_estimate()
    assert est["patient_days"] < scenario_mod.MAX_PATIENT_DAYS < est["work"]
    assert est["trial_draws"] == 100000 * (300 + 112 * 10 * 4)
    with pytest.raises(InputError, match="random draws of the virtual trials"):
        run_scenario(slow)


# --------------------------------------------------------------------------- strict schemas
def test_S21_population_typo_refused(tmp_path):
    """S21: ``n_candidate:`` in ``population:`` silently ran the default 3000 candidates."""
    x = _edited(tmp_path, "n_candidates: 300", "n_candidate: 300")
    _refused(x, "population", "unknown key 'n_candidate'", "did you mean 'n_candidates'")


def test_S22_trial_typo_refused(tmp_path):
    """S22: ``replicate:`` in ``trial:`` silently ran the default 200 replicates."""
    x = _edited(tmp_path, "replicates: 20", "replicate: 20")
    _refused(x, "trial", "unknown key 'replicate'", "did you mean 'replicates'")


def test_strict_schema_everywhere_with_did_you_mean(tmp_path):
    """Every mapping of a scenario has a fixed set of keys; a near miss gets a suggestion."""
    cases = [
        (_sed("control: usual", "contol: usual"), "did you mean 'control'"),
        (_sed("ramp_days: 7", "ramp_day: 7"), "did you mean 'ramp_days'"),
        (_sed("fiber: {interventions:", "fiber: {intervention:"), "did you mean 'interventions'"),
        (_sed("usual: {}", "usual: {adherence: {mean: 0.9, sdd: 0.1}}"), "did you mean 'sd'"),
        (_sed("endpoints: [R,", "endpoints: [{output: R, dya: 7},"), "did you mean 'day'"),
        (_sed("trial: {n_per_arm: 10, replicates: 20}", "trial: [10, 20]"), "trial must be a mapping"),
        (_sed("population: {", "population: [").replace("seed: 5}", "seed: 5]"), "population must be a mapping"),
        (_sed("interventions: [{input: fiber, shift: 20, ramp_days: 7}]", "interventions: 5"), "list"),
        (_sed("endpoints: [R, butyrate, il6, CRP]", "endpoints: R"), "list"),
        (_sed("name: t", "name: [a, b]"), "name must be text"),
    ]
    for text, msg in cases:
        _refused(_write(tmp_path, text), msg)


def test_S14_empty_endpoints_refused(tmp_path):
    """S14: ``endpoints: []`` was replaced by the defaults; now refused (leave the key out for them)."""
    x = _edited(tmp_path, "endpoints: [R, butyrate, il6, CRP]", "endpoints: []")
    _refused(x, "endpoints", "empty", "leave the key out")
    sc = load_scenario(_edited(tmp_path, "endpoints: [R, butyrate, il6, CRP]\n", ""))
    assert [o for o, _ in sc.endpoints] == ["R", "butyrate", "lm", "il6", "CRP"]  # missing: the defaults


def test_S16_boolean_duration_refused(tmp_path):
    """S16: ``duration_days: true`` was read as 1 day, and the error then blamed ``ramp_days``."""
    x = _edited(tmp_path, "duration_days: 28", "duration_days: true")
    msg = _refused(x, "duration_days", "true or false is not a number")
    assert "ramp_days" not in msg
    _refused(_edited(tmp_path, "shift: 20", "shift: false"), "shift")
    _refused(_edited(tmp_path, "replicates: 20", "replicates: yes"), "replicates")


def test_numbers_beyond_float_refused(tmp_path):
    """An integer too large for a float is an InputError, not an OverflowError; whole seeds stay exact."""
    _refused(_write(tmp_path, _sed("replicates: 20", "replicates: " + "9" * 400)), "replicates")
    sc = load_scenario(_edited(tmp_path, "seed: 5}", f"seed: {2**64 + 1}}}"))
    assert sc.population_seed == 2**64 + 1


# --------------------------------------------------------------------------- the argument: a file, not text
def test_S24_bare_word_is_no_such_scenario_file(tmp_path, monkeypatch):
    """S24: ``gutaxis simulate run -o o`` said 'a scenario is a YAML mapping' (the word parsed as YAML)."""
    monkeypatch.chdir(tmp_path)
    _refused(Path("run"), "no such scenario file", "run")
    _refused("run", "no such scenario file")
    # the CLI (src/gutaxis/cli/simulate.py) checks its argument itself, in its own words
    r = cli("simulate", "run", "-o", "o")
    assert r.exit_code == 2 and "does not exist" in r.output and "YAML mapping" not in r.output, r.output


def test_S25_non_yaml_argument_is_read_as_a_file(tmp_path, monkeypatch):
    """S25: ``gutaxis simulate b.txt -o o`` parsed the name 'b.txt' as YAML text."""
    monkeypatch.chdir(tmp_path)
    _write(tmp_path, B_YAML, "b.txt")
    for arg in (Path("b.txt"), "b.txt"):
        sc = load_scenario(arg)
        assert sc.path == "b.txt" and sc.file_sha256 and [a for a in sc.arms] == ["usual", "fiber"]
    _write(tmp_path, "sample,a\nx,1\n", "c.txt")
    _refused(Path("c.txt"), "c.txt", "YAML mapping")
    _refused(Path("missing.txt"), "no such scenario file")
    r = cli("simulate", "b.txt", "-o", "o")  # the CLI asks for a .yaml name; never YAML text
    assert "YAML mapping" not in r.output and "Traceback" not in r.output, r.output


def test_S26_folder_named_yaml_is_an_input_error(tmp_path):
    """S26: a folder named x.yaml gave a raw IsADirectoryError."""
    (tmp_path / "x.yaml").mkdir()
    _refused(tmp_path / "x.yaml", "is a folder")
    r = cli("simulate", tmp_path / "x.yaml", "-o", tmp_path / "o")
    assert r.exit_code == 2 and "is a folder" in r.output and "IsADirectoryError" not in r.output, r.output


def test_oversized_scenario_file_refused(tmp_path):
    """A scenario file larger than the documented limit is refused before it is parsed."""
    from gutaxis.axis.scenario import MAX_SCENARIO_BYTES

    x = _write(tmp_path, B_YAML + "# " + "x" * MAX_SCENARIO_BYTES + "\n")
    _refused(x, "larger than", "GUTAXIS_MAX_SCENARIO_BYTES")


# --------------------------------------------------------------------------- arm order
def test_arm_order_gives_identical_results(tmp_path):
    """The same scenario with its arms in another order gives the same numbers for every arm (adherence
    draws, trial sampling and measurement noise are seeded per arm, not drawn in the order of the arms)."""
    arms = {
        "usual": "{}",
        "fiber": "{adherence: {mean: 0.8, sd: 0.2}, interventions: [{input: fiber, shift: 20, ramp_days: 7}]}",
        "fermented": "{adherence: {mean: 0.9, sd: 0.1}, interventions: [{input: fermented, shift: 4}]}",
    }

    def scenario(order):
        text = _sed(
            "arms: {usual: {}, fiber: {interventions: [{input: fiber, shift: 20, ramp_days: 7}]}}",
            "arms: {" + ", ".join(f"{a}: {arms[a]}" for a in order) + "}",
        )
        return run_scenario(text)

    a = scenario(["usual", "fiber", "fermented"])
    b = scenario(["fermented", "usual", "fiber"])
    for attr, keys in (("summary", ["arm", "endpoint", "day"]), ("comparisons", ["arm", "endpoint", "day"])):
        x = getattr(a, attr).sort_values(keys).reset_index(drop=True)
        y = getattr(b, attr).sort_values(keys).reset_index(drop=True)
        assert len(x) > 0
        pd.testing.assert_frame_equal(x, y, check_exact=True)
    for arm in arms:
        i, j = list(a.scenario.arms).index(arm), list(b.scenario.arms).index(arm)
        np.testing.assert_array_equal(a.adherence[i], b.adherence[j])
        np.testing.assert_array_equal(a.values["butyrate"][i], b.values["butyrate"][j])


# --------------------------------------------------------------------------- property: the loader
_EXAMPLES = os.environ.get("GUTAXIS_FUZZ_EXAMPLES")
FUZZ = settings(
    max_examples=int(_EXAMPLES or 50),
    deadline=None,
    derandomize=_EXAMPLES is None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture],
)
FUZZ_LIMIT_S = 10.0
FUZZ_LIMIT_MB = 500.0
_STATS = {"n": 0, "input_error": 0, "accepted": 0, "max_s": 0.0, "max_rss_mb": 0.0, "max_bytes": 0, "max_msg": 0}

_KEYS = [
    "name",
    "description",
    "duration_days",
    "duration_weeks",
    "seed",
    "population",
    "control",
    "trial",
    "record_every",
    "arms",
    "endpoints",
    "dt",
    "citation",
    "allow_large",
    "disease",
    "n_candidates",
    "n_candidate",
    "replicates",
    "n_per_arm",
    "interventions",
    "adherence",
    "input",
    "shift",
    "set",
    "start",
    "stop",
    "ramp_days",
    "output",
    "day",
    "mean",
    "sd",
    "usual",
    "fiber",
    "<<",
    "junk",
]
_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-(10**6), 10**6)
    | st.integers()
    | st.floats()
    | st.sampled_from(
        [
            "fiber",
            "stress",
            "pss10",
            "R",
            "il6",
            "healthy",
            "ra",
            "usual",
            "1e3",
            "nan",
            "inf",
            "-1e400",
            "0x10",
            "2024-01-01",
            "yes",
            "~",
            "",
            " ",
            "\t",
            "é",
            "\x00",
        ]
    )
    | st.text(max_size=12)
)
_VALUES = st.recursive(
    _SCALARS,
    lambda c: st.lists(c, max_size=4) | st.dictionaries(st.sampled_from(_KEYS) | st.text(max_size=6), c, max_size=4),
    max_leaves=12,
)
_TOKENS = [
    "&a ",
    "*a",
    "&b [1, *a]",
    "<<: *a\n",
    "{",
    "}",
    "[",
    "]",
    ": ",
    "- ",
    "\n",
    "  ",
    "\t",
    "#",
    "'",
    '"',
    "!!python/object:os.system ",
    "!!binary ",
    "!!set ",
    "!!omap ",
    "!!float ",
    "%YAML 1.1\n",
    "---\n",
    "...\n",
    "? ",
    "|\n",
    ">-\n",
    "\\",
    "\x00",
    "\ufeff",
    "\u2028",
    "1e300",
    "-1000",
    "true",
    "null",
    ".nan",
    "usual",
    "fiber",
    "n_candidates",
    "duration_days: 3650\n",
    "n_candidates: 2000000",
    "shift: ",
    "set: ",
]


def _edit(doc: dict, path: list, value) -> dict:
    node = doc
    for key in path[:-1]:
        nxt = node.get(key) if isinstance(node, dict) else None
        if not isinstance(nxt, (dict, list)) or (isinstance(nxt, list) and not nxt):
            nxt = {}
            node[key] = nxt
        node = nxt if isinstance(nxt, dict) else nxt[0] if isinstance(nxt[0], dict) else {}
    if isinstance(node, dict):
        node[path[-1]] = value
    return doc


_PATHS = st.lists(st.sampled_from(_KEYS), min_size=1, max_size=4)
INPUTS = [
    "fiber",
    "fermented",
    "probiotic",
    "upf",
    "sugar",
    "satfat",
    "stress",
    "mindbody",
    "ra",
    "sle",
    "dmard",
    "propionate",
    "ms",
    "pss10",
    "coffee",
]


@st.composite
def scenario_inputs(draw):
    """(bytes of a scenario file, how it was made): edits of b.yaml, token mutations of its text, YAML bombs
    (aliases, nesting, long flat lists, many keys, long strings) and random bytes, all under 10 MB."""
    kind = draw(st.sampled_from(["plausible", "plausible", "edit", "edit", "mutate", "mutate", "bomb", "bytes"]))
    if kind == "plausible":  # near-valid scenarios: every field in or near its domain
        small = (
            st.integers(0, 20)
            | st.integers(0, 20)
            | st.integers(-5, 120)
            | st.floats(-500, 500, allow_nan=False)
            | st.sampled_from([0, 1, 3650, 1e300, True])
        )
        arms = {}
        for a in draw(
            st.lists(
                st.sampled_from(["usual", "fiber", "ff", "a\nb", "no", "x" * 50]), min_size=1, max_size=4, unique=True
            )
        ):
            ivs = [
                {
                    "input": draw(st.sampled_from(INPUTS)),
                    draw(st.sampled_from(["shift", "set"])): draw(small),
                    **draw(
                        st.fixed_dictionaries(
                            {},
                            optional={
                                "start": st.integers(0, 9) | small,
                                "stop": st.integers(10, 20) | small,
                                "ramp_days": st.integers(0, 9) | small,
                            },
                        )
                    ),
                }
                for _ in range(draw(st.integers(0, 2)))
            ]
            arms[a] = {
                "interventions": ivs,
                **draw(
                    st.fixed_dictionaries(
                        {},
                        optional={
                            "adherence": st.floats(-0.5, 1.5)
                            | st.fixed_dictionaries({"mean": st.floats(0, 1), "sd": st.floats(0, 1)})
                        },
                    )
                ),
            }
        doc = {
            "name": "p",
            "duration_days": draw(st.integers(20, 120) | st.integers(20, 120) | small),
            "arms": arms,
            "population": {
                "disease": draw(st.sampled_from(["healthy", "ra", "sle", "ms", "RA", "x"])),
                "n_candidates": draw(st.integers(50, 3000) | small),
                "seed": draw(st.integers(0, 2**70)),
            },
            "trial": {"n_per_arm": draw(st.none() | st.integers(2, 50)), "replicates": draw(st.integers(1, 500))},
            "control": draw(st.sampled_from([*arms, None, "usual"])),
            "endpoints": draw(
                st.lists(
                    st.sampled_from(["R", "il6", "CRP", "butyrate", "das28", "zonulin"])
                    | st.fixed_dictionaries({"output": st.sampled_from(["R", "lm"]), "day": small}),
                    max_size=4,
                )
            ),
            **draw(
                st.fixed_dictionaries(
                    {},
                    optional={
                        "record_every": small,
                        "dt": st.floats(0, 2),
                        "seed": small,
                        "allow_large": st.booleans(),
                    },
                )
            ),
        }
        return yaml.safe_dump(doc, sort_keys=False).encode(), kind
    if kind == "edit":
        doc = yaml.safe_load(B_YAML)
        for _ in range(draw(st.integers(1, 4))):
            doc = _edit(doc, draw(_PATHS), draw(_VALUES))
        try:
            text = yaml.safe_dump(doc, sort_keys=draw(st.booleans()), default_flow_style=draw(st.booleans()))
        except yaml.YAMLError:
            text = B_YAML
        return text.encode("utf-8", "surrogatepass"), kind
    if kind == "mutate":
        text = B_YAML
        for _ in range(draw(st.integers(1, 8))):
            pos = draw(st.integers(0, len(text)))
            cut = draw(st.integers(0, 6))
            text = text[:pos] + draw(st.sampled_from(_TOKENS) | st.text(max_size=4)) + text[pos + cut :]
        return text.encode("utf-8", "surrogatepass"), kind
    if kind == "bytes":
        return draw(st.binary(max_size=2000)), kind
    bomb = draw(st.sampled_from(["laughs", "deep", "flat", "keys", "string", "arms"]))
    size = draw(st.integers(1, 9))
    where = draw(st.sampled_from(["description", "population", "arm", "endpoints", "name", "top"]))
    if bomb == "laughs":
        payload = _laughs(size)
    elif bomb == "deep":
        n = draw(st.sampled_from([10, 100, 999, 1001, 5000, 100_000]))
        payload = "[" * n + "]" * n
    elif bomb == "flat":
        payload = "[" + "1," * (10 ** min(size, 6) * draw(st.integers(1, 3))) + "1]"
    elif bomb == "keys":
        payload = "{" + ", ".join(f"k{i}: {i}" for i in range(10 ** min(size, 5))) + "}"
    elif bomb == "string":
        payload = '"' + "x" * min(10**size, 9_000_000) + '"'
    else:
        payload = None
    if bomb == "arms":
        n = 10 ** min(size, 5)
        text = _sed("arms: {usual: {}, ", "arms: {usual: {}, " + "".join(f"a{i}: {{}}, " for i in range(n)))
    elif where == "description":
        text = B_YAML.replace("name: t\n", f"name: t\ndescription: {payload}\n")
    elif where == "population":
        text = _sed("seed: 5}", f"seed: 5, junk: {payload}}}")
    elif where == "arm":
        text = _sed("usual: {}", f"usual: {{description: {payload}}}")
    elif where == "endpoints":
        text = _sed("endpoints: [R, butyrate, il6, CRP]", f"endpoints: {payload}")
    elif where == "name":
        text = _sed("name: t", f"name: {payload}")
    else:
        text = f"junk: {payload}\n" + B_YAML
    return text.encode(), f"bomb-{bomb}-{where}"


def _rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@pytest.fixture(scope="module")
def fuzzdir(tmp_path_factory):
    return tmp_path_factory.mktemp("scenario_fuzz")


@FUZZ
@given(case=scenario_inputs(), as_text=st.booleans())
def test_fuzz_scenario_loader(fuzzdir, case, as_text):
    """Whatever the bytes: load_scenario ends within 10 s, holds under 500 MB more than before, and raises
    nothing but a short InputError; a scenario it accepts can be hashed, recorded and estimated."""
    data, kind = case
    assert len(data) < 10 * 2**20
    path = fuzzdir / "s.yaml"
    path.write_bytes(data)
    source = path
    if as_text:
        try:
            source = data.decode("utf-8")
        except UnicodeDecodeError:
            source = path
    rss0, peak0 = _rss_mb(), _peak_mb()
    t0 = time.perf_counter()
    try:
        sc = load_scenario(source)
    except InputError as exc:
        msg = str(exc)
        assert len(msg) < SHORT and "\n" not in msg, (kind, msg[:2000])
        _STATS["input_error"] += 1
        _STATS["max_msg"] = max(_STATS["max_msg"], len(msg))
    else:
        json.dumps(sc.effective_source(), sort_keys=True, default=str)
        est = sc.work_estimate()
        assert est["patient_days"] > 0
        sc.schedule()
        _STATS["accepted"] += 1
        _STATS.setdefault("accepted_by_kind", {}).setdefault(kind, 0)
        _STATS["accepted_by_kind"][kind] += 1
    elapsed = time.perf_counter() - t0
    peak = _peak_mb()
    grew = peak - rss0 if peak > peak0 else 0.0
    _STATS["n"] += 1
    _STATS["max_s"] = max(_STATS["max_s"], elapsed)
    _STATS["max_rss_mb"] = max(_STATS["max_rss_mb"], grew)
    _STATS["max_bytes"] = max(_STATS["max_bytes"], len(data))
    assert elapsed < FUZZ_LIMIT_S, (kind, elapsed)
    assert grew < FUZZ_LIMIT_MB, (kind, grew)


def test_fuzz_figures():
    """Prints the figures of the property run (with ``-s``); runs after it in file order."""
    if _STATS["n"]:
        print(f"\nscenario loader fuzz: {_STATS}")
