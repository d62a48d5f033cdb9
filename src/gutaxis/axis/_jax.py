"""Optional JAX engine: diffrax, ``jax.vmap`` over patients, float64 (``pip install "gutaxis[jax]"``).

The equations are not copied: :func:`~gutaxis.axis.equations.derived`,
:func:`~gutaxis.axis.equations.day_terms` and :func:`~gutaxis.axis.equations.rhs_core` call no
array-library function, so they are traced here as they are, on one patient's scalars, with Python
lists as the containers ``c``, ``d`` and ``dy``.

Per patient, a ``jax.lax.scan`` runs over days; each day the inputs are constant (as in the other
engines), its input terms are computed once and ``diffrax.diffeqsolve`` integrates from the start
to the end of the day with an adaptive solver (Tsit5 by default; Kvaerno5 for stiff cases), so no
step straddles a change of the inputs. The states at the recorded days are written into a
per-patient buffer. The whole run is one jitted, ``vmap``-ed computation (CPU or GPU, whichever
JAX finds). Float64 is switched on only inside the call (``jax.enable_x64``), not globally.
"""

from __future__ import annotations

import functools

import numpy as np

from ..errors import GutaxisError
from . import equations as eq

_HINT = 'method="jax" needs the optional JAX extra: pip install "gutaxis[jax]" (jax and diffrax)'


class _MissingJax(GutaxisError, ImportError):
    pass


def _import():
    try:
        import diffrax
        import jax
        import jax.numpy as jnp
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise _MissingJax(f"{_HINT}; import failed: {e}") from e
    return jax, jnp, diffrax


def _x64(jax):
    """A context with float64 on (``jax.enable_x64`` in recent JAX, ``jax.experimental`` before)."""
    if hasattr(jax, "enable_x64"):
        return jax.enable_x64(True)
    from jax.experimental import enable_x64  # pragma: no cover - older JAX

    return enable_x64()  # pragma: no cover


def available() -> bool:
    """Whether jax and diffrax can be imported."""
    try:
        _import()
    except GutaxisError:
        return False
    return True


def _vector_field(t, y, args):
    p, c, d = args
    import jax.numpy as jnp

    return jnp.stack(eq.rhs_core(y, p, c, d, [None] * eq.N_STATES))


@functools.cache
def _build(solver_name: str, n_slots: int, max_steps: int):
    """A jitted ``(y0, P, base, mult, add, group, adh, slot, rtol, atol) -> (n, n_slots, N_STATES)``."""
    jax, jnp, diffrax = _import()
    solver = {"tsit5": diffrax.Tsit5, "kvaerno5": diffrax.Kvaerno5, "dopri5": diffrax.Dopri5}[solver_name]()
    term = diffrax.ODETerm(_vector_field)
    saveat = diffrax.SaveAt(t1=True)

    def one(y0, p, base, mult_g, add_g, adh, slot, rtol, atol):
        # per patient: y0 (N_STATES,), p (N_PARAMS,), base (N_INPUTS,), mult_g/add_g (n_days, N_INPUTS)
        c = eq.derived(p, [None] * eq.N_DERIVED)
        ctrl = diffrax.PIDController(rtol=rtol, atol=atol)
        buf = jnp.zeros((n_slots + 1, eq.N_STATES), dtype=y0.dtype)  # last row: days not recorded
        buf = buf.at[slot[0]].set(y0)

        def day(carry, xs):
            y, buf = carry
            m, a, s = xs
            u = base + adh * (base * m + a - base)
            d = eq.day_terms(p, c, u, [None] * eq.N_DAY)
            sol = diffrax.diffeqsolve(
                term,
                solver,
                0.0,
                1.0,
                None,
                y,
                args=(p, c, d),
                saveat=saveat,
                stepsize_controller=ctrl,
                max_steps=max_steps,
            )
            y = sol.ys[-1]
            return (y, buf.at[s].set(y)), None

        (_, buf), _ = jax.lax.scan(day, (y0, buf), (mult_g, add_g, slot[1:]))
        return buf[:n_slots]

    batched = jax.vmap(one, in_axes=(0, 0, 0, 0, 0, 0, None, None, None))

    @jax.jit
    def run(y0, P, base, mult, add, group, adh, slot, rtol, atol):
        # mult/add (n_days, N_INPUTS, n_groups) -> each patient's (n_days, N_INPUTS)
        mg = jnp.moveaxis(mult, 2, 0)[group]
        ag = jnp.moveaxis(add, 2, 0)[group]
        return batched(y0, P, base, mg, ag, adh, slot, rtol, atol)

    return run


def integrate(y0, P, base, mult, add, group, adh, rec, rtol, atol, *, solver="tsit5", chunk=None, max_steps=16384):
    """States ``(rec.size, N_STATES, n)`` at the recorded days (same contract as the other engines).

    ``chunk`` patients per device call (default: all at once) bounds the device memory of very
    large runs.
    """
    jax, jnp, _ = _import()
    solver = solver.lower()
    if solver not in ("tsit5", "kvaerno5", "dopri5"):
        from ..errors import InputError

        raise InputError(f"unknown jax solver {solver!r}", hint="use 'tsit5', 'dopri5' or 'kvaerno5'")
    n_days = mult.shape[0]
    n = y0.shape[1]
    # slot[k] = row of the output buffer for the state at the end of day k (slot[0]: t = 0); rec.size = skip
    slot = np.full(n_days + 1, rec.size, dtype=np.int32)
    slot[rec] = np.arange(rec.size, dtype=np.int32)
    out = np.empty((rec.size, eq.N_STATES, n))
    step = n if not chunk else int(chunk)
    with _x64(jax):
        run = _build(solver, int(rec.size), int(max_steps))
        args = [jnp.asarray(a) for a in (mult, add, slot)]
        for lo in range(0, n, max(step, 1)):
            hi = min(n, lo + step)
            # the last chunk is padded to the chunk size (repeating its first patient) so that every
            # chunk reuses one compiled function
            idx = np.arange(lo, hi)
            if hi - lo < step:
                idx = np.concatenate([idx, np.full(step - (hi - lo), lo)])
            res = run(
                jnp.asarray(y0[:, idx].T),
                jnp.asarray(P[:, idx].T),
                jnp.asarray(base[:, idx].T),
                args[0],
                args[1],
                jnp.asarray(group[idx]),
                jnp.asarray(adh[idx]),
                args[2],
                jnp.float64(rtol),
                jnp.float64(atol),
            )
            out[:, :, lo:hi] = np.asarray(res)[: hi - lo].transpose(1, 2, 0)
    return out
