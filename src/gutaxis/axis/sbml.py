"""SBML export of the day-scale model for one patient (python-libsbml; the optional ``[sbml]`` extra).

The SBML is *generated from the equations themselves*: :func:`gutaxis.axis.equations.derived`,
:func:`~gutaxis.axis.equations.day_terms`, :func:`~gutaxis.axis.equations.rhs_core` and
:func:`~gutaxis.axis.equations.fast_core` are run on symbolic placeholders that record each
expression, so the exported model cannot drift from the simulator. Layout (SBML Level 3 Version 2):

* every model parameter ``p_<name>`` (constant), each input ``u_<name>`` (changed by events at
  day boundaries where the schedule changes), derived constants ``c_<k>`` (initial assignments)
  and daily input terms ``d_<k>`` (assignment rules);
* the slow states ``x_<name>`` with rate rules (time unit: day);
* intermediate terms ``t_<k>`` (assignment rules that keep each formula short);
* the quasi-steady-state read-outs ``f_<name>`` (butyrate, CRH, L/M, LPS, IL-10, IL-6, TNF, ...)
  as assignment rules.

libroadrunner simulates the file to the trajectories of ``simulate(..., method="scipy")`` within
1e-4 relative (``tests/test_axis_sbml.py``).
"""

from __future__ import annotations

import numpy as np

from ..errors import InputError
from . import equations as eq
from .inputs import Schedule

__all__ = ["to_sbml", "write_sbml"]


_REG: list | None = None  # named intermediates (t_k) while tracing, so that formulas stay small
_MAX: list = [None]  # formula length above which an intermediate is named (None: inline everything)


def _named(s: str) -> _Sym:
    if _REG is not None and _MAX[0] is not None and len(s) > _MAX[0]:
        name = f"t_{len(_REG)}"
        _REG.append((name, s))
        return _Sym(name)
    return _Sym(s)


class _Sym:
    """A symbolic scalar that records an infix formula (SBML L3 syntax)."""

    __slots__ = ("s",)
    __array_priority__ = 1000

    def __init__(self, s):
        self.s = s

    @staticmethod
    def _w(x):
        if isinstance(x, _Sym):
            return x.s
        v = float(x)
        return f"({v!r})" if v < 0 else repr(v)

    def _bin(self, o, op, rev=False):
        a, b = (self._w(o), self.s) if rev else (self.s, self._w(o))
        return _named(f"({a} {op} {b})")

    def __add__(self, o):
        return self._bin(o, "+")

    def __radd__(self, o):
        return self._bin(o, "+", True)

    def __sub__(self, o):
        return self._bin(o, "-")

    def __rsub__(self, o):
        return self._bin(o, "-", True)

    def __mul__(self, o):
        return self._bin(o, "*")

    def __rmul__(self, o):
        return self._bin(o, "*", True)

    def __truediv__(self, o):
        return self._bin(o, "/")

    def __rtruediv__(self, o):
        return self._bin(o, "/", True)

    def __pow__(self, o):
        return self._bin(o, "^")

    def __rpow__(self, o):
        return self._bin(o, "^", True)

    def __neg__(self):
        return _named(f"(-{self.s})")

    def __abs__(self):
        return _named(f"abs({self.s})")


class _Abs:
    """Stands in for numpy inside the traced functions (``np.abs`` is the only call they make)."""

    @staticmethod
    def abs(x):
        return abs(x) if isinstance(x, _Sym) else np.abs(x)


def _trace():
    """Formulas of c, d, dy and the fast quantities in terms of p_, u_, c_, d_, x_ symbols, and the
    named intermediates ``t_k`` they use."""
    global _REG
    _REG = []
    try:
        return (*_trace_inner(), list(_REG))
    finally:
        _REG = None


def _trace_inner():
    import types

    ns = dict(vars(eq))
    ns["np"] = _Abs
    fns = {}
    for name in ("_pos", "_floor", "derived", "day_terms", "fast_core", "rhs_core"):
        f = getattr(eq, name)
        fns[name] = types.FunctionType(f.__code__, ns, name)
        ns[name] = fns[name]
    P = [_Sym(f"p_{n}") for n in eq.PARAM_NAMES]
    U = [_Sym(f"u_{n}") for n in eq.INPUT_NAMES]
    Y = [_Sym(f"x_{n}") for n in eq.STATE_NAMES]
    c = [None] * eq.N_DERIVED
    fns["derived"](P, c)
    cs = [_Sym(f"c_{k}") for k in range(eq.N_DERIVED)]
    d = [None] * eq.N_DAY
    fns["day_terms"](P, cs, U, d)
    ds = [_Sym(f"d_{k}") for k in range(eq.N_DAY)]
    dy = [None] * eq.N_STATES
    fns["rhs_core"](Y, P, cs, ds, dy)
    fq = fns["fast_core"](Y, P, cs, ds)
    return c, d, dy, fq


def _inputs_by_day(base, schedule: Schedule, group: int, adherence: float) -> np.ndarray:
    tgt = base[None] * schedule.mult[:, :, group] + schedule.add[:, :, group]
    return base[None] + adherence * (tgt - base[None])


