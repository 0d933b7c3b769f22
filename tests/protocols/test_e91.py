"""E91 (Ekert, PRL 67, 661 (1991)) against closed forms: key-round QBER and CHSH value S.

Statistical checks use 5 standard errors on seeded runs, on the fast (``aer``) and the
literal (``aer-literal``) paths: binomial ones for error and agreement rates
(``assert_rate``), and for S the standard error ``σ_S = √(Σ_i (1 − E_i²)/N_i)`` of the
closed-form correlators E_i at the run's own test-round counts N_i.

Notation: |Φ+> = (|00> + |11>)/√2 (qubit 0 Bob's half, qubit 1 Alice's); a setting at
angle θ in the XZ plane measures ``cos θ Z + sin θ X`` (Z: 0, X: π/2, W: π/4, V: −π/4);
``E = <A(θa) ⊗ B(θb)>`` and two results differ with probability ``(1 − E)/2``. For
|Φ+>, ``<ZZ> = <XX> = 1``, ``<ZX> = <XZ> = 0``, so ``E = cos(θa − θb)`` and
``S = E(Z,W) + E(Z,V) + E(X,W) − E(X,V) = 4 cos(π/4) = 2√2``. Key rounds: Z–Z and X–X
(probability 2 × 1/2 × 1/4 = 1/4); test rounds: Bob in W or V (1/2); each CHSH pair
has probability 1/8.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable

import numpy as np
import pytest
from scipy.optimize import brentq

from qkd_circuits import run
from qkd_circuits.analysis.rates import chsh_di_rate, chsh_value_depolarising, qber_threshold
from qkd_circuits.channel.noise import NoiseSpec
from qkd_circuits.circuits.entangled import SETTING_ANGLES, EntangledConfig
from qkd_circuits.errors import ConfigError, ProtocolAbort
from qkd_circuits.execution.aer import AerExecutor
from qkd_circuits.postprocessing.channel import PublicChannel
from qkd_circuits.postprocessing.estimation import BasisSample
from qkd_circuits.protocols.base import Protocol, run_exchanges
from qkd_circuits.protocols.e91 import (
    CHSH_PAIRS,
    CHSH_SIGNS,
    CHSH_Z,
    E91,
    THEOREMS,
    CHSHEstimate,
    E91Analysis,
    E91Protocol,
    E91SiftedKey,
    check_chsh,
)
from qkd_circuits.protocols.registry import PROTOCOLS, get_protocol
from tests.conftest import assert_rate
from tests.protocols.conftest import (
    check_per_basis,
    exact_correlation,
    h,
    on_both_paths,
    schema_valid_json,
)

FAST = 100_000
"""Qubits of a fast-path run: ~12,500 key bits per basis, ~12,500 rounds per CHSH pair."""
LITERAL = 4_000
"""Qubits of a literal-path run: ~500 key bits per basis, ~500 rounds per CHSH pair."""
BOTH_PATHS = on_both_paths(FAST, LITERAL, names=("backend", "n"))
TSIRELSON = 2 * math.sqrt(2)

Correlator = Callable[[int, int], float]


def cos_diff(a: int, b: int) -> float:
    return math.cos(SETTING_ANGLES[a] - SETTING_ANGLES[b])


def depolarized(p: float) -> Correlator:
    return lambda a, b: (1 - p) * cos_diff(a, b)


def damped(g: float) -> Correlator:
    def e(a: int, b: int) -> float:
        ta, tb = SETTING_ANGLES[a], SETTING_ANGLES[b]
        return (1 - g) * math.cos(ta) * math.cos(tb) + math.sqrt(1 - g) * math.sin(ta) * math.sin(
            tb
        )

    return e


def intercepted(f: float) -> Correlator:
    return lambda a, b: (1 - f / 2) * cos_diff(a, b)


def chsh_of(e: Correlator) -> float:
    return sum(s * e(a, b) for s, (a, b) in zip(CHSH_SIGNS, CHSH_PAIRS, strict=True))


def _check_run(report, e: Correlator) -> None:  # type: ignore[no-untyped-def]
    """Key-round error rates per basis, every CHSH pair's agreement rate, and S, against
    the closed-form correlator ``e`` (5 s.e. each)."""
    check_per_basis(report, {"Z": (1 - e(0, 0)) / 2, "X": (1 - e(1, 1)) / 2})
    chsh = report.sifted.chsh
    for (a, b), n, agree in zip(CHSH_PAIRS, chsh.rounds, chsh.agreements, strict=True):
        assert_rate(agree / n, (1 + e(a, b)) / 2, n)
    sigma = math.sqrt(
        sum((1 - e(a, b) ** 2) / n for (a, b), n in zip(CHSH_PAIRS, chsh.rounds, strict=True))
    )
    assert abs(report.chsh_s - chsh_of(e)) <= 5 * sigma, (report.chsh_s, chsh_of(e), sigma)
    assert report.chsh_s_stderr == pytest.approx(chsh.stderr)


def _circuit(a: int, b: int, eve: int = -1):  # type: ignore[no-untyped-def]
    """E91's circuit for Alice's setting ``a``, Bob's ``b`` and Eve's basis ``eve``."""
    return E91.circuit_for_code(EntangledConfig(alice_setting=a, bob_setting=b, eve_basis=eve).code)


# -- registry, circuits, exact correlators -----------------------------------------------


def test_registered_with_the_emitted_threshold_and_the_di_one_named():
    assert "e91" in PROTOCOLS
    protocol = get_protocol("e91")
    assert protocol is E91 and isinstance(protocol, Protocol)
    line = protocol.info.line()
    assert line.startswith("e91") and "threshold 11.00%" in line and "(1/4)" in line
    assert "7.1%" in protocol.info.reference and "Acin" in protocol.info.reference


ALL_PAIRS = list(itertools.product(range(2), range(4)))


@pytest.mark.parametrize(
    ("noise", "correlator"),
    [
        (NoiseSpec(), depolarized(0.0)),
        (NoiseSpec(depolarizing=0.3), depolarized(0.3)),
        (NoiseSpec(amplitude_damping=0.3), damped(0.3)),
    ],
    ids=["none", "depolarizing", "amplitude-damping"],
)
def test_exact_correlators_of_the_circuits_are_the_closed_forms(noise, correlator):
    """The derivations of the statistical tests below, checked without statistics on
    the circuits themselves (all 8 setting pairs)."""
    for a, b in ALL_PAIRS:
        expected = correlator(a, b)
        assert exact_correlation(_circuit(a, b), noise) == pytest.approx(expected, abs=1e-12)


def test_exact_correlators_under_intercept_resend_average_to_half():
    """Eve in Z leaves E = cos θa cos θb, in X E = sin θa sin θb; their mean is
    cos(θa − θb)/2."""
    for a, b in ALL_PAIRS:
        ta, tb = SETTING_ANGLES[a], SETTING_ANGLES[b]
        z, x = (exact_correlation(_circuit(a, b, eve), NoiseSpec()) for eve in (0, 1))
        assert z == pytest.approx(math.cos(ta) * math.cos(tb), abs=1e-12)
        assert x == pytest.approx(math.sin(ta) * math.sin(tb), abs=1e-12)
        assert (z + x) / 2 == pytest.approx(intercepted(1.0)(a, b), abs=1e-12)
    assert chsh_of(depolarized(0.0)) == pytest.approx(TSIRELSON)
    assert chsh_of(intercepted(1.0)) == pytest.approx(math.sqrt(2))


def test_every_bob_setting_is_used_and_the_channel_is_on_bobs_half():
    circuits = [E91.circuit_for_code(c) for c in np.unique(E91.draw_choices(500, rng=1).codes)]
    assert {c.metadata["bob_setting"] for c in circuits} == {"Z", "X", "W", "V"}
    assert all(c.num_qubits == 2 and c.metadata["protocol"] == "e91" for c in circuits)
    with pytest.raises(ConfigError, match="24"):
        E91.circuit_for_code(24)


# -- runs against closed forms -----------------------------------------------------------


def test_noise_free_run_keys_match_and_s_is_tsirelsons():
    """Key fraction 1/4 (Z–Z or X–X), test fraction 1/2 (Bob in W or V), QBER 0, S = 2√2."""
    report = run("e91", qubits=FAST, seed=1)
    assert not report.aborted and report.keys_match and report.qber_actual == 0.0
    assert report.final_key_bits > 0.3 * report.sifted_bits
    assert_rate(report.sifted_bits / FAST, 0.25, FAST)
    assert isinstance(report.sifted, E91SiftedKey)
    assert_rate(report.sifted.test_rounds / FAST, 0.5, FAST)
    _check_run(report, depolarized(0.0))
    assert report.key_length["theorem"] == THEOREMS["variable"]
    assert "Koashi" in report.key_length["theorem"] and "CHSH" in report.key_length["theorem"]
    assert report.leaked_bits["chsh_test"] == 0 and report.eve_agreement is None


@BOTH_PATHS
def test_depolarizing_gives_half_p_and_s_shrinks_by_1_minus_p(backend, n):
    """Depolarizing p on Bob's half: ρ → (1 − p)ρ + p (I/2 ⊗ ρ_A); the maximally mixed
    part has no correlation, so E = (1 − p) cos(θa − θb). Key rounds (cos = 1): QBER
    (1 − (1 − p))/2 = p/2 in Z and X. Every correlator scales, so S = 2√2 (1 − p), which is
    the Werner-state relation S = 2√2 (1 − 2Q) at Q = p/2."""
    p = 0.16
    report = run("e91", qubits=n, seed=2, backend=backend, noise=f"depolarizing={p}")
    _check_run(report, depolarized(p))
    assert chsh_of(depolarized(p)) == pytest.approx(float(chsh_value_depolarising(p / 2)))
    assert_rate(report.sifted_bits / n, 0.25, n)


@BOTH_PATHS
def test_amplitude_damping_closed_forms(backend, n):
    """Amplitude damping g on Bob's half (K0 = diag(1, √(1−g)), K1 = √g |0><1|), written
    |Bob Alice>: K0 gives (|00> + √(1−g)|11>)/√2, K1 gives √g |01>/√2, incoherently.
    <ZZ> = 1/2 + (1−g)/2 − g/2 = 1 − g; <XX> = 2 Re ρ(00,11) = √(1−g); <ZX> = <XZ> = 0
    (no coherence between states that differ in one half only). So
    E(θa, θb) = (1 − g) cos θa cos θb + √(1 − g) sin θa sin θb: Z–Z error g/2, X–X error
    (1 − √(1−g))/2; E(Z,W) = E(Z,V) = (1 − g)/√2, E(X,W) = −E(X,V) = √(1−g)/√2, so
    S = √2 [(1 − g) + √(1 − g)]."""
    g = 0.3
    report = run("e91", qubits=n, seed=3, backend=backend, noise=f"amplitude-damping={g}")
    _check_run(report, damped(g))
    assert chsh_of(damped(g)) == pytest.approx(math.sqrt(2) * ((1 - g) + math.sqrt(1 - g)))


@BOTH_PATHS
def test_full_intercept_resend_gives_a_quarter_and_s_root_2_and_aborts_on_chsh(backend, n):
    """Eve measures Bob's half in Z or X (1/2 each) and resends. In Z she dephases it:
    E = cos θa cos θb; in X: E = sin θa sin θb; on average E = cos(θa − θb)/2. Key rounds
    err with (1 − 1/2)/2 = 1/4; S = 2√2/2 = √2 < 2, a local value, so S − 2 < 0 <= z σ_S
    and the run aborts on the CHSH test (before the QBER test). Eve's agreement with
    Alice's key bits: 1 in her right basis, 1/2 otherwise, 3/4 on average."""
    report = run("e91", qubits=n, seed=4, backend=backend, eve="intercept-resend")
    _check_run(report, intercepted(1.0))
    assert report.chsh_s < 2
    assert report.aborted and report.abort_reason == "chsh_not_violated"
    assert "not significantly above 2" in report.abort_message
    assert_rate(report.eve_agreement, 0.75, report.sifted_bits)
    assert report.final_key_bits == 0 and report.di_key_rate < 0


