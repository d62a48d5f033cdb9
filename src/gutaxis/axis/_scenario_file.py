"""Reading and validating a scenario: :func:`load_scenario` and its checks.

A scenario comes from a file, YAML text or a mapping, all of it untrusted: the file is checked (exists,
a regular file, at most :data:`MAX_SCENARIO_BYTES`, UTF-8), the YAML is read by the one safe loader
(no aliases, no duplicate keys, bounded nesting), every mapping has a fixed set of keys, numbers are
YAML numbers, and every intervention's resulting input level must be physically possible
(:func:`_check_level`, which a run calls again on its own patients). Each refusal is an
:class:`~gutaxis.errors.InputError` naming the file, the place in it and what to do.

Kept apart from the data model it builds (``gutaxis.axis._scenario_model``) and from running a scenario
(:mod:`gutaxis.axis.scenario`, which re-exports :func:`load_scenario`, :data:`MAX_SCENARIO_BYTES` and
:func:`example_scenario_path` and is the public place to import them from): validation is most of a
scenario's code, and it changes for reasons of its own.
"""

from __future__ import annotations

import hashlib
import os
from importlib import resources
from pathlib import Path

import numpy as np

from .._yaml import load_yaml
from ..errors import InputError
from . import equations as eq
from ._scenario_model import Arm, Intervention, Scenario
from .engine import OUTPUT_NAMES
from .inputs import INPUT_RANGES, input_range_text, usual_input_bounds

_TOP_KEYS = {
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
}
_POPULATION_KEYS = {"disease", "n_candidates", "seed"}
_TRIAL_KEYS = {"n_per_arm", "replicates"}
_ARM_KEYS = {"interventions", "adherence", "description"}
_INTERVENTION_KEYS = {"input", "shift", "set", "start", "stop", "ramp_days"}
_DEFAULT_ENDPOINTS = ("R", "butyrate", "lm", "il6", "CRP")

#: largest scenario file (or text) read, in bytes (environment variable ``GUTAXIS_MAX_SCENARIO_BYTES``
#: overrides it): a scenario is a few kB, and a YAML document costs ~200 bytes of memory and ~10 us per
#: node to parse (a 1 MB flat list took 5.7 s and 190 MB), so 256 kB keeps any file under ~2 s and ~60 MB
MAX_SCENARIO_BYTES = 256 * 1024


def example_scenario_path() -> Path:
    """Path of the shipped example: the Wastyk 2021 fermented-food vs high-fiber design."""
    return Path(str(resources.files("gutaxis.data").joinpath("axis_scenario_wastyk.yaml")))


def _err(msg: str, where: str, hint: str | None = None) -> InputError:
    return InputError(msg, source=where, hint=hint)


