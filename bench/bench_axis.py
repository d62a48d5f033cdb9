"""Benchmark: the batched axis engine vs a loop of scipy solve_ivp over patients.

Prints the time for N patients x DAYS days (daily read-outs kept) with the numba engine (ETDRK4,
dt = 0.5 d, parallel over patients), the time of a solve_ivp (LSODA) loop over a small number of
patients scaled up to N, and the ratio. Wall time depends on what else runs on the machine, so
the process CPU time is printed too (wall ~ CPU / n_threads on an idle machine).
Usage: python bench/bench_axis.py [N] [DAYS] [N_SCIPY] [DT] [--jax [RTOL]]   (defaults 100000 365 20 0.5).
Pin to two cores for the 2-core target, e.g. NUMBA_NUM_THREADS=2 taskset -c 0,1 python ...
``--jax`` also times the optional JAX engine (``method="jax"``, diffrax Tsit5 at ``rtol`` RTOL, default
1e-6, ``atol`` = RTOL/1000; needs ``pip install "gutaxis[jax]"``) on the same run, compile time excluded,
and its largest relative deviation from the numba result.
"""

from __future__ import annotations

import sys
import time

import numpy as np

from gutaxis import axis


def main(n: int = 100_000, days: int = 365, n_scipy: int = 20, dt: float = 0.5, jax_rtol: float | None = None) -> None:
    import numba

    rng = np.random.default_rng(0)
    P = axis.sample_parameters(n, rng)
    U = axis.reference_inputs(n)
    y0 = axis.healthy_state(P)
    # a realistic schedule: 3 arms (control, fermented food from day 30, stress weeks 10-14)
    s = axis.Schedule.baseline(days, n_groups=3)
    s.set(30, days, group=1, fermented=6.0)
    s.set(70, 98, group=2, stress=0.9)
    g = np.arange(n) % 3
    axis.simulate(P[:, :4], y0[:, :4], U[:, :4], axis.Schedule.baseline(2), dt=dt)  # compile / load cache
    c0 = time.process_time()
    t0 = time.perf_counter()
    tr = axis.simulate(P, y0, U, s, g, dt=dt, record="daily")
    t_batch = time.perf_counter() - t0
    cpu = time.process_time() - c0
    assert np.isfinite(tr.states).all()
    t0 = time.perf_counter()
    axis.simulate(P[:, :n_scipy], y0[:, :n_scipy], U[:, :n_scipy], s, g[:n_scipy], method="scipy", rtol=1e-6, atol=1e-9)
    t_scipy = (time.perf_counter() - t0) / n_scipy * n
    print(f"threads: {numba.get_num_threads()}")
    print(
        f"batched numba ETDRK4 (dt={dt} d), daily read-outs: {n} patients x {days} days: "
        f"{t_batch:.1f} s wall, {cpu:.1f} s CPU"
    )
    print(f"solve_ivp LSODA loop: {n_scipy} patients measured, scaled to {n}: {t_scipy:.1f} s")
    print(f"ratio solve_ivp / batched: {t_scipy / t_batch:.1f}x")
    if jax_rtol is not None:
        import jax

        kw = dict(method="jax", rtol=jax_rtol, atol=jax_rtol * 1e-3, record="daily")
        t0 = time.perf_counter()
        axis.simulate(P, y0, U, s, g, **kw)  # compile (the jitted function depends on shapes and record)
        t_first = time.perf_counter() - t0
        c0 = time.process_time()
        t0 = time.perf_counter()
        tj = axis.simulate(P, y0, U, s, g, **kw)
        t_jax = time.perf_counter() - t0
        cpu_j = time.process_time() - c0
        rel = np.abs(tj.states - tr.states) / (np.abs(tj.states) + 1e-3)
        print(
            f"jax {jax.__version__} on {jax.default_backend()} (diffrax Tsit5, rtol={jax_rtol:g}): {t_jax:.1f} s wall, "
            f"{cpu_j:.1f} s CPU (first call incl. compile {t_first:.1f} s); ratio jax / numba: {t_jax / t_batch:.1f}x"
        )
        print(f"max relative deviation numba ETDRK4 vs jax: {rel.max():.2e}")


if __name__ == "__main__":
    argv = sys.argv[1:]
    jax_rtol = None
    if "--jax" in argv:
        k = argv.index("--jax")
        tail = argv[k + 1 : k + 2]
        jax_rtol = float(tail[0]) if tail and not tail[0].startswith("-") else 1e-6
        argv = argv[:k] + argv[k + 1 + (1 if tail and not tail[0].startswith("-") else 0) :]
    args = [int(a) for a in argv[0:3]] + [float(a) for a in argv[3:4]]
    main(*args, jax_rtol=jax_rtol)