def test_partial_intercept_resend_and_readout_compose():
    """Eve on a fraction f: E = (1 − f/2) cos(θa − θb); Bob's readout error r flips his
    bit, E → (1 − 2r) E. So the QBER is (1 − (1 − f/2)(1 − 2r))/2 and S = 2√2 (1 − f/2)(1 − 2r)."""
    f, r = 0.3, 0.02
    report = run("e91", qubits=FAST, seed=5, eve=f"intercept-resend={f}", noise=f"readout={r}")
    _check_run(report, lambda a, b: (1 - 2 * r) * intercepted(f)(a, b))


# -- the standard error of S -------------------------------------------------------------


def test_stderr_formula_matches_the_spread_of_s_on_synthetic_tallies():
    """Ê_i is the mean of N_i independent ±1 products with mean E_i, so Var Ê_i =
    (1 − E_i²)/N_i, and the pairs are disjoint, so Var Ŝ = Σ_i (1 − E_i²)/N_i. Over R
    repeats the sample variance has relative standard error √(2/(R − 1)); the reported
    σ² (plug-in) has mean (1 − 1/N_i)(1 − E_i²)/N_i."""
    rng = np.random.default_rng(11)
    e = np.array([0.6, 0.5, 0.7, -0.4])
    rounds = np.array([300, 500, 400, 600])
    repeats = 20_000
    agree = rng.binomial(rounds, (1 + e) / 2, size=(repeats, 4))
    est = [CHSHEstimate(rounds=tuple(rounds.tolist()), agreements=tuple(a)) for a in agree.tolist()]
    s = np.array([x.value for x in est])
    var = np.array([x.stderr for x in est]) ** 2
    true_var = float(np.sum((1 - e**2) / rounds))
    assert abs(float(np.mean(s)) - float(np.dot(CHSH_SIGNS, e))) <= 5 * math.sqrt(
        true_var / repeats
    )
    assert abs(s.var(ddof=1) / true_var - 1) <= 5 * math.sqrt(2 / (repeats - 1))
    assert abs(var.mean() / true_var - 1) <= 5 * var.std() / true_var / math.sqrt(repeats) + 1 / 300