def _short(v, n: int = 60) -> str:
    """``repr`` of a value cut to ``n`` characters: a value quoted in an error line keeps the line short."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (list, dict, tuple, set)):
        return f"a {'list' if isinstance(v, (list, tuple)) else 'mapping' if isinstance(v, dict) else 'set'}"
    text = repr(v)
    return text if len(text) <= n else text[: n - 3] + "..."


def _names(items, n: int = 12) -> str:
    """``a, b, c`` of at most ``n`` names (each cut short), ``... (N in all)`` beyond."""
    items = [x if isinstance(x, str) and x.isprintable() and len(x) <= 40 else _short(x, 40) for x in items]
    return ", ".join(items[:n]) + (f", ... ({len(items)} in all)" if len(items) > n else "")


def _check_keys(mapping: dict, allowed, where: str) -> None:
    """Refuse keys of ``mapping`` that are not ``allowed``, suggesting the nearest allowed key."""
    import difflib

    bad = [k for k in mapping if k not in allowed]
    if not bad:
        return
    allowed = sorted(allowed)
    first = bad[0]
    close = difflib.get_close_matches(first, allowed, n=1, cutoff=0.6) if isinstance(first, str) else []
    what = f"unknown key {_short(first)}" if len(bad) == 1 else f"unknown keys {_names(bad, 5)}"
    hint = (f"did you mean {close[0]!r}? " if close else "") + f"keys here are {', '.join(allowed)}"
    raise _err(what, where, hint=hint)


def _num(v, key: str, where: str, lo=None, hi=None, integer=False):
    """A number of the scenario: a YAML int or float (or a numeric string such as ``1e3``, which YAML 1.1
    reads as text), finite, within ``lo``-``hi``; never a boolean (``true`` is not 1 day)."""
    if isinstance(v, (bool, np.bool_)):
        raise _err(f"{key} must be a number, got {_short(bool(v))} (true or false is not a number)", where)
    if isinstance(v, (int, np.integer)):
        exact = int(v)
        x = float(exact) if abs(exact) < 2**1023 else float("inf") * (1 if exact > 0 else -1)
    else:
        exact = None
        try:
            x = float(v)
        except (TypeError, ValueError, OverflowError):
            raise _err(f"{key} must be a number, got {_short(v)}", where) from None
    shown = _short(v)
    if not np.isfinite(x):
        raise _err(f"{key} = {shown} is not a finite number", where)
    value = exact if exact is not None else x
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        if lo is not None and hi is not None:
            raise _err(f"{key} = {shown} is outside {lo}-{hi}", where)
        raise _err(f"{key} = {shown} is {'below' if lo is not None else 'above'} {lo if lo is not None else hi}", where)
    if integer:
        if exact is not None:
            return exact
        if x != int(x):
            raise _err(f"{key} must be a whole number, got {shown}", where)
        return int(x)
    return x


def _text(v, key: str, where: str, default: str = "") -> str:
    """A text setting (name, description, citation): YAML text or a plain scalar, never a list or mapping."""
    if v is None:
        return default
    if isinstance(v, (list, tuple, dict, set, bytes)):
        raise _err(f"{key} must be text, got {_short(v)}", where, hint="quote it, or write it on one line")
    return str(v)


def _mapping(v, key: str, where: str, what: str) -> dict:
    """An optional sub-mapping (``population``, ``trial``): missing or empty -> {}, else a mapping."""
    if v is None:
        return {}
    if not isinstance(v, dict):
        raise _err(f"{key} must be a mapping {what}, got {_short(v)}", where)
    return v


# --------------------------------------------------------------------------- reading the YAML safely
#: a scenario's YAML refusals in its own words (gutaxis._yaml: aliases, nesting, duplicate keys, size)
_YAML_MESSAGES = {
    "size": "the scenario is larger than {limit} bytes ({size} bytes)",
    "alias": "YAML aliases (*name, which repeat an &anchor) are not allowed in a scenario (line {line})",
    "depth": "the YAML nests more than {limit} levels deep (line {line}); a scenario needs a few",
    "duplicate": "duplicate key {key} (line {line})",
    "key": "a key is a list or mapping (line {line})",
    "syntax": "not valid YAML: {detail}",
    "value": "not valid YAML: {error}: {detail}",
}
_YAML_HINTS = {
    "size": "a scenario is a few kB of YAML; raise GUTAXIS_MAX_SCENARIO_BYTES if this one really is that large",
    "alias": "write each value out where it is used",
    "duplicate": "each key appears once per mapping; give each arm its own name",
    "key": "keys are plain names",
    "value": "a scenario needs no !!tags; write plain values",
}


def _parse_yaml(text: str, where: str):
    """The scenario's YAML, read by the one safe loader (:func:`gutaxis._yaml.load_yaml`): no aliases, no
    duplicate keys, bounded nesting and at most :func:`_max_scenario_bytes`."""
    return load_yaml(text, source=where, max_bytes=_max_scenario_bytes(), messages=_YAML_MESSAGES, hints=_YAML_HINTS)


def _max_scenario_bytes() -> int:
    """:data:`MAX_SCENARIO_BYTES`, or the environment variable ``GUTAXIS_MAX_SCENARIO_BYTES``."""
    env = os.environ.get("GUTAXIS_MAX_SCENARIO_BYTES")
    try:
        return int(env) if env else MAX_SCENARIO_BYTES
    except ValueError:
        return MAX_SCENARIO_BYTES


def _too_large(size: int, where: str) -> InputError:
    return _err(_YAML_MESSAGES["size"].format(limit=_max_scenario_bytes(), size=size), where, hint=_YAML_HINTS["size"])


def _looks_like_text(s: str) -> bool:
    """A string given to :func:`load_scenario` is YAML text when it spans lines or is a one-line mapping
    (``{...}`` or ``key: value``); anything else (``run``, ``b.txt``) names a file."""
    s = s.strip()
    return "\n" in s or s.startswith("{") or (": " in s and Path(s).suffix.lower() not in (".yaml", ".yml", ".json"))


def _read_file(p: Path) -> tuple[str, str, str]:
    """``(text, where, sha256)`` of a scenario file, or an InputError saying why it cannot be read."""
    where = str(p)
    hint = "give the path of a YAML scenario file, or 'example' for the shipped one"
    try:
        st = p.stat()
    except FileNotFoundError:
        raise InputError(f"no such scenario file {_short(str(p), 200)} (it does not exist)", hint=hint) from None
    except (OSError, ValueError) as exc:
        raise InputError(
            f"cannot use {_short(str(p), 200)} as a scenario file: {exc.__class__.__name__}", hint=hint
        ) from None
    import stat as _stat

    if _stat.S_ISDIR(st.st_mode):
        raise _err("is a folder, not a scenario file", where, hint=hint)
    if not _stat.S_ISREG(st.st_mode):
        raise _err("is not a regular file (a device, pipe or socket)", where, hint=hint)
    limit = _max_scenario_bytes()
    if st.st_size > limit:
        raise _too_large(st.st_size, where)
    try:
        with open(p, "rb") as fh:
            data = fh.read(limit + 1)
    except PermissionError:
        raise _err("cannot be read (permission denied)", where, hint="check the file's permissions") from None
    except OSError as exc:
        raise _err(f"cannot be read ({exc.strerror or exc.__class__.__name__})", where) from None
    if len(data) > limit:
        raise _too_large(len(data), where)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise _err("not UTF-8 text", where, hint="save the scenario as UTF-8 YAML") from None
    return text, where, hashlib.sha256(data).hexdigest()


def load_scenario(source) -> Scenario:
    """Read and validate a scenario from a YAML file (a path: ``pathlib.Path`` or a one-line string), YAML
    text (a string of several lines, or a one-line mapping) or a dict.

    A file must exist, be a regular file of at most :data:`MAX_SCENARIO_BYTES` and hold UTF-8 YAML without
    aliases or duplicate keys; every mapping of it has a fixed set of keys (a near miss is named with a
    suggestion); numbers are YAML numbers (not ``true``); every intervention's resulting input level must be
    physically possible (:func:`_check_level`). Everything else is an :class:`~gutaxis.errors.InputError`.
    """
    where = "scenario"
    path = file_sha256 = None
    if isinstance(source, dict):
        raw = source
    elif isinstance(source, (str, os.PathLike)):
        if isinstance(source, str) and _looks_like_text(source):
            text = source  # its size is checked by _parse_yaml
        else:
            p = Path(source)
            text, where, file_sha256 = _read_file(p)
            path = where
        raw = _parse_yaml(text, where)
    else:
        raise _err(
            f"cannot read a scenario from {type(source).__name__}", where, hint="give a path, YAML text or a mapping"
        )
    if not isinstance(raw, dict):
        raise _err("a scenario is a YAML mapping (name, duration_days, arms, endpoints, ...)", where)
    _check_keys(raw, _TOP_KEYS, where)
    if "duration_days" in raw:
        days = _num(raw["duration_days"], "duration_days", where, 1, 3650, True)
    elif "duration_weeks" in raw:
        days = 7 * _num(raw["duration_weeks"], "duration_weeks", where, 1, 520, True)
    else:
        raise _err("duration_days (or duration_weeks) is missing", where)
    pop = _mapping(raw.get("population"), "population", where, "{disease, n_candidates, seed}")
    _check_keys(pop, _POPULATION_KEYS, f"{where}: population")
    disease = str(pop.get("disease", "healthy")).lower()
    if disease not in ("healthy", "ra", "sle", "ms"):
        raise _err(f"unknown disease {_short(disease)}", f"{where}: population", hint="use healthy, ra, sle or ms")
    usual = usual_input_bounds(disease)
    arms_raw = raw.get("arms")
    if not isinstance(arms_raw, dict) or not arms_raw:
        raise _err("arms must be a mapping of arm name -> {interventions, adherence}", where)
    arms = {}
    for name, spec in arms_raw.items():
        if not isinstance(name, str):
            raise _err(
                f"arm names must be text; {_short(name)} is read as a {type(name).__name__}",
                f"{where}: arms",
                hint="write the name in quotes, e.g. 'no' or '1'",
            )
        w = f"{where}: arms.{_names([name])}"
        spec = {} if spec is None else spec
        if not isinstance(spec, dict):
            raise _err("an arm is a mapping with interventions and adherence", w)
        _check_keys(spec, _ARM_KEYS, w)
        _text(spec.get("description"), "description", w)
        ivs_raw = spec.get("interventions")
        ivs_raw = [] if ivs_raw is None else ivs_raw
        if not isinstance(ivs_raw, list):
            raise _err("interventions must be a list of {input, shift or set, start, stop, ramp_days}", w)
        ivs = []
        for k, iv in enumerate(ivs_raw):
            wi = f"{w}.interventions[{k}]"
            if not isinstance(iv, dict) or "input" not in iv:
                raise _err("an intervention needs input and shift or set", wi)
            _check_keys(iv, _INTERVENTION_KEYS, wi)
            inp = iv["input"]
            inp = inp if isinstance(inp, str) else _short(inp)
            modes = [m for m in ("shift", "set") if m in iv]
            if len(modes) != 1:
                raise _err("give exactly one of shift or set", wi)
            mode = modes[0]
            val = _num(iv[mode], mode, wi)
            if inp == "pss10":
                if mode != "set":
                    raise _err("pss10 can only be set", wi)
                inp, val = "stress", _num(val, "pss10", wi, 0, 40) / 40.0
            if inp not in eq.INPUT_NAMES:
                raise _err(f"unknown input {_short(inp)}", wi, hint=f"inputs are {', '.join(eq.INPUT_NAMES)} and pss10")
            start = _num(iv.get("start", 0), "start", wi, 0, days - 1, True)
            stop = _num(iv.get("stop", days), "stop", wi, start + 1, days, True)
            ramp = _num(iv.get("ramp_days", 0), "ramp_days", wi, 0, days, True)
            iv_ = Intervention(inp, mode, val, start, stop, ramp)
            _check_level(iv_, usual[0][inp], usual[1][inp], wi)
            ivs.append(iv_)
        adh = spec.get("adherence", 1.0)
        if isinstance(adh, dict):
            _check_keys(adh, {"mean", "sd"}, f"{w}.adherence")
            am = _num(adh.get("mean", 1.0), "adherence.mean", w, 0, 1)
            asd = _num(adh.get("sd", 0.0), "adherence.sd", w, 0, 1)
        else:
            am, asd = _num(adh, "adherence", w, 0, 1), 0.0
        arms[name] = Arm(name, ivs, am, asd)
    if "endpoints" in raw:
        eps = raw["endpoints"]
        if not isinstance(eps, list):
            raise _err(
                f"endpoints must be a list of outputs, got {_short(eps)}",
                where,
                hint="e.g. endpoints: [R, il6, {output: CRP, day: 14}]",
            )
        if not eps:
            raise _err(
                "endpoints is empty",
                where,
                hint="name at least one output, or leave the key out for the defaults "
                f"({', '.join(_DEFAULT_ENDPOINTS)})",
            )
    else:
        eps = list(_DEFAULT_ENDPOINTS)
    endpoints = []
    for k, e in enumerate(eps):
        we = f"{where}: endpoints[{k}]"
        if isinstance(e, str):
            out, day = e, days
        elif isinstance(e, dict) and "output" in e:
            _check_keys(e, {"output", "day"}, we)
            out, day = e["output"], _num(e.get("day", days), "day", we, 1, days, True)
            out = out if isinstance(out, str) else _short(out)
        else:
            raise _err("an endpoint is an output name or {output, day}", we)
        if out not in OUTPUT_NAMES:
            raise _err(f"unknown output {_short(out)}", we, hint=f"outputs are {', '.join(OUTPUT_NAMES)}")
        endpoints.append((out, day))
    control = raw.get("control")
    if control is not None and str(control) not in arms:
        raise _err(f"control arm {_short(control)} is not one of the arms", where, hint=f"arms: {_names(arms)}")
    trial = _mapping(raw.get("trial"), "trial", where, "{n_per_arm, replicates}")
    _check_keys(trial, _TRIAL_KEYS, f"{where}: trial")
    allow_large = raw.get("allow_large", False)
    if not isinstance(allow_large, bool):
        raise _err(f"allow_large must be true or false, got {_short(allow_large)}", where)
    return Scenario(
        name=_text(raw.get("name"), "name", where, "scenario"),
        description=_text(raw.get("description"), "description", where),
        citation=_text(raw.get("citation"), "citation", where),
        days=days,
        arms=arms,
        endpoints=endpoints,
        disease=disease,
        n_candidates=_num(pop.get("n_candidates", 3000), "population.n_candidates", where, 50, 2_000_000, True),
        population_seed=_num(pop.get("seed", 20240), "population.seed", where, 0, None, True),
        seed=_num(raw.get("seed", 0), "seed", where, 0, None, True),
        control=None if control is None else str(control),
        n_per_arm=None
        if trial.get("n_per_arm") is None
        else _num(trial["n_per_arm"], "trial.n_per_arm", where, 2, None, True),
        replicates=_num(trial.get("replicates", 200), "trial.replicates", where, 1, 100_000, True),
        record_every=_num(raw.get("record_every", 7), "record_every", where, 1, days, True),
        dt=_num(raw.get("dt", 0.5), "dt", where, 0.01, 1.0),
        allow_large=allow_large,
        source=raw,
        path=path,
        file_sha256=file_sha256,
    )


def _signed(x: float) -> str:
    return "0" if x == 0 else f"{x:+g}"


def _check_level(
    iv: Intervention, usual_lo: float, usual_hi: float, where: str, n_out: int | None = None, n: int | None = None
) -> None:
    """Refuse an intervention whose resulting level can leave the input's physically possible range
    (:data:`~gutaxis.axis.inputs.INPUT_RANGES`). ``set``: the level itself. ``shift``: each patient moves
    from their usual level towards usual + shift (adherence and ramps stop in between), so the usual levels
    ``usual_lo``-``usual_hi`` plus the shift must stay within the range. When loading, the usual levels are
    those a virtual population can have (:func:`~gutaxis.axis.inputs.usual_input_bounds`, whatever the
    seed); in a run, those of its own patients, ``n_out`` of the ``n`` of which leave the range."""
    lo, hi, _ = INPUT_RANGES[iv.input]
    allowed = input_range_text(iv.input)
    unit = allowed.split(" ", 1)[1]
    if iv.mode == "set":
        if not lo <= iv.value <= hi:
            raise _err(
                f"{iv.input} set to {iv.value:g} is outside its possible range {allowed}",
                where,
                hint=f"set it within {allowed}" + (" (or pss10: 0-40)" if iv.input == "stress" else ""),
            )
        return
    if (n_out == 0) or (n_out is None and lo <= usual_lo + iv.value and usual_hi + iv.value <= hi):
        return
    a, b = lo - usual_lo, hi - usual_hi
    unit = "" if unit.startswith("(") else f" {unit}"  # no unit after the levels of a 0-1 scale or a flag
    usual = f"{usual_lo:g}-{usual_hi:g}{unit}" if usual_lo != usual_hi else f"{usual_lo:g}{unit}"
    if n_out is None:
        what = (
            f"{iv.input} shift {_signed(iv.value)}{unit} can take virtual patients outside its possible range "
            f"{allowed} (usual {iv.input} in a virtual population: {usual})"
        )
    else:
        what = (
            f"{iv.input} shift {_signed(iv.value)}{unit} takes {n_out} of {n} virtual patients outside its "
            f"possible range {allowed} (their usual {iv.input}: {usual})"
        )
    if a < b:
        hint = (
            f"a shift of {iv.input} must lie within {_signed(a)} to {_signed(b)}{unit} here; "
            "or use set: for a fixed level"
        )
    else:
        hint = (
            f"usual levels already reach both ends of the range, so no shift is possible; use set: for a fixed "
            f"level within {allowed}"
        )
    raise _err(what, where, hint=hint)