def to_sbml(
    params,
    y0,
    base_inputs,
    schedule: Schedule | None = None,
    *,
    group: int = 0,
    adherence: float = 1.0,
    model_id: str = "gutaxis_axis",
    max_formula: int | None = None,
) -> str:
    """SBML (L3V2) text of one patient: parameters ``(N_PARAMS,)``, initial states ``(N_STATES,)``,
    usual inputs ``(N_INPUTS,)`` and an optional schedule (events at the days where inputs change).

    ``max_formula``: name every intermediate formula longer than this many characters (``t_k``
    assignment rules; ~150 kB for 120, easier to read in COPASI). The default ``None`` inlines
    them (~4 MB): libroadrunner inlines assignment rules anyway and compiles the inlined file
    fastest (~15 s vs ~60 s).
    """
    try:
        import libsbml
    except ImportError as exc:  # pragma: no cover
        raise InputError("SBML export needs python-libsbml", hint="pip install python-libsbml (gutaxis[sbml])") from exc
    p = np.asarray(params, float).reshape(-1)
    y = np.asarray(y0, float).reshape(-1)
    u0 = np.asarray(base_inputs, float).reshape(-1)
    if p.size != eq.N_PARAMS or y.size != eq.N_STATES or u0.size != eq.N_INPUTS:
        raise InputError("to_sbml takes one patient: params (N_PARAMS,), y0 (N_STATES,), inputs (N_INPUTS,)")
    days = None if schedule is None else _inputs_by_day(u0, schedule, group, adherence)
    _MAX[0] = max_formula
    c, d, dy, fq, temps = _trace()

    doc = libsbml.SBMLDocument(3, 2)
    m = doc.createModel()
    m.setId(model_id)
    m.setName("gutaxis gut-immune axis model (day scale), one patient")
    m.setTimeUnits("dimensionless")
    notes = (
        "<body xmlns='http://www.w3.org/1999/xhtml'><p>Generated by gutaxis from gutaxis.axis.equations. "
        "Time in days. Context of use: hypothesis generation and teaching, not clinical decisions.</p></body>"
    )
    m.setNotes(notes)

    def param(pid, value, constant):
        q = m.createParameter()
        q.setId(pid)
        q.setValue(float(value))
        q.setConstant(constant)
        return q

    def math(formula):
        ast = libsbml.parseL3Formula(formula)
        if ast is None:  # pragma: no cover
            raise RuntimeError(f"libsbml could not parse {formula[:200]}: {libsbml.getLastParseL3Error()}")
        return ast

    for n, v in zip(eq.PARAM_NAMES, p, strict=True):
        param(f"p_{n}", v, True)
    changes = [] if days is None else [k for k in range(1, days.shape[0]) if np.any(days[k] != days[k - 1])]
    first = u0 if days is None else days[0]
    for i, n in enumerate(eq.INPUT_NAMES):
        param(f"u_{n}", first[i], not changes)
    for name, formula in temps:
        param(name, 0.0, False)
        r = m.createAssignmentRule()
        r.setVariable(name)
        r.setMath(math(formula))
    for k, expr in enumerate(c):  # constants of the patient: initial assignments
        param(f"c_{k}", 0.0, True)
        r = m.createInitialAssignment()
        r.setSymbol(f"c_{k}")
        r.setMath(math(expr.s))
    for k, expr in enumerate(d):
        param(f"d_{k}", 0.0, False)
        r = m.createAssignmentRule()
        r.setVariable(f"d_{k}")
        r.setMath(math(expr.s))
    for n, v, expr in zip(eq.STATE_NAMES, y, dy, strict=True):
        param(f"x_{n}", v, False)
        r = m.createRateRule()
        r.setVariable(f"x_{n}")
        r.setMath(math(expr.s))
    for n, expr in zip(eq.FAST_NAMES, fq, strict=True):
        param(f"f_{n}", 0.0, False)
        r = m.createAssignmentRule()
        r.setVariable(f"f_{n}")
        r.setMath(math(expr.s if isinstance(expr, _Sym) else repr(float(expr))))
    if days is not None:  # no schedule, no changes
        for k in changes:
            ev = m.createEvent()
            ev.setId(f"day_{k}")
            ev.setUseValuesFromTriggerTime(True)
            tr = ev.createTrigger()
            tr.setInitialValue(False)
            tr.setPersistent(True)
            tr.setMath(math(f"time >= {float(k)!r}"))
            for i, n in enumerate(eq.INPUT_NAMES):
                if days[k, i] != days[k - 1, i]:
                    a = ev.createEventAssignment()
                    a.setVariable(f"u_{n}")
                    a.setMath(math(repr(float(days[k, i]))))
    errors = doc.checkInternalConsistency()
    if errors:  # pragma: no cover
        raise RuntimeError(doc.getErrorLog().toString())
    return libsbml.writeSBMLToString(doc)


def write_sbml(path, params, y0, base_inputs, schedule: Schedule | None = None, **kw) -> None:
    """Write :func:`to_sbml` to ``path``."""
    from pathlib import Path

    Path(path).write_text(to_sbml(params, y0, base_inputs, schedule, **kw), encoding="utf-8")