def test_reported_stderr_matches_the_spread_of_s_over_seeded_runs():
    """R seeded noise-free runs (E_i = ±1/√2, S = 2√2): the spread of S over them matches
    the reported σ_S. Both var(S)/mean(σ²) and mean(((S − 2√2)/σ)²) are 1 within
    5 √(2/R), which excludes a σ without the (1 − E²) factor (ratio 1/2 here) or one over
    all test rounds instead of each pair's (ratio 4)."""
    repeats, n = 400, 2_000
    executor = AerExecutor()
    s, sigma = [], []
    for seed in range(repeats):
        records = run_exchanges(E91, E91.draw_choices(n, rng=seed), executor, rng=10**6 + seed)
        extras = E91.report_extras(records, E91.sift(records))
        s.append(extras["chsh_s"])
        sigma.append(extras["chsh_s_stderr"])
    s_arr, sigma_arr = np.array(s), np.array(sigma)
    tol = 5 * math.sqrt(2 / repeats)
    assert abs(s_arr.var(ddof=1) / np.mean(sigma_arr**2) - 1) <= tol
    assert abs(np.mean(((s_arr - TSIRELSON) / sigma_arr) ** 2) - 1) <= tol


# -- the CHSH test, disclosure, analysis -------------------------------------------------


def test_chsh_abort_is_exactly_s_minus_2_le_z_sigma():
    est = CHSHEstimate(rounds=(400, 400, 400, 400), agreements=(300, 290, 310, 95))
    s, sigma = est.value, est.stderr
    assert s == pytest.approx((200 + 180 + 220 + 210) / 400)
    z_star = (s - 2) / sigma
    check_chsh(est, z=0.99 * z_star)
    with pytest.raises(ProtocolAbort, match=f"S = {s:.4f}") as info:
        check_chsh(est, z=1.01 * z_star)
    assert info.value.reason == "chsh_not_violated"
    assert CHSH_Z == 5.0
    for incomplete in (None, CHSHEstimate(rounds=(400, 1, 400, 400), agreements=(1, 1, 1, 1))):
        with pytest.raises(ProtocolAbort, match="too few CHSH test rounds") as info:
            check_chsh(incomplete)
        assert info.value.reason == "chsh_not_violated"
    with pytest.raises(ConfigError, match="agreements"):
        CHSHEstimate(rounds=(1, 1, 1, 1), agreements=(2, 0, 0, 0))
    with pytest.raises(ConfigError, match="-1"):
        E91Protocol(chsh_z=-1)


