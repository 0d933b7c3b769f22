"""SARG04 against closed forms (5 binomial standard errors, seeded) and its security bounds.

Notation for the derivations below: Alice sends |s, a> (sign s, basis a), announces the
pair {|ω x>, |ω' z>} whose member in basis a has sign s and whose other sign r is a fresh
uniform bit; Bob measures in basis b and gets β. Conclusive: β differs from the pair's
sign in basis b. Two facts hold for ANY channel or attack:

* b != a (probability 1/2): the pair's sign in b is r, independent of β, so the exchange
  is conclusive with probability exactly 1/2, and Bob then names basis a: always correct;
* b == a (probability 1/2): conclusive iff β != s, i.e. iff Bob's BB84 bit is flipped,
  and Bob then names the other basis: always an error.

So P(conclusive and correct) = 1/4 exactly, P(conclusive and wrong) = δ/2 with δ the
BB84 flip probability averaged over a, the sifted fraction is 1/4 + δ/2 and the QBER
(δ/2) / (1/4 + δ/2) = 2δ / (1 + 2δ).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.optimize import brentq

from qkd_circuits import run
from qkd_circuits.attacks.spec import EveSpec
from qkd_circuits.channel.noise import NoiseSpec, build_noise_model
from qkd_circuits.circuits.bb84 import N_CONFIGS, BB84Config, bb84_circuit
from qkd_circuits.errors import ConfigError, ProtocolAbort
from qkd_circuits.execution.aer import AerExecutor
from qkd_circuits.postprocessing.channel import PublicChannel
from qkd_circuits.postprocessing.estimation import BasisSample
from qkd_circuits.postprocessing.key_length import max_accepted_errors
from qkd_circuits.protocols.base import run_exchanges
from qkd_circuits.protocols.registry import get_protocol
from qkd_circuits.protocols.sarg04 import (
    ASYMPTOTIC_QBER_THRESHOLD,
    BASIS,
    SARG04,
    circuit_for_code,
    sarg04_analysis,
    sarg04_entropy_bound,
    sarg04_key_length,
    sarg04_rate,
)
from tests.conftest import assert_rate
from tests.protocols.conftest import h

FAST_N = 100_000
LITERAL_N = 4_000


def _records(noise: NoiseSpec, eve: EveSpec, *, n: int, seed: int):
    model = None if noise.is_noiseless else build_noise_model(noise)
    choices = SARG04.draw_choices(n, eve=eve, rng=seed)
    return run_exchanges(SARG04, choices, AerExecutor(model), rng=seed + 1)


# --- noiseless runs -------------------------------------------------------------------


def test_noise_free_keys_match_with_qber_zero_and_a_quarter_sifted():
    report = run("sarg04", qubits=60_000, seed=3)
    assert not report.aborted, report.abort_message
    assert report.keys_match and report.final_key_bits > 0
    assert report.qber_actual == 0.0 and report.qber_by_basis == {BASIS: 0.0}
    assert_rate(report.sifted_bits / report.qubits, 0.25, report.qubits)
    assert "Scarani & Renner" in report.key_length["theorem"]
    assert report.key_length["statement"] == "variable"
    fixed = run("sarg04", qubits=60_000, seed=3, key_length="fixed", qber_threshold=0.05)
    assert fixed.keys_match and fixed.final_key_bits > 0
    assert fixed.key_length["theorem"] != report.key_length["theorem"]


def test_without_noise_only_different_bases_are_conclusive_and_all_agree():
    records = _records(NoiseSpec(), EveSpec(), n=20_000, seed=5)
    c = records.choices
    conclusive = records.conclusive()
    assert not conclusive[c.alice_bases == c.bob_bases].any()
    assert_rate(
        conclusive[c.alice_bases != c.bob_bases].mean(),
        0.5,
        int((c.alice_bases != c.bob_bases).sum()),
    )
    sifted = SARG04.sift(records)
    assert np.array_equal(sifted.alice, sifted.bob)
    assert np.array_equal(sifted.alice, 1 - c.alice_bases[sifted.positions])  # X -> 0, Z -> 1


# --- closed forms on the fast and literal paths ---------------------------------------


def _depolarizing(p: float) -> tuple[float, float]:
    """Depolarizing p: ρ -> (1-p)ρ + p I/2 flips a Z or X bit with probability δ = p/2,
    so the sifted fraction is 1/4 + δ/2 = (1 + p)/4 and the QBER 2δ/(1 + 2δ) = p/(1 + p)."""
    return (1 + p) / 4, p / (1 + p)


def _amplitude_damping(g: float) -> tuple[float, float]:
    """Amplitude damping g: a Z-basis 1 decays with probability g, a 0 never (δ_Z = g/2);
    |±> keeps <σ_x> = ±sqrt(1-g), so δ_X = (1 - sqrt(1-g))/2. With δ = (δ_Z + δ_X)/2 the
    wrong conclusive fraction is δ/2 = (1 + g - sqrt(1-g))/8: sifted fraction
    1/4 + (1 + g - sqrt(1-g))/8, QBER (1 + g - sqrt(1-g)) / (3 + g - sqrt(1-g)). (In
    different bases Bob's β is biased by the damping, but the pair's other sign r is
    uniform and independent, so the 1/2 of the module docstring still holds.)"""
    w = 1 + g - math.sqrt(1 - g)
    return 0.25 + w / 8, w / (2 + w)


def _intercept_resend() -> tuple[float, float]:
    """Eve measures every exchange in a uniform basis and resends her result. Right basis
    (1/2): nothing changes, δ = 0. Wrong basis (1/2): Bob's state is an eigenstate of the
    other basis, so a BB84 bit in Alice's basis flips with probability 1/2. δ = 1/4:
    sifted fraction 1/4 + 1/8 = 3/8, QBER (1/8)/(3/8) = 1/3."""
    return 3 / 8, 1 / 3


CASES = {
    "depolarizing": ("depolarizing=0.1", "none", _depolarizing(0.1)),
    "amplitude-damping": ("amplitude-damping=0.2", "none", _amplitude_damping(0.2)),
    "intercept-resend": ("none", "intercept-resend", _intercept_resend()),
}


@pytest.mark.parametrize(("backend", "qubits"), [("aer", FAST_N), ("aer-literal", LITERAL_N)])
@pytest.mark.parametrize("case", list(CASES))
def test_qber_and_conclusive_fraction_match_the_closed_forms(case, backend, qubits):
    noise, eve, (sift_fraction, qber) = CASES[case]
    report = run("sarg04", qubits=qubits, noise=noise, eve=eve, seed=11, backend=backend)
    assert_rate(report.sifted_bits / qubits, sift_fraction, qubits)
    assert_rate(report.qber_actual, qber, report.sifted_bits)
    assert report.qber_by_basis == {BASIS: report.qber_actual}
    # The channel-independent part: correct conclusive results are exactly 1/4.
    correct = round(report.sifted_bits * (1 - report.qber_actual))
    assert_rate(correct / qubits, 0.25, qubits)


def test_eve_knows_five_sixths_of_the_key_under_full_intercept_resend():
    """Eve's guess once the pair is public: if her result excludes a member, the other;
    else the member in her basis. Conclusive cases (weights of 1): right basis, Bob in the
    other (1/8): her result is the pair's sign, she names Alice's basis: right. Wrong basis
    (r = the pair's random sign in her basis): Bob in her basis (1/8) is conclusive only if
    his result, hers, differs from r, so she names the other basis, Alice's: right; Bob in
    Alice's basis (1/8): her result is independent of the conclusion, right half the time.
    Agreement (1/8 + 1/8 + 1/16) / (3/8) = 5/6."""
    report = run("sarg04", qubits=FAST_N, eve="intercept-resend", seed=13)
    assert_rate(report.eve_agreement, 5 / 6, report.sifted_bits)


def test_runs_on_a_fake_device():
    """fake:manila's own noise is unknown, but the 1/4 of correct conclusive results holds
    for any channel; its QBER is a device error of a few percent, far below 9.69 %."""
    pytest.importorskip("qiskit_ibm_runtime")
    report = run("sarg04", qubits=3_000, seed=4, backend="fake:manila")
    assert report.protocol == "sarg04" and report.backend_info["route"] == "aer"
    assert report.qber_actual < ASYMPTOTIC_QBER_THRESHOLD / 2, report.qber_actual
    correct = round(report.sifted_bits * (1 - report.qber_actual))
    assert_rate(correct / report.qubits, 0.25, report.qubits)


# --- the public announcements ----------------------------------------------------------


def test_pair_announcement_is_independent_of_the_key_bit_and_leaks_nothing():
    """Each of the 4 pairs x 2 key bits has probability 1/8 (module docstring of
    qkd_circuits.protocols.sarg04), under noise too: the pair is drawn before the channel."""
    n = 80_000
    records = _records(NoiseSpec(amplitude_damping=0.3), EveSpec(), n=n, seed=17)
    omega_x, omega_z = records.pairs()
    key = 1 - records.choices.alice_bases
    cells = np.bincount(4 * key + 2 * omega_x + omega_z, minlength=8)
    for count in cells:
        assert_rate(count / n, 1 / 8, n)
    channel = PublicChannel()
    sifted = SARG04.sift(records, channel=channel)
    assert channel.message_count(stage="sifting") == 2
    assert channel.total_leaked_bits() == 0
    pair_msg, flag_msg = channel.messages
    assert (pair_msg.sender, flag_msg.sender) == ("alice", "bob")
    assert len(pair_msg.payload) == math.ceil(2 * n / 8) and len(flag_msg.payload) == n // 8
    assert sifted.size == int(records.conclusive().sum())


# --- circuits and interface -----------------------------------------------------------


def test_circuits_are_bb84_circuits_relabelled():
    for code in range(N_CONFIGS):
        ours, theirs = circuit_for_code(code), bb84_circuit(BB84Config.from_code(code))
        assert ours.data == theirs.data and ours.metadata["protocol"] == "sarg04"
        assert ours.name.startswith("sarg04_")
    records = _records(NoiseSpec(), EveSpec(kind="intercept-resend", fraction=0.5), n=40, seed=2)
    assert records.circuit(7).metadata["code"] == records.choices.codes[7]
    assert get_protocol("sarg04") is SARG04
    with pytest.raises(ConfigError, match="out of range"):
        records.circuit(40)


# --- asymptotic rate -------------------------------------------------------------------


def test_threshold_is_tamaki_lo_single_photon_value():
    """Root of f(Q) = h(Q): 9.689 %, the 9.68 % quoted for Tamaki & Lo's single-photon part,
    below BB84's 11.00 %."""
    root = brentq(sarg04_rate, 1e-6, 0.3, xtol=1e-15)
    assert root == pytest.approx(ASYMPTOTIC_QBER_THRESHOLD, abs=1e-12)
    assert SARG04.info.threshold == ASYMPTOTIC_QBER_THRESHOLD
    assert abs(root - 0.0968) < 1.5e-4 and root < 0.11
    assert SARG04.asymptotic_rate(0.0) == 1.0
    assert SARG04.asymptotic_rate(0.98 * root) > 0 > SARG04.asymptotic_rate(1.02 * root)


def _bell_cost(e: float, p_y: float) -> float:
    """H(phase | bit) of Bell weights with bit error e, phase error 3e/2, both p_y."""
    w = np.array([1 - 2.5 * e + p_y, e - p_y, p_y, 1.5 * e - p_y])
    w = w[w > 0]
    return float(-(w * np.log2(w)).sum()) - h(e)


@pytest.mark.parametrize("e", [0.001, 0.02, 0.05, 0.0969, 0.2, 0.3])
def test_entropy_bound_is_the_worst_bell_weight(e):
    """f(e) = 1 - max over p_Y in [e/2, e] of H(phase | bit): the max is at p_Y = e/2, and
    f lies between the uncorrelated bound 1 - h(3e/2) and BB84's 1 - h(e)."""
    worst = max(_bell_cost(e, e / 2 + i * e / 400) for i in range(201))
    assert sarg04_entropy_bound(e) == pytest.approx(1 - worst, abs=1e-12)
    assert 1 - h(1.5 * e) < sarg04_entropy_bound(e) < 1 - h(e)


def _ket(theta: float) -> np.ndarray:
    return np.array([math.cos(theta / 2), math.sin(theta / 2)], dtype=complex)


def _filtered_bell_weights(kraus: list[np.ndarray]) -> dict[str, float]:
    """Bell weights of the conclusive (filtered) pairs, summed over Alice's four pairs."""
    s, c = math.sin(math.pi / 8), math.cos(math.pi / 8)
    total, norm = dict.fromkeys("IXYZ", 0.0), 0.0
    for j in range(4):
        rot = j * math.pi / 2  # pair j is pair 0 rotated by j quarter turns on the Bloch circle
        phi0, phi1 = _ket(math.pi / 2 + rot), _ket(rot)  # |+x>-like (bit 0), |+z>-like (bit 1)
        n0, n1 = _ket(math.pi / 4 + rot), _ket(5 * math.pi / 4 + rot)
        filt = s * np.outer(n0, n0.conj()) + c * np.outer(n1, n1.conj())
        psi = (np.kron([1, 0], phi0) + np.kron([0, 1], phi1)) / math.sqrt(2)
        rho = sum(
            np.kron(np.eye(2), k) @ np.outer(psi, psi.conj()) @ np.kron(np.eye(2), k).conj().T
            for k in kraus
        )
        g = np.kron(np.eye(2), filt)
        rho = g @ rho @ g.conj().T
        k0, k1 = filt @ phi0, filt @ phi1
        k0, k1 = k0 / np.linalg.norm(k0), k1 / np.linalg.norm(k1)
        b = [k0, k1]
        a = [np.array([1, 0]), np.array([0, 1])]
        ket = {(i, j): np.kron(a[i], b[j]) for i in (0, 1) for j in (0, 1)}
        bell = {
            "I": ket[0, 0] + ket[1, 1],
            "Z": ket[0, 0] - ket[1, 1],
            "X": ket[0, 1] + ket[1, 0],
            "Y": ket[0, 1] - ket[1, 0],
        }
        for key, v in bell.items():
            total[key] += float((v.conj() @ rho @ v).real) / 2
        norm += float(np.trace(rho).real)
    return {key: value / norm for key, value in total.items()}


def test_phase_error_is_three_halves_of_the_bit_error_on_random_channels():
    """The physics behind the bound, on 300 random qubit channels (Stinespring, mixed with
    the identity for low noise): averaged over the four pairs, phase error = 3/2 bit error
    exactly, the weight of both errors lies in [e/2, e], and the Bell-diagonal entropy is
    at least f(e)."""
    rng = np.random.default_rng(23)
    for trial in range(300):
        m = rng.normal(size=(8, 2)) + 1j * rng.normal(size=(8, 2))
        q, _ = np.linalg.qr(m)
        kraus = [q[2 * i : 2 * i + 2] for i in range(4)]
        p = rng.uniform(0, 0.4) if trial % 2 else 1.0
        kraus = [math.sqrt(1 - p) * np.eye(2)] + [math.sqrt(p) * k for k in kraus]
        w = _filtered_bell_weights(kraus)
        e, e_ph = w["X"] + w["Y"], w["Z"] + w["Y"]
        assert e_ph == pytest.approx(1.5 * e, abs=1e-12)
        if e < 1 / 3:
            assert e / 2 - 1e-12 <= w["Y"] <= e + 1e-12
            assert 1 - _bell_cost(e, w["Y"]) >= sarg04_entropy_bound(e) - 1e-12


# --- finite key ------------------------------------------------------------------------


def _sample(sifted: int, qber: float, fraction: float = 0.1) -> BasisSample:
    k = math.ceil(fraction * sifted)
    return BasisSample(
        basis=BASIS, sifted_bits=sifted, sample_bits=k, sample_errors=round(qber * k)
    )


@pytest.mark.parametrize("statement", ["variable", "fixed"])
def test_finite_length_never_exceeds_the_asymptotic_rate_and_is_zero_past_the_threshold(statement):
    for sifted in (10**3, 10**4, 10**5, 10**6, 10**7, 10**8, 10**9):
        for qber in (0.0, 0.01, 0.03, 0.06, 0.09, 0.0968, 0.0975, 0.11, 0.15):
            s = _sample(sifted, qber)
            q = s.qber
            result = sarg04_key_length(
                {BASIS: s}, leaked_ec=s.key_bits * h(q), verification_bits=0, eps_sec=1e-10,
                eps_cor=1e-15, qber_tolerance=0.2, statement=statement,
            )  # fmt: skip
            assert result.length <= max(0.0, sarg04_rate(q)) * s.key_bits, (sifted, qber)
            if q >= ASYMPTOTIC_QBER_THRESHOLD:
                assert result.length == 0, (sifted, qber, result.terms)
            assert {"bound", "tolerance", "leak_ec", "verification_leak", "pa_penalty"} <= set(
                result.terms
            )


def test_finite_length_approaches_the_asymptotic_rate():
    q, rates = 0.02, []
    for sifted in (10**6, 10**8, 10**10):
        s = _sample(sifted, q)
        result = sarg04_key_length(
            {BASIS: s}, leaked_ec=s.key_bits * h(q), verification_bits=0, eps_sec=1e-10,
            eps_cor=1e-15, qber_tolerance=0.05, statement="variable",
        )  # fmt: skip
        rates.append(result.length / (s.key_bits * sarg04_rate(q)))
    assert rates[0] < rates[1] < rates[2] < 1 and rates[2] > 0.97, rates


def _at(errors: int, k: int = 10_000) -> dict[str, BasisSample]:
    return {
        BASIS: BasisSample(basis=BASIS, sifted_bits=100_000, sample_bits=k, sample_errors=errors)
    }


def test_fixed_statement_uses_the_tolerance_and_aborts_above_it():
    kwargs = dict(leaked_ec=1_000, verification_bits=50, eps_sec=1e-10, eps_cor=1e-15)
    top = max_accepted_errors(10_000, 0.04)
    lengths = {
        e: sarg04_key_length(_at(e), statement="fixed", qber_tolerance=0.04, **kwargs).length
        for e in (0, 100, top)
    }
    assert len(set(lengths.values())) == 1 and lengths[0] > 0
    for statement in ("fixed", "variable"):
        with pytest.raises(ProtocolAbort, match="exceeds the tolerance"):
            sarg04_key_length(_at(top + 1), statement=statement, qber_tolerance=0.04, **kwargs)
    variable = sarg04_key_length(_at(0), statement="variable", qber_tolerance=0.04, **kwargs)
    assert variable.length > lengths[0]  # the ladder's lowest level at 0 errors beats Q_tol


def test_key_length_refuses_bad_input():
    good = _sample(10_000, 0.01)
    kwargs = dict(
        leaked_ec=0, verification_bits=0, eps_sec=1e-10, eps_cor=1e-15, qber_tolerance=0.1
    )
    with pytest.raises(ConfigError, match="must map 'SARG04'"):
        sarg04_key_length({"Z": good}, **kwargs)
    with pytest.raises(ConfigError, match="leaked_ec"):
        sarg04_key_length({BASIS: good}, **{**kwargs, "leaked_ec": -1})
    with pytest.raises(ConfigError, match="statement"):
        sarg04_key_length({BASIS: good}, **kwargs, statement="asymptotic")  # type: ignore[arg-type]
    empty = BasisSample(basis=BASIS, sifted_bits=5, sample_bits=5, sample_errors=0)
    with pytest.raises(ConfigError, match="no key bit"):
        sarg04_key_length({BASIS: empty}, **kwargs)
    assert sarg04_analysis().basis_names == (BASIS,)
