"""Secret key length: Tomamichel et al. 2012 finite key and Shor–Preskill asymptotic."""

from __future__ import annotations

import itertools
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import brentq

from qkd_circuits.analysis.entropy import binary_entropy
from qkd_circuits.errors import ConfigError, ProtocolAbort
from qkd_circuits.postprocessing.key_length import (
    KeyLengthResult,
    asymptotic_key_length,
    check_key_length,
    finite_key_length,
    finite_key_mu,
    secret_key_length,
    shor_preskill_rate,
)


def h(x: float) -> float:
    return float(binary_entropy(x))


def test_worked_example_by_hand() -> None:
    """n = 10^4, k = 10^3, Q = 2 %, leak_EC = 1500, eps_sec = 1e-10, eps_cor = 1e-15.

    By hand:
      ln(4/eps_sec) = ln 4 + 10 ln 10 = 1.3862944 + 23.0258509 = 24.4121453
      mu^2 = (11000 / 10^7) * (1001 / 1000) * 24.4121453 = 0.0011011 * 24.4121453 = 0.0268802
      mu = 0.1639519,  Q + mu = 0.1839519
      h(0.1839519) = 0.1839519 * 2.44257 + 0.8160481 * 0.293277 = 0.449317 + 0.239329 = 0.68865
      n (1 - h) = 3113.5
      log2(2 / (eps_sec^2 eps_cor)) = log2(2e35) = 1 + 35 log2(10) = 117.2675
      l = 3113.5 - 1500 - 117.27 = 1496.3  ->  1496 bits
    """
    r = finite_key_length(
        n=10_000, k=1_000, qber_sample=0.02, leaked_ec=1500, eps_sec=1e-10, eps_cor=1e-15
    )
    t = r.terms
    assert t["mu"] == pytest.approx(0.1639519, abs=1e-6)
    assert t["phase_error_bound"] == pytest.approx(0.1839519, abs=1e-6)
    assert r.phase_error_bound == pytest.approx(0.1839519, abs=1e-6)
    assert t["h_phase"] == pytest.approx(0.68865, abs=2e-5)
    assert t["privacy_term"] == pytest.approx(3113.5, abs=0.1)
    assert t["leak_ec"] == 1500
    assert t["verification_leak"] + t["pa_penalty"] == pytest.approx(117.2675, abs=1e-3)
    assert t["pa_penalty"] == pytest.approx(2 * 10 * math.log2(10))
    assert t["verification_leak"] == pytest.approx(math.log2(2e15))
    assert t["bound"] == pytest.approx(1496.3, abs=0.05)
    assert r.length == 1496 and r.method == "finite"
    assert finite_key_mu(10_000, 1_000, 1e-10) == t["mu"]


def test_actual_tag_bits_replace_the_papers_verification_term() -> None:
    base = finite_key_length(
        n=10_000, k=1_000, qber_sample=0.02, leaked_ec=1500, eps_sec=1e-10, eps_cor=1e-15
    )
    with_tag = finite_key_length(
        n=10_000,
        k=1_000,
        qber_sample=0.02,
        leaked_ec=1500,
        eps_sec=1e-10,
        eps_cor=1e-15,
        verification_bits=89,
    )
    assert with_tag.terms["verification_leak"] == 89
    assert with_tag.terms["bound"] == pytest.approx(base.terms["bound"] + math.log2(2e15) - 89)
    assert with_tag.length == 1458


@settings(max_examples=300, deadline=None)
@given(
    n=st.integers(1, 10**9),
    k=st.integers(1, 10**8),
    q=st.floats(0.0, 0.5),
    leak_frac=st.floats(0.0, 1.0),
    eps_sec=st.floats(1e-30, 0.5),
    eps_cor=st.floats(1e-30, 0.5),
)
def test_finite_never_exceeds_asymptotic(
    n: int, k: int, q: float, leak_frac: float, eps_sec: float, eps_cor: float
) -> None:
    leak = int(leak_frac * n)
    fin = finite_key_length(
        n=n, k=k, qber_sample=q, leaked_ec=leak, eps_sec=eps_sec, eps_cor=eps_cor
    )
    asy = asymptotic_key_length(n=n, e_phase=q, leaked_ec=leak)
    assert fin.length <= asy.length
    assert fin.terms["bound"] < asy.terms["bound"]
    assert fin.phase_error_bound >= asy.phase_error_bound


def test_finite_tends_to_asymptotic() -> None:
    q, f = 0.03, 1.1
    ratios = []
    for n in (10**4, 10**5, 10**6, 10**8, 10**10, 10**12):
        leak = f * n * h(q)
        fin = finite_key_length(
            n=n, k=n // 10, qber_sample=q, leaked_ec=leak, eps_sec=1e-10, eps_cor=1e-15
        )
        asy = asymptotic_key_length(n=n, e_phase=q, leaked_ec=leak)
        ratios.append(fin.terms["bound"] / asy.terms["bound"])
    assert all(a < b for a, b in itertools.pairwise(ratios))
    assert ratios[-1] > 0.995 and ratios[-1] < 1.0


