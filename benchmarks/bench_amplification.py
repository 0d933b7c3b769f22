"""Privacy amplification throughput: the old standard-Toeplitz path against the modified family.

Each row times what ``amplify`` does on two equal keys (as after verification):
draw the seed, hash once, copy. Rates are input bits per second of wall time,
``out_len = n/2``. Rows:

* ``standard, old``   the implementation before issue 11 (m × n Toeplitz from
  n + m − 1 seed bits, one 1-D ``scipy.fft`` real FFT of length ≥ n + m − 1,
  fresh arrays, ``numpy.rint``), copied here as the baseline;
* ``standard, new``   the same family (``toeplitz_hash``) on the new engine:
  2-D CRT grid, ``numpy.fft`` into kept buffers, chunked rounding;
* ``modified``        ``amplify`` itself: ``[I_m | T]`` (Hayashi & Tsurumaru
  2016) from n − 1 seed bits, a cyclic length ≥ n − 1.

The old and new standard paths are checked equal on the same seed, and the
modified family against its definition on sampled rows. Each figure is the best
and the median of ``--repeats`` timed calls after one warm-up call; the machine
is shared, so the load average is printed too.

``--engines`` also times the three transforms of the modified family at 10^6
alone (two forward, one inverse) for the FFT engines that are importable:
``numpy.fft`` on the grid (what the module uses), scipy's pocketfft binding on
the grid with 1 and 2 threads (what it used before), scipy's 1-D real FFT, and, if
installed, pyFFTW (1-D, FFTW_ESTIMATE and FFTW_MEASURE) and ducc0 (grid).

Usage: python benchmarks/bench_amplification.py [--sizes 1000000,10000000]
       [--repeats 7] [--seed 20261203] [--engines] [--threads 1,2]
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.fft
from bench_postprocessing import timed  # the same best-and-median timer (same folder)

from qkd_circuits.postprocessing import amplification
from qkd_circuits.postprocessing.amplification import amplify, toeplitz_hash
from qkd_circuits.versions import package_versions

SEED = 20261203


def old_standard_amplify(key: np.ndarray, out_len: int, rng: np.random.Generator) -> np.ndarray:
    """``amplify`` on equal keys as before issue 11 (standard family, 1-D FFT)."""
    n, m = key.size, out_len
    seed = rng.integers(0, 2, size=n + m - 1, dtype=np.uint8)
    return old_standard_hash(key, seed, m)


def old_standard_hash(key: np.ndarray, seed: np.ndarray, m: int) -> np.ndarray:
    """The pre-issue-11 ``_toeplitz_float`` + ``_round_exact`` for one key."""
    n = key.size
    size = scipy.fft.next_fast_len(n + m - 1, real=True)
    buf = np.zeros(size, dtype=np.float64)
    buf[: seed.size] = seed
    seed_spectrum = scipy.fft.rfft(buf)
    buf[:n] = key
    buf[n:] = 0.0
    spectrum = scipy.fft.rfft(buf)
    spectrum *= seed_spectrum
    values = scipy.fft.irfft(spectrum, size, overwrite_x=True)[n - 1 : n - 1 + m]
    rounded = np.rint(values)
    if not float(np.max(np.abs(values - rounded))) <= 0.25:
        raise SystemExit("old path: rounding guard tripped")
    return (rounded.astype(np.int64) & 1).astype(np.uint8)


def new_standard_amplify(key: np.ndarray, out_len: int, rng: np.random.Generator) -> np.ndarray:
    """The standard family on the new engine, seed drawn the new way."""
    seed = amplification._draw_seed(key.size + out_len - 1, rng)
    return toeplitz_hash(key, seed, out_len)


def check(n: int, rng: np.random.Generator) -> None:
    """Old and new standard paths agree; the modified family matches its definition."""
    m = n // 2
    key = rng.integers(0, 2, n, dtype=np.uint8)
    seed = rng.integers(0, 2, n + m - 1, dtype=np.uint8)
    if not np.array_equal(old_standard_hash(key, seed, m), toeplitz_hash(key, seed, m)):
        raise SystemExit(f"standard family: old and new paths differ at n = {n}")
    short = seed[: n - 1]
    out = amplification.modified_toeplitz_hash(key, short, m)
    k = n - m
    for i in [0, m - 1, *rng.choice(m, size=10, replace=False).tolist()]:
        want = (int(key[i]) + int(np.dot(short[i : i + k][::-1].astype(np.int64), key[m:]))) % 2
        if out[i] != want:
            raise SystemExit(f"modified family: row {i} wrong at n = {n}")


def engines(n: int, repeats: int, rng: np.random.Generator) -> None:
    """The three transforms of the modified family at length ``n − 1`` per FFT engine."""
    grid = amplification._grid(n - 1)
    s, g = grid.short, grid.long
    cells = rng.random((2, s, g))
    spectra = np.empty((2, s, g // 2 + 1), dtype=np.complex128)
    rows: list[tuple[str, Callable[[], object]]] = []

    def grid_numpy() -> None:
        np.fft.rfftn(cells, axes=(1, 2), out=spectra)
        prod = spectra[1:]
        np.fft.ifft(prod, axis=1, out=prod)
        np.fft.irfft(prod, n=g, axis=2, out=cells[1:])

    rows.append((f"numpy.fft grid {s}x{g} (the module)", grid_numpy))
    try:
        from scipy.fft._pocketfft import pypocketfft as pocket
    except ImportError:
        pocket = None
    if pocket is not None:
        pk: Any = pocket

        def grid_pocketfft(workers: int) -> None:
            pk.r2c(cells, axes=(1, 2), forward=True, inorm=0, out=spectra, nthreads=workers)
            prod = spectra[1:]
            pk.c2c(prod, axes=(1,), forward=False, inorm=2, out=prod, nthreads=workers)
            pk.c2r(
                prod, axes=(2,), lastsize=g, forward=False, inorm=2, out=cells[1:], nthreads=workers
            )

        rows += [
            (f"pocketfft grid {s}x{g}, 1 thread", lambda: grid_pocketfft(1)),
            (f"pocketfft grid {s}x{g}, 2 threads", lambda: grid_pocketfft(2)),
        ]
    size = scipy.fft.next_fast_len(n - 1, real=True)
    line = rng.random((2, size))

    def scipy_1d() -> None:
        spec = scipy.fft.rfft(line, axis=-1)
        scipy.fft.irfft(spec[0] * spec[1], size)

    rows.append((f"scipy.fft 1-D, length {size}", scipy_1d))
    try:
        import pyfftw
    except ImportError:
        print("pyfftw: not installed")
    else:
        for flag in ("FFTW_ESTIMATE", "FFTW_MEASURE"):
            a = pyfftw.empty_aligned((2, size), dtype="float64")
            b = pyfftw.empty_aligned((2, size // 2 + 1), dtype="complex128")
            a[:] = line
            start = time.perf_counter()
            fwd = pyfftw.FFTW(a, b, axes=(1,), flags=(flag,))
            bwd = pyfftw.FFTW(
                b[0], a[0], direction="FFTW_BACKWARD", flags=(flag, "FFTW_DESTROY_INPUT")
            )
            plan = time.perf_counter() - start

            def fftw(fwd: Any = fwd, bwd: Any = bwd) -> None:
                fwd()
                bwd()

            rows.append((f"pyfftw {pyfftw.__version__} 1-D {flag} (plan {plan:.2f} s)", fftw))
    try:
        import ducc0
    except ImportError:
        print("ducc0: not installed")
    else:
        out = np.empty((s, g))

        def ducc() -> None:
            ducc0.fft.r2c(cells, axes=(1, 2), out=spectra)
            ducc0.fft.c2r(spectra[1], axes=(0, 1), lastsize=g, forward=False, out=out)

        rows.append((f"ducc0 {ducc0.__version__} grid {s}x{g}", ducc))
    print(
        f"\nthe three transforms of the modified family at n = {n:,} (best / median of {repeats})"
    )
    print("| engine | best ms | median ms |")
    print("|---|---:|---:|")
    for name, fn in rows:
        best, med = timed(fn, repeats)
        print(f"| {name} | {best * 1e3:.1f} | {med * 1e3:.1f} |")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--sizes", default="1000000,10000000", help="input key bits n")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--engines", action="store_true", help="also time FFT engines at 10^6")
    parser.add_argument(
        "--threads", default="", help="also time amplify with these FFT thread counts, e.g. 1,2"
    )
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    rng = np.random.default_rng(args.seed)

    print(f"seed {args.seed}; best and median of {args.repeats} calls (+1 warm-up); out_len = n/2")
    print("versions:", ", ".join(f"{k} {v}" for k, v in package_versions().items()))
    backend = "numpy.fft into kept buffers"
    print(
        f"cpus {os.cpu_count()}, fft threads {amplification._WORKERS}, backend {backend}, "
        f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )
    print()
    print("| family | n | seed bits | grid | Mbit/s (best) | Mbit/s (median) | best ms | x old |")
    print("|---|---:|---:|---|---:|---:|---:|---:|")
    default_threads = amplification._WORKERS
    for n in sizes:
        check(n, rng)
        m = n // 2
        key = rng.integers(0, 2, n, dtype=np.uint8)
        reps = args.repeats if n <= 2_000_000 else max(3, args.repeats // 2)
        cases: list[tuple[str, int, str, Callable[[], object]]] = [
            ("standard, old", n + m - 1, "1-D", lambda: old_standard_amplify(key, m, rng)),  # noqa: B023
            (
                "standard, new",
                n + m - 1,
                "{}x{}".format(*amplification._grid_shape(n + m - 1)),
                lambda: new_standard_amplify(key, m, rng),  # noqa: B023
            ),
            (
                "modified",
                n - 1,
                "{}x{}".format(*amplification._grid_shape(n - 1)),
                lambda: amplify(key, key, out_len=m, rng=rng),  # noqa: B023
            ),
        ]
        for threads in [int(t) for t in args.threads.split(",") if t]:

            def run(threads: int = threads, default_threads: int = default_threads) -> None:
                amplification._WORKERS = threads
                try:
                    amplify(key, key, out_len=m, rng=rng)  # noqa: B023
                finally:
                    amplification._WORKERS = default_threads

            cases.append((f"modified, {threads} FFT thread(s)", n - 1, cases[-1][2], run))
        base = None
        for name, seed_bits, grid, fn in cases:
            best, med = timed(fn, reps)
            base = base or best
            print(
                f"| {name} | {n:,} | {seed_bits:,} | {grid} | {n / best / 1e6:.1f} | "
                f"{n / med / 1e6:.1f} | {best * 1e3:.1f} | {base / best:.2f} |"
            )
    if args.engines:
        engines(1_000_000, args.repeats, rng)
    print(f"\nload average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
