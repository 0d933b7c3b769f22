"""Key bits each finite-key statement gives, against the previous release's formula.

Run with ``python benchmarks/bench_key_length.py``. For N sifted bits (half Z,
half X), a 10 % sample per basis with the expected number of errors at QBER Q,
Cascade leaking f n h(Q) with f = 1.10 and ε_sec = 1e-10, it prints the final
key length of

* ``serfling-pooled``: the previous release (Tomamichel et al. 2012 Eq. (2):
  one pooled sample, the Serfling μ, the observed Q as if it were Q_tol, an
  89-bit verification tag) — the baseline, not valid with biased bases or for
  the letter of the theorem;
* ``serfling-basis``: the same Serfling μ, per basis, at the lowest ladder level
  (the columns below use the 50-bit verification tag of this release);
* ``variable``: the default (exact hypergeometric bound, per basis, lowest of 64
  tolerances up to Q_tol = 11 %, each at ε_sec/64);
* ``fixed``: the letter of Theorem 2 at Q_tol = 11 %;

and the ratios to the baseline. Then the issue's example (pooled n = 90,000,
k = 10,000, Q = 4.3 %): Serfling against the exact bound at the same ε. No
timing is asserted; the script records its inputs and the package versions.
"""

from __future__ import annotations

import math
import platform
import time
from importlib import metadata

from qkd_circuits.analysis.entropy import binary_entropy
from qkd_circuits.postprocessing.estimation import (
    BasisSample,
    phase_error_bound,
    sampling_deviation,
)
from qkd_circuits.postprocessing.key_length import finite_key_length

EPS_SEC, EPS_COR, F, Q_TOL, FRACTION = 1e-10, 1e-15, 1.10, 0.11, 0.1
TAG_OLD, TAG = 89, 50  # verification tag: polynomial hash alone (old) / compressed (now)
SIZES = (10**4, 10**5, 10**6)
QBERS = (0.01, 0.03, 0.05)


def h(x: float) -> float:
    return float(binary_entropy(min(max(x, 0.0), 0.5)))


def counts(sifted: int, q: float) -> tuple[dict[str, BasisSample], int]:
    per_basis = sifted // 2
    k = math.ceil(FRACTION * per_basis)
    samples = {
        b: BasisSample(basis=b, sifted_bits=per_basis, sample_bits=k, sample_errors=round(q * k))
        for b in "ZX"
    }
    return samples, 2 * (per_basis - k)


def serfling_pooled(sifted: int, q: float) -> int:
    """The previous release: ``n [1 − h(Q + μ)] − leak − tag − 2 log2(1/ε_sec)``."""
    k = 2 * math.ceil(FRACTION * (sifted // 2))
    n = sifted - k
    mu = math.sqrt((n + k) / (n * k) * (k + 1) / k * math.log(4 / EPS_SEC))
    bound = n * (1 - h(q + mu)) - F * n * h(q) - TAG_OLD - 2 * math.log2(1 / EPS_SEC)
    return max(0, math.floor(bound))


def serfling_per_basis(sifted: int, q: float) -> int:
    """Per basis with Serfling at the variable statement's level and ε (for comparison)."""
    samples, n = counts(sifted, q)
    exact = finite_key_length(
        samples, leaked_ec=F * n * h(q), eps_sec=EPS_SEC, eps_cor=EPS_COR,
        qber_tolerance=Q_TOL, verification_bits=TAG,
    )  # fmt: skip
    t = exact.terms
    eps_pe = math.exp(t["log_eps_pe"] - math.log(2))
    privacy = 0.0
    for basis in "ZX":
        nb, kb, eb = (
            int(t[f"key_bits_{basis}"]),
            int(t[f"test_bits_{basis}"]),
            t[f"test_errors_{basis}"],
        )
        privacy += nb * (1 - h(eb / kb + sampling_deviation(nb, kb, eps_pe)))
    bound = privacy - t["leak_ec"] - t["verification_leak"] - t["pa_penalty"]
    return max(0, math.floor(bound))


def statement(sifted: int, q: float, which: str) -> int:
    samples, n = counts(sifted, q)
    return finite_key_length(
        samples, leaked_ec=F * n * h(q), eps_sec=EPS_SEC, eps_cor=EPS_COR,
        qber_tolerance=Q_TOL, verification_bits=TAG, statement=which,  # type: ignore[arg-type]
    ).length  # fmt: skip


def main() -> None:
    versions = {"python": platform.python_version()}
    for name in ("numpy", "scipy", "qkd-circuits"):
        versions[name] = metadata.version(name)
    print(f"eps_sec {EPS_SEC:g}, eps_cor {EPS_COR:g}, f {F}, tag {TAG} bits (old {TAG_OLD}), "
          f"Q_tol {Q_TOL}, "
          f"sample fraction {FRACTION} per basis")  # fmt: skip
    print("versions: " + ", ".join(f"{k} {v}" for k, v in versions.items()))
    print()
    print("| sifted N | Q | serfling-pooled (old) | serfling-basis | variable | fixed | "
          "variable / old | fixed / old |")  # fmt: skip
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    start = time.perf_counter()
    for sifted in SIZES:
        for q in QBERS:
            old = serfling_pooled(sifted, q)
            row = [serfling_per_basis(sifted, q), statement(sifted, q, "variable"),
                   statement(sifted, q, "fixed")]  # fmt: skip
            ratio = [f"{r / old:.3f}" if old else "n/a" for r in row[1:]]
            cells = [f"{sifted:,}", f"{q:.0%}", f"{old:,}", *(f"{r:,}" for r in row), *ratio]
            print("| " + " | ".join(cells) + " |")
    print(f"\n(time for the table: {time.perf_counter() - start:.2f} s)")

    n, k, q = 90_000, 10_000, 0.043
    log_eps = 2 * math.log(EPS_SEC / 4)
    serf = q + sampling_deviation(n, k, math.exp(log_eps))
    exact = phase_error_bound(n, k, round(q * k), log_eps=log_eps)
    fixed_terms = F * n * h(q) + TAG + 2 * math.log2(1 / EPS_SEC)
    key_serf = n * (1 - h(serf)) - fixed_terms
    key_exact = n * (1 - h(exact)) - fixed_terms
    print(
        f"\npooled n = {n:,}, k = {k:,}, Q = {q:.1%}, eps (eps_sec/4)^2 = {math.exp(log_eps):.3g}:"
    )
    print(f"  Serfling bound {serf:.4%} -> {key_serf:,.0f} key bits")
    gain = key_exact / key_serf - 1
    print(f"  exact bound    {exact:.4%} -> {key_exact:,.0f} key bits  ({gain:+.1%})")


if __name__ == "__main__":
    main()