def test_analysis_checks_chsh_before_the_qber_and_lengths_are_bbm92s():
    bad = CHSHEstimate(rounds=(400,) * 4, agreements=(300, 300, 300, 100))  # S = 2
    good = CHSHEstimate(rounds=(400,) * 4, agreements=(341, 341, 341, 59))  # S = 2.82
    noisy = {b: BasisSample(basis=b, sifted_bits=1000, sample_bits=100, sample_errors=30)
             for b in ("Z", "X")}  # fmt: skip
    with pytest.raises(ProtocolAbort) as info:
        E91Analysis(chsh=bad).check(noisy, qber_threshold=0.11)
    assert info.value.reason == "chsh_not_violated"
    with pytest.raises(ProtocolAbort) as info:
        E91Analysis(chsh=good).check(noisy, qber_threshold=0.11)
    assert info.value.reason == "qber_above_threshold"
    assert E91Analysis(chsh=good).basis_names == ("Z", "X")


def test_test_rounds_are_announced_and_never_in_the_key():
    """Both parties' settings are announced (stage sifting); both parties' results in
    every test round are disclosed (stage chsh_test) with 0 bits counted as leaked about
    the key: the key is built from the matching Z–Z and X–X rounds only."""
    records = run_exchanges(E91, E91.draw_choices(20_000, rng=9), AerExecutor(), rng=10)
    channel = PublicChannel()
    sifted = E91.sift(records, channel=channel)
    test = records.bob_settings >= 2
    by_stage = {
        stage: [m for m in channel.messages if m.stage == stage]
        for stage in ("sifting", "chsh_test")
    }
    assert [m.sender for m in by_stage["sifting"]] == ["bob", "alice"]
    assert by_stage["sifting"][0].payload == records.bob_settings.tobytes()
    assert by_stage["sifting"][1].payload == np.packbits(records.alice_settings).tobytes()
    alice_msg, bob_msg = by_stage["chsh_test"]
    assert (alice_msg.sender, bob_msg.sender) == ("alice", "bob")
    assert alice_msg.payload == np.packbits(records.alice_bits[test]).tobytes()
    assert bob_msg.payload == np.packbits(records.bob_bits[test]).tobytes()
    assert channel.total_leaked_bits() == 0 and len(channel.messages) == 4
    matching = np.flatnonzero(records.alice_settings == records.bob_settings)
    assert np.array_equal(sifted.positions, matching) and not test[sifted.positions].any()
    assert sifted.test_rounds == int(test.sum())
    # The CHSH tallies are a function of the disclosed data alone.
    again = CHSHEstimate.from_rounds(
        records.alice_settings[test],
        np.unpackbits(np.frombuffer(alice_msg.payload, np.uint8))[: test.sum()],
        records.bob_settings[test],
        np.unpackbits(np.frombuffer(bob_msg.payload, np.uint8))[: test.sum()],
    )
    assert again == sifted.chsh