def test_shor_preskill_threshold_is_eleven_percent() -> None:
    root = brentq(lambda e: shor_preskill_rate(e), 0.05, 0.2)
    assert root == pytest.approx(0.1100, abs=2e-4)
    assert shor_preskill_rate(0.05, f=1.2) == pytest.approx(1 - h(0.05) - 1.2 * h(0.05))
    assert shor_preskill_rate(0.02, 0.04) == pytest.approx(1 - h(0.04) - h(0.02))


def cutoff_qber(n: int, f: float) -> float:
    """QBER at which the finite key (k = n/10, leak_EC = f n h(Q)) reaches zero."""

    def bound(q: float) -> float:
        r = finite_key_length(
            n=n, k=n // 10, qber_sample=q, leaked_ec=f * n * h(q), eps_sec=1e-10, eps_cor=1e-15
        )
        return r.terms["bound"]

    return float(brentq(bound, 0.0, 0.11))


def test_finite_key_dies_well_before_eleven_percent() -> None:
    # Ideal reconciliation (f = 1): the asymptotic cut-off is 11.0 %; the finite key
    # reaches zero earlier, the more so the smaller the block.
    cutoffs = [cutoff_qber(n, 1.0) for n in (10**4, 10**5, 10**6)]
    assert all(a < b for a, b in itertools.pairwise(cutoffs))
    assert cutoffs[-1] < 0.105 and cutoffs[0] < 0.05
    # With a realistic Cascade efficiency f = 1.1, below 10 % even at n = 10^6.
    assert cutoff_qber(10**6, 1.1) < 0.10
    assert (
        finite_key_length(
            n=10**6,
            k=10**5,
            qber_sample=0.105,
            leaked_ec=10**6 * h(0.105),
            eps_sec=1e-10,
            eps_cor=1e-15,
        ).length
        == 0
    )
    with pytest.raises(ProtocolAbort) as info:
        secret_key_length(
            method="finite", n=10**6, k=10**5, qber=0.105, leaked_ec=int(10**6 * h(0.105))
        )
    assert info.value.reason == "key_too_short"
    assert "mu=" in str(info.value) and "leak_ec=" in str(info.value)


def test_phase_error_bound_above_half_gives_no_key() -> None:
    r = finite_key_length(n=100, k=10, qber_sample=0.3, leaked_ec=0, eps_sec=0.1, eps_cor=0.1)
    assert r.terms["phase_error_bound"] > 0.5
    assert r.terms["h_phase"] == 1.0 and r.length == 0
    assert asymptotic_key_length(n=100, e_phase=0.8, leaked_ec=0).length == 0


def test_asymptotic_terms() -> None:
    r = asymptotic_key_length(n=10_000, e_phase=0.02, leaked_ec=1500, verification_bits=89)
    assert r.terms["privacy_term"] == pytest.approx(10_000 * (1 - h(0.02)))
    assert r.length == math.floor(10_000 * (1 - h(0.02)) - 1500 - 89)
    assert r.method == "asymptotic" and r.phase_error_bound == 0.02


def test_dispatcher() -> None:
    fin = secret_key_length(method="finite", n=10_000, k=1_000, qber=0.02, leaked_ec=1500)
    assert fin.length == 1496
    asy = secret_key_length(method="asymptotic", n=10_000, qber=0.02, leaked_ec=1500)
    assert asy.length == asymptotic_key_length(n=10_000, e_phase=0.02, leaked_ec=1500).length
    zero = secret_key_length(method="finite", n=100, k=10, qber=0.2, leaked_ec=50, abort=False)
    assert zero.length == 0
    with pytest.raises(ProtocolAbort):
        check_key_length(zero)
    assert check_key_length(fin) is fin


@pytest.mark.parametrize(
    "kwargs",
    [
        {"n": 0},
        {"k": 0},
        {"n": 10.5},
        {"qber_sample": -0.01},
        {"qber_sample": 1.5},
        {"leaked_ec": -1},
        {"leaked_ec": float("inf")},
        {"eps_sec": 0.0},
        {"eps_sec": 1.0},
        {"eps_cor": 0.0},
        {"eps_cor": 2.0},
        {"verification_bits": -3},
    ],
)
def test_finite_rejects_bad_input(kwargs: dict) -> None:
    args: dict[str, Any] = {
        "n": 1000,
        "k": 100,
        "qber_sample": 0.02,
        "leaked_ec": 100,
        "eps_sec": 1e-10,
        "eps_cor": 1e-15,
    }
    args.update(kwargs)
    with pytest.raises(ConfigError):
        finite_key_length(**args)


def test_dispatcher_rejects_bad_input() -> None:
    with pytest.raises(ConfigError, match="sample size k"):
        secret_key_length(method="finite", n=100, qber=0.01, leaked_ec=0)
    with pytest.raises(ConfigError, match="method"):
        secret_key_length(method="magic", n=100, k=10, qber=0.01, leaked_ec=0)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="e_phase"):
        asymptotic_key_length(n=100, e_phase=-0.5, leaked_ec=0)
    with pytest.raises(ConfigError, match="f must"):
        shor_preskill_rate(0.01, f=0.5)
    with pytest.raises(ConfigError, match="length"):
        KeyLengthResult(length=-1, method="finite", phase_error_bound=0.0)