# -- rates: emitted threshold, DI threshold, finite key ----------------------------------


def test_emitted_threshold_is_bbm92s_and_di_threshold_is_acin_s():
    """The emitted length's rate 1 − 2 h(Q) has its root at 11.00 %; the DI rate of
    Acín et al. 2007 along the depolarizing line S = 2√2 (1 − 2Q) has its root at 7.1 %."""
    root = brentq(E91.asymptotic_rate, 0.05, 0.2, xtol=1e-12)
    assert root == pytest.approx(0.110028, abs=1e-6) == E91.info.threshold
    di = qber_threshold("di-chsh")
    assert di == pytest.approx(0.071, abs=1e-3)
    assert float(chsh_di_rate(chsh_value_depolarising(0.9 * di), 0.9 * di)) > 0
    assert float(chsh_di_rate(chsh_value_depolarising(1.1 * di), 1.1 * di)) < 0


@pytest.mark.parametrize(("p", "positive"), [(0.1, True), (0.18, False)])
def test_di_key_rate_is_acins_at_the_measured_s_and_qber(p, positive):
    """Depolarizing p: Q = p/2 and S = 2√2 (1 − p). At p = 0.1 (Q = 5 % < 7.1 %) the DI
    rate is positive; at p = 0.18 (Q = 9 %) it is negative though S > 2 still passes."""
    report = run("e91", qubits=FAST, seed=12, noise=f"depolarizing={p}")
    s = min(report.chsh_s, TSIRELSON)
    assert report.di_key_rate == pytest.approx(float(chsh_di_rate(s, report.qber_actual)))
    assert (report.di_key_rate > 0) is positive
    assert report.abort_reason != "chsh_not_violated"


def _length(n_basis: int, q: float, *, tolerance: float = 0.11) -> int:
    """E91's finite length (a passing CHSH estimate) with a 10 % sample per basis at error
    rate q and EC at the Shannon limit; 0 on an abort."""
    good = CHSHEstimate(rounds=(4000,) * 4, agreements=(3400, 3400, 3400, 600))
    analysis = E91.analysis(E91SiftedKey(
        alice=np.zeros(0, np.uint8), bob=np.zeros(0, np.uint8),
        positions=np.zeros(0, np.int64), bases=np.zeros(0, np.uint8), chsh=good,
    ))  # fmt: skip
    k = math.ceil(0.1 * n_basis)
    samples = {
        b: BasisSample(basis=b, sifted_bits=n_basis, sample_bits=k, sample_errors=round(q * k))
        for b in ("Z", "X")
    }
    try:
        analysis.check(samples, qber_threshold=tolerance)
        return analysis.key_length(
            samples, leaked_ec=2 * (n_basis - k) * h(q), verification_bits=50,
            eps_sec=1e-10, eps_cor=1e-15, qber_tolerance=tolerance, statement="fixed",
        ).length  # fmt: skip
    except ProtocolAbort:
        return 0


@pytest.mark.parametrize("n_basis", [10**3, 10**4, 10**5, 10**6])
def test_finite_key_never_exceeds_asymptotic_rate_times_n(n_basis):
    for q in (0.0, 0.01, 0.03, 0.05, 0.08, 0.1):
        assert _length(n_basis, q) <= max(0.0, E91.asymptotic_rate(q)) * 2 * n_basis
    for q in (0.111, 0.13, 0.2):
        assert _length(n_basis, q, tolerance=0.5) == 0


# -- device, schema ----------------------------------------------------------------------


def test_runs_on_fake_manila_with_a_significant_bell_violation():
    """Without Eve the circuits have 2 qubits and run on a coupled pair of the device;
    its errors keep the QBER well below the threshold and S significantly above 2."""
    pytest.importorskip("qiskit_ibm_runtime")
    report = run("e91", qubits=LITERAL, seed=6, backend="fake:manila")
    assert report.backend_info["name"] == "fake:manila"
    q, n = report.qber_actual, report.sifted_bits
    assert q > 0 and q + 5 * math.sqrt(q * (1 - q) / n) < E91.info.threshold
    assert report.chsh_s - 2 > CHSH_Z * report.chsh_s_stderr
    assert report.abort_reason in (None, "key_too_short"), report.abort_message


def test_report_follows_the_schema_with_the_chsh_fields():
    for kwargs in ({"noise": "depolarizing=0.02"}, {"eve": "intercept-resend"}):
        data = schema_valid_json(run("e91", qubits=20_000, seed=7, **kwargs))
        assert {"chsh_s", "chsh_s_stderr", "di_key_rate"} <= set(data)
