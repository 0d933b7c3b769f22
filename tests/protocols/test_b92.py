"""The B92 protocol (Bennett, PRL 68, 3121 (1992)) against closed forms.

Statistical checks use 5 binomial standard errors (``assert_rate``) at the sample
size of the quantity checked, on seeded runs. The closed forms are derived in each
test's docstring. Notation: Alice sends |0> (bit 0) or |+> (bit 1), each with
probability 1/2; Bob measures Z or X, each with probability 1/2; his outcome 1 (|1>
in Z, |-> in X) is conclusive and reads bit ``1 − basis``. A conclusive exchange is
an error when that bit differs from Alice's. "Per exchange" probabilities are over
all four (bit, basis) pairs, each with weight 1/4.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from qiskit.quantum_info import Statevector
from scipy.optimize import brentq
from scipy.stats import unitary_group

from qkd_circuits import run
from qkd_circuits.analysis.rates import bb84_rate
from qkd_circuits.attacks.spec import EveSpec
from qkd_circuits.circuits.b92 import N_CONFIGS, NO_EVE, B92Config, b92_circuit, config_code
from qkd_circuits.errors import ConfigError, ProtocolAbort
from qkd_circuits.postprocessing.channel import PublicChannel
from qkd_circuits.postprocessing.estimation import BasisSample
from qkd_circuits.protocols.b92 import (
    ASYMPTOTIC_QBER_THRESHOLD,
    B92,
    OVERLAP,
    THEOREMS,
    B92Choices,
    B92Records,
    b92_analysis,
    b92_rate,
    draw_choices,
    sift_records,
    tki_phase_error,
    worst_phase_error,
)
from qkd_circuits.protocols.base import Protocol
from qkd_circuits.protocols.registry import PROTOCOLS, get_protocol
from tests.conftest import assert_rate
from tests.protocols.conftest import h, on_both_paths, schema_valid_json

FAST = 100_000
"""Qubits of a fast-path run: about 25,000 conclusive bits."""
LITERAL = 4_000
"""Qubits of a literal-path run (one circuit per exchange): about 1,000 conclusive bits."""
BOTH_PATHS = on_both_paths(FAST, LITERAL, names=("backend", "qubits"))


def _check_run(report, qubits: int, qber: float, conclusive: float) -> None:  # type: ignore[no-untyped-def]
    assert tuple(report.qber_by_basis) == ("B92",)
    assert_rate(report.sifted_bits / qubits, conclusive, qubits)
    assert_rate(report.qber_actual, qber, report.sifted_bits)
    assert report.qber_by_basis["B92"] == report.qber_actual


# -- registry, interface, threshold ---------------------------------------------------------


def test_registered_on_the_protocol_interface():
    assert "b92" in PROTOCOLS
    protocol = get_protocol("b92")
    assert protocol is B92 and isinstance(protocol, Protocol)
    assert protocol.registers == ("bob", "eve")
    assert protocol.info.title == "B92" and "1/4" in protocol.info.sifting
    assert protocol.analysis(None).basis_names == ("B92",)  # type: ignore[arg-type]


def test_asymptotic_rate_and_its_threshold():
    """r(Q) = 1 − h(e_ph(Q)) − h(Q), e_ph the TKI bound maximised over the gain: 1 at
    Q = 0 (no errors leave no phase error), decreasing, below BB84's 1 − 2h(Q) (B92's
    phase error exceeds its bit error), zero at 3.887 %."""
    root = brentq(B92.asymptotic_rate, 0.01, 0.1, xtol=1e-12)
    assert root == pytest.approx(0.038871, abs=1e-6)
    assert B92.info.threshold == ASYMPTOTIC_QBER_THRESHOLD == pytest.approx(root, abs=1e-6)
    assert B92.asymptotic_rate(0.0) == 1.0
    grid = np.linspace(0.0, 0.1, 41)
    rates = [B92.asymptotic_rate(q) for q in grid]
    assert all(a > b for a, b in itertools.pairwise(rates))
    assert all(r < float(bb84_rate(q)) for q, r in zip(grid[1:], rates[1:], strict=True))
    with pytest.raises(ConfigError, match=r"got 1\.5"):
        B92.asymptotic_rate(1.5)


def _depolarizing_threshold(overlap: float) -> float:
    """Tolerable depolarizing rate p (ρ → (1 − p) ρ + (p/3) Σ σρσ, Bloch vector shrunk
    by λ = 1 − 4p/3) of the TKI bound at the channel's own gain."""

    def rate(p: float) -> float:
        lam = 1 - 4 * p / 3
        gain = lam * (1 - overlap**2) / 2 + (1 - lam) / 2
        q = (1 - lam) / 4 / gain
        e = tki_phase_error(gain, q, overlap=overlap)
        assert e is not None
        return 1 - h(e) - h(q)

    return float(brentq(rate, 1e-4, 0.1, xtol=1e-10))


def test_tki_bound_reproduces_the_published_depolarizing_threshold():
    """Tamaki & Lütkenhaus, PRA 69, 032316 (2004), Fig. 2 at no loss: with the overlap
    chosen best the key survives depolarization up to p ≈ 3.4 %, at c² ≈ 0.46; Matsumoto
    (arXiv:1301.5083) and Sasaki et al. (arXiv:1504.05628) list the earlier analyses as
    giving no key at 3.5 %. Here the channel is ρ → λρ + (1 − λ) I/2 with λ = 1 − 4p/3:
    Bob is conclusive with probability G = λ(1 − c²)/2 + (1 − λ)/2 and errs on (1 − λ)/4
    of the exchanges (the I/2 part hits the wrong projector with probability 1/4)."""
    overlaps = np.linspace(0.60, 0.76, 33)
    limits = [_depolarizing_threshold(c) for c in overlaps]
    best = int(np.argmax(limits))
    assert 0.033 < limits[best] < 0.035
    assert overlaps[best] ** 2 == pytest.approx(0.46, abs=0.02)
    # B92 here (c = 1/√2) sits just below the optimum, and the protocol's own threshold,
    # which holds for any gain, below the depolarizing channel's QBER at that limit.
    p = _depolarizing_threshold(OVERLAP)
    assert 0.032 < p < limits[best]
    lam = 1 - 4 * p / 3
    qber_at_limit = (1 - lam) / 4 / (lam / 4 + (1 - lam) / 2)
    assert qber_at_limit > ASYMPTOTIC_QBER_THRESHOLD


# -- the phase-error bound ------------------------------------------------------------------

ALPHA, BETA = math.sqrt((1 - OVERLAP) / 2), math.sqrt((1 + OVERLAP) / 2)
PHI = (np.array([1.0, 0.0]), np.array([1.0, 1.0]) / math.sqrt(2))  # |0>, |+>
BX = ((PHI[0] + PHI[1]) / (2 * BETA), (PHI[0] - PHI[1]) / (2 * ALPHA))  # Bob's |0_x>, |1_x>
AX = (np.array([1.0, 1.0]) / math.sqrt(2), np.array([1.0, -1.0]) / math.sqrt(2))  # Alice's
F0 = 0.5 * np.outer([1, -1], [1, -1]) / 2  # ½|-><-|: bit 0
F1 = 0.5 * np.diag([0.0, 1.0])  # ½|1><1|: bit 1
K = ALPHA * np.outer(BX[0], BX[0]) + BETA * np.outer(BX[1], BX[1])


def _statistics(rho: np.ndarray) -> tuple[float, float, float]:
    """(gain, QBER, phase error rate) of a state ρ_AB of the source-replacement picture:
    A is Alice's qubit (Z outcome = her bit), B the qubit Bob receives."""
    gain = float(np.trace(rho @ np.kron(np.eye(2), F0 + F1)).real)
    wrong = sum(
        np.trace(rho @ np.kron(np.outer(a, a), f)).real
        for a, f in ((np.array([1.0, 0.0]), F1), (np.array([0.0, 1.0]), F0))
    )
    sigma = np.kron(np.eye(2), K) @ rho @ np.kron(np.eye(2), K)
    phase = sum(
        (np.kron(AX[x], BX[y]) @ sigma @ np.kron(AX[x], BX[y])).real for x, y in ((0, 1), (1, 0))
    )
    return gain, float(wrong) / gain, float(phase) / gain


def test_the_filter_picture_matches_bobs_measurement():
    """TKI: Bob's conclusive POVM elements are K|j_z><j_z|K with K = α|0_x><0_x| +
    β|1_x><1_x| and |j_z> = (|0_x> ± |1_x>)/√2 in the basis where |φ_j> = β|0_x> ±
    α|1_x>; the source |Ψ> = (|0>|0> + |1>|+>)/√2 equals β|0_x 0_x> + α|1_x 1_x>."""
    z = np.eye(2)
    bz = ((BX[0] + BX[1]) / math.sqrt(2), (BX[0] - BX[1]) / math.sqrt(2))
    assert np.allclose(K @ np.outer(bz[0], bz[0]) @ K, F0)
    assert np.allclose(K @ np.outer(bz[1], bz[1]) @ K, F1)
    assert np.allclose(K @ K, F0 + F1)
    psi = (np.kron(z[0], PHI[0]) + np.kron(z[1], PHI[1])) / math.sqrt(2)
    assert np.allclose(psi, BETA * np.kron(AX[0], BX[0]) + ALPHA * np.kron(AX[1], BX[1]))
    assert PHI[0] @ PHI[1] == pytest.approx(BETA**2 - ALPHA**2) == pytest.approx(OVERLAP)


@pytest.mark.parametrize(("gain", "qber"), [(0.25, 0.01), (0.24, 0.02), (0.23, 0.03), (0.26, 0.05)])
def test_the_bound_is_attained_by_a_state_with_the_observed_statistics(gain, qber):
    """The bound is the largest phase error of a state with maximal coherences: in the
    X⊗X basis, diagonal d_ab from (x_max, Δ) and <00|ρ|11> = √(d00 d11), <01|ρ|10> =
    √(d01 d10). That state is positive, has Alice's marginal diag(β², α²) and shows
    exactly this gain and QBER, with the bound as its phase error: the algebra of the
    module docstring, checked on an explicit state."""
    e = tki_phase_error(gain, qber)
    assert e is not None and 0 < e < 0.5
    delta = (gain - 2 * ALPHA**2 * BETA**2) / OVERLAP
    x = 2 * gain * e - OVERLAP * delta
    d01, d10 = (x + delta) / 2, (x - delta) / 2
    d00, d11 = BETA**2 - d01, ALPHA**2 - d10
    basis = [np.kron(AX[a], BX[b]) for a, b in itertools.product((0, 1), (0, 1))]
    m = np.diag([d00, d01, d10, d11])
    m[0, 3] = m[3, 0] = math.sqrt(d00 * d11)
    m[1, 2] = m[2, 1] = math.sqrt(d01 * d10)
    u = np.column_stack(basis)
    rho = u @ m @ u.T
    assert np.linalg.eigvalsh(rho).min() > -1e-12
    rho_a = rho.reshape(2, 2, 2, 2).trace(axis1=1, axis2=3)
    assert np.allclose(rho_a, BETA**2 * np.outer(AX[0], AX[0]) + ALPHA**2 * np.outer(AX[1], AX[1]))
    g, q, phase = _statistics(rho)
    assert (g, q) == pytest.approx((gain, qber), abs=1e-9)
    assert phase == pytest.approx(e, abs=1e-9)


def test_no_channel_exceeds_the_bound():
    """Any channel Eve applies to Bob's qubit (a random isometry into qubit ⊗ 4-dim
    environment, mixed with the identity) gives a phase error no larger than the bound
    at its own gain, nor than the bound maximised over the gain."""
    rng = np.random.default_rng(7)
    z = np.eye(2)
    psi = (np.kron(z[0], PHI[0]) + np.kron(z[1], PHI[1])) / math.sqrt(2)
    source = np.outer(psi, psi).reshape(2, 2, 2, 2)
    checked = 0
    for _ in range(300):
        v = unitary_group.rvs(8, random_state=rng)[:, :2]
        lam = rng.random() ** 3

        def channel(r: np.ndarray, v: np.ndarray = v, lam: float = lam) -> np.ndarray:
            out = (v @ r @ v.conj().T).reshape(2, 4, 2, 4).trace(axis1=1, axis2=3)
            return (1 - lam) * r + lam * out

        rho = np.zeros((4, 4), dtype=complex)
        for i, j in itertools.product((0, 1), (0, 1)):
            rho[2 * i : 2 * i + 2, 2 * j : 2 * j + 2] = channel(source[i, :, j, :])
        gain, qber, phase = _statistics(rho)
        bound = tki_phase_error(gain, qber)
        assert bound is not None, (gain, qber)
        if bound < 0.5:
            checked += 1
            assert phase <= bound + 1e-9 and phase <= worst_phase_error(qber) + 1e-9
    assert checked > 100


def test_the_worst_case_over_the_gain():
    """The maximum over the gain dominates the bound at every gain, grows with Q and is
    0 at Q = 0 (only the honest gain 2α²β² = 1/4 is then possible); impossible
    (gain, QBER) pairs have no bound."""
    for q in (0.002, 0.01, 0.03):
        worst = worst_phase_error(q)
        for gain in np.linspace(0.15, 0.85, 141):
            e = tki_phase_error(gain, q)
            assert e is None or e <= worst
    qs = np.linspace(0.0, 0.12, 25)
    values = [worst_phase_error(q) for q in qs]
    assert values[0] == 0.0 and all(a < b for a, b in itertools.pairwise(values))
    assert worst_phase_error(0.13) == 0.5  # capped: no key whatever the bit errors
    assert tki_phase_error(0.25, 0.0) == pytest.approx(0.0, abs=1e-12)
    assert tki_phase_error(0.10, 0.01) is None  # below α² ≈ 0.146: no state
    assert tki_phase_error(0.40, 0.0) is None  # no errors force the gain 1/4
    assert worst_phase_error(0.5) == 0.5
    with pytest.raises(ConfigError, match="overlap"):
        worst_phase_error(0.01, overlap=1.0)
    with pytest.raises(ConfigError, match="gain"):
        tki_phase_error(0.0, 0.01)


# -- circuits -------------------------------------------------------------------------------


def test_codes_round_trip_and_are_dense():
    assert {B92Config.from_code(c).code for c in range(N_CONFIGS)} == set(range(N_CONFIGS))
    assert N_CONFIGS == 12 and config_code(1, 1, 1) == 11 and config_code(0, 0, NO_EVE) == 0
    with pytest.raises(ConfigError, match=r"\[0, 12\), got 12"):
        B92Config.from_code(12)
    for kwargs in ({"alice_bit": 2, "bob_basis": 0}, {"alice_bit": 0, "bob_basis": 2},
                   {"alice_bit": 0, "bob_basis": 0, "eve_basis": 2}):  # fmt: skip
        with pytest.raises(ConfigError, match="got 2"):
            B92Config(**kwargs)


@pytest.mark.parametrize(("bit", "basis"), list(itertools.product((0, 1), (0, 1))))
def test_bob_is_conclusive_only_on_the_state_he_rules_out(bit, basis):
    """|<1|0>|² = 0, |<1|+>|² = 1/2, |<-|0>|² = 1/2, |<-|+>|² = 0: Bob's outcome 1 has
    probability 1/2 when its bit 1 − basis is Alice's bit, and 0 otherwise (never wrong)."""
    circuit = b92_circuit(B92Config(alice_bit=bit, bob_basis=basis))
    state = Statevector(circuit.remove_final_measurements(inplace=False))
    p_one = state.probabilities([0])[1]
    assert p_one == pytest.approx(0.5 if 1 - basis == bit else 0.0, abs=1e-12)
    assert circuit.metadata["alice_state"] == ("|0>", "|+>")[bit]


@pytest.mark.parametrize(("bit", "basis", "eve"), list(itertools.product((0, 1), (0, 1), (0, 1))))
def test_eves_probe_is_her_measurement_and_she_resends_what_she_found(bit, basis, eve):
    """Eve's probe reads her outcome in her basis (Born rule on Alice's state) and Bob
    then measures the eigenstate she found: P(eve = e, bob = 1) = P_A(e) · P(1 | e_state)."""
    circuit = b92_circuit(B92Config(alice_bit=bit, bob_basis=basis, eve_basis=eve))
    p = Statevector(circuit.remove_final_measurements(inplace=False)).probabilities([0, 1])
    p = p.reshape(2, 2)  # [eve outcome, bob outcome]
    states = {0: (np.array([1, 0]), np.array([0, 1])), 1: AX}  # Z: |0>,|1>; X: |+>,|->
    bob_one = {0: np.array([0, 1]), 1: AX[1]}[basis]  # Bob's outcome 1: |1> or |->
    for e in (0, 1):
        found = states[eve][e]
        p_e = abs(found @ PHI[bit]) ** 2
        assert p[e, :].sum() == pytest.approx(p_e, abs=1e-12)
        assert p[e, 1] == pytest.approx(p_e * abs(bob_one @ found) ** 2, abs=1e-12)


def test_metadata_registers_and_terminal_measurements():
    circuit = B92.circuit_for_code(config_code(1, 0, 1))
    assert circuit.metadata == {
        "protocol": "b92", "alice_bit": 1, "alice_state": "|+>", "bob_basis": "Z",
        "eve_basis": "X", "code": config_code(1, 0, 1),
        "eve_attack": "intercept-resend",
    }  # fmt: skip
    assert [r.name for r in circuit.cregs] == ["bob", "eve"]
    names = [inst.operation.name for inst in circuit.data]
    assert names[-2:] == ["measure", "measure"] and "measure" not in names[:-2]
    no_eve = B92.circuit_for_code(config_code(0, 1, NO_EVE))
    assert [r.name for r in no_eve.cregs] == ["bob"] and no_eve.num_qubits == 1


# -- choices, records, sifting --------------------------------------------------------------


def test_choices_are_uniform_and_eve_attacks_the_fraction_asked():
    n = 80_000
    c = draw_choices(n, eve=EveSpec(kind="intercept-resend", fraction=0.5), rng=5)
    assert_rate(float(c.alice_bits.mean()), 0.5, n)
    assert_rate(float(c.bob_bases.mean()), 0.5, n)
    attacked = c.eve_bases >= 0
    assert_rate(float(attacked.mean()), 0.5, n)
    assert_rate(float(c.eve_bases[attacked].mean()), 0.5, int(attacked.sum()))
    assert set(np.unique(c.codes).tolist()) <= set(range(N_CONFIGS))
    assert np.all(draw_choices(100, rng=1).eve_bases == NO_EVE)
    with pytest.raises(ConfigError, match="shape"):
        B92Choices(alice_bits=c.alice_bits, bob_bases=c.bob_bases[:3], eve_bases=c.eve_bases)


def test_sifting_keeps_the_conclusive_exchanges_and_announces_only_that():
    n = 2_000
    choices = draw_choices(n, eve=EveSpec(kind="intercept-resend"), rng=2)
    rng = np.random.default_rng(3)
    bob = rng.integers(0, 2, size=n, dtype=np.uint8)
    eve = rng.integers(0, 2, size=n, dtype=np.uint8)
    records = B92Records(choices=choices, bob_bits=bob, eve_bits=eve)
    channel = PublicChannel()
    sifted = sift_records(records, channel=channel)
    assert np.array_equal(sifted.positions, np.flatnonzero(bob == 1))
    assert np.array_equal(sifted.bob, 1 - choices.bob_bases[bob == 1])
    assert np.array_equal(sifted.alice, choices.alice_bits[bob == 1])
    assert sifted.basis_names == ("B92",) and not sifted.bases.any()
    guess = eve ^ choices.eve_bases.astype(np.uint8)  # Z: her result; X: its complement
    assert sifted.eve_bits is not None and np.array_equal(sifted.eve_bits, guess[bob == 1])
    (message,) = channel.messages
    assert message.sender == "bob" and message.payload == np.packbits(bob).tobytes()
    assert channel.total_leaked_bits() == 0
    with pytest.raises(ConfigError, match="out of range"):
        records.circuit(n)


@pytest.mark.parametrize(
    ("noise", "p_bit1"),
    [("none", 0.25), ("depolarizing=0.1", 0.275),
     ("amplitude-damping=0.2", (2 - 0.2 - math.sqrt(0.8)) / 4)],
)  # fmt: skip
def test_the_announcement_is_independent_of_the_bit_only_for_a_symmetric_channel(noise, p_bit1):
    """Is the conclusive flag independent of Alice's bit? P(concl | 0) = ½ P(1 | Z, ρ_0) +
    ½ P(- | X, ρ_0), the same with ρ_1 for bit 1.

    * No noise: ½ · 0 + ½ · ½ = 1/4 for bit 0, ½ · ½ + ½ · 0 = 1/4 for bit 1: independent.
    * Depolarizing p (ρ → (1 − p)ρ + p I/2): the I/2 part adds ½ · p/2 in each basis:
      (1 + p)/4 for both bits: independent.
    * Amplitude damping γ: |0> is untouched, 1/4 for bit 0; |+> reads |1> with (1 − γ)/2
      in Z and |-> with (1 − √(1−γ))/2 in X (see test_amplitude_damping), so bit 1 is conclusive
      with probability (2 − γ − √(1−γ))/4 < 1/4: the flag tells Eve something. The key
      length does not subtract it because the entropy bound conditions on it."""
    report = run("b92", qubits=FAST, seed=21, noise=noise)
    c, concl = report.records.choices, report.records.conclusive
    for bit, expected in ((0, (1 + 0.1) / 4 if "depol" in noise else 0.25), (1, p_bit1)):
        mask = c.alice_bits == bit
        assert_rate(float(concl[mask].mean()), expected, int(mask.sum()))


# -- runs against closed forms --------------------------------------------------------------


@BOTH_PATHS
def test_noiseless_run_gives_matching_keys_and_sifts_a_quarter(backend, qubits):
    """Per exchange Bob is conclusive with probability ½ · ½ (bit 0: X basis, outcome
    |->) + ½ · ½ (bit 1: Z basis, outcome |1>) = 1/4, and a conclusive outcome rules out
    the other state: QBER 0."""
    report = run("b92", qubits=qubits, seed=11, backend=backend)
    _check_run(report, qubits, 0.0, 0.25)
    assert report.qber_actual == 0.0 and report.eve_agreement is None
    if backend == "aer":
        assert report.keys_match is True and not report.aborted
        assert report.final_key_bits > 0.1 * report.sifted_bits
        assert report.key_length is not None
        assert report.key_length["theorem"] == THEOREMS["variable"]
        assert set(report.key_length["phase_error_bound"]) == {"B92"}
    else:  # 1,000 conclusive bits are far too few for the Scarani–Renner length
        assert report.abort_reason == "key_too_short" and report.final_key_bits == 0


@BOTH_PATHS
def test_depolarizing_gives_p_over_one_plus_p(backend, qubits):
    """Depolarizing p: ρ → (1 − p)ρ + p I/2. Bit 0 (|0>): in Z the I/2 part reads |1>
    with probability 1/2, so Bob errs with p/2; in X he reads |-> with 1/2 (correct),
    noise or not. Bit 1 (|+>) the same with the bases swapped. Per exchange: errors
    ½ · ½ · p/2 · 2 = p/4, correct ½ · ½ · ½ · 2 = 1/4; conclusive (1 + p)/4, QBER p/(1 + p)."""
    p = 0.1 if backend == "aer" else 0.3
    report = run("b92", qubits=qubits, seed=12, backend=backend, noise=f"depolarizing={p}")
    _check_run(report, qubits, p / (1 + p), (1 + p) / 4)


@BOTH_PATHS
def test_amplitude_damping(backend, qubits):
    """Amplitude damping γ: Bloch vector (x, y, z) → (√(1−γ) x, √(1−γ) y, γ + (1−γ) z).

    * Bit 0, |0> (z = 1), is unchanged: never |1> in Z; |-> with 1/2 in X (correct).
    * Bit 1, |+> (x = 1) → x' = √(1−γ), z' = γ: in Z, |1> with (1 − z')/2 = (1 − γ)/2
      (correct); in X, |-> with (1 − x')/2 = (1 − √(1−γ))/2 (an error).

    Per exchange (¼ each): correct (½ + (1 − γ)/2)/4 = (2 − γ)/8, errors (1 − √(1−γ))/8:
    conclusive (3 − γ − √(1−γ))/8, QBER (1 − √(1−γ)) / (3 − γ − √(1−γ))."""
    g = 0.2 if backend == "aer" else 0.5
    s = math.sqrt(1 - g)
    report = run("b92", qubits=qubits, seed=13, backend=backend, noise=f"amplitude-damping={g}")
    _check_run(report, qubits, (1 - s) / (3 - g - s), (3 - g - s) / 8)


@BOTH_PATHS
def test_full_intercept_resend_gives_a_third_and_eve_five_sixths(backend, qubits):
    """Eve measures Z or X (½ each) and resends the eigenstate she found. Bit 0 (|0>):

    * Eve Z finds |0>, resends it: Bob's X gives |-> with ½ (correct): ¼; no error.
    * Eve X finds |+> or |-> (½ each). |+>: Bob's Z gives |1> with ½ (error), X never
      |->. |->: Bob's Z gives |1> with ½ (error), X gives |-> for sure (correct). So
      errors ½(¼) + ½(¼) = ¼, correct ½(0) + ½(½) = ¼.

    Per bit: correct ½ · ¼ + ½ · ¼ = 1/4, errors ½ · 0 + ½ · ¼ = 1/8; bit 1 the same by
    the symmetry |0> ↔ |+>, Z ↔ X. Conclusive 3/8, QBER 1/3. Eve guesses her Z result,
    the complement of her X result (|1> proves |+>, |-> proves |0>): of the 3/8 conclusive
    (bit 0), her guess is right on Eve-Z (1/8) and Eve-X-found-|-> (½ · ½ · ¾ = 3/16),
    wrong on Eve-X-found-|+> (½ · ½ · ¼ = 1/16): agreement (5/16)/(3/8) = 5/6. The run
    aborts."""
    report = run("b92", qubits=qubits, seed=14, backend=backend, eve="intercept-resend")
    _check_run(report, qubits, 1 / 3, 3 / 8)
    assert report.eve_agreement is not None
    assert_rate(report.eve_agreement, 5 / 6, report.sifted_bits)
    assert report.aborted and report.abort_reason == "qber_above_threshold"
    assert report.final_key_bits == 0


def test_partial_intercept_resend():
    """Each exchange attacked independently with probability f: per exchange correct 1/4
    whether attacked or not, errors f/8 (previous test); conclusive 1/4 + f/8, QBER
    f/(2 + f); Eve's agreement on the attacked conclusive bits stays 5/6."""
    f = 0.5
    report = run("b92", qubits=FAST, seed=15, eve=f"intercept-resend={f}")
    _check_run(report, FAST, f / (2 + f), 0.25 + f / 8)
    attacked = report.sifted.eve_attacked
    assert attacked is not None and report.eve_agreement is not None
    # attacked exchanges are conclusive with 3/8, the others with 1/4
    assert_rate(float(attacked.mean()), f * 3 / 8 / (0.25 + f / 8), report.sifted_bits)
    assert_rate(report.eve_agreement, 5 / 6, int(attacked.sum()))


def test_runs_on_a_fake_device_with_its_noise():
    """fake:manila (device snapshot, 1-qubit circuits without Eve). Its dominant error is
    the readout error r of the qubit chosen (symmetric in the simulator's model; gate
    errors ~2e-4). Bit 0: Z reads |1> with r (error), X reads 1 with ½ (correct); bit 1
    the same with the bases swapped. Per exchange: errors r/2, correct 1/4; conclusive
    (1 + 2r)/4, QBER 2r/(1 + 2r): B92 doubles the readout error (every inconclusive
    outcome misread becomes a conclusive bit, always wrong). The run completes; at
    4,000 qubits it cannot give a key."""
    qubits = 4_000
    report = run("b92", qubits=qubits, seed=16, backend="fake:manila")
    assert report.backend_info["name"] == "fake:manila"
    (r,) = report.backend_info["calibration"]["slots"][0]["readout_errors"]
    _check_run(report, qubits, 2 * r / (1 + 2 * r), (1 + 2 * r) / 4)
    assert report.qber_actual < ASYMPTOTIC_QBER_THRESHOLD
    assert report.abort_reason in ("key_too_short", "qber_above_threshold")


def test_the_json_report_follows_its_published_schema():
    for kwargs in ({"qubits": FAST}, {"qubits": 3_000, "eve": "intercept-resend"}):
        data = schema_valid_json(run("b92", seed=17, **kwargs))  # type: ignore[arg-type]
        assert data["protocol"] == "b92" and list(data["qber_by_basis"]) == ["B92"]
    assert data["eve_agreement"] is not None


# -- finite key -----------------------------------------------------------------------------


def _sample(n_key: int, k: int, e: int) -> dict[str, BasisSample]:
    return {"B92": BasisSample(basis="B92", sifted_bits=n_key + k, sample_bits=k, sample_errors=e)}


def _result(q: float, n_key: int, *, tolerance: float = 0.5, statement: str = "variable",
            eps_sec: float = 1e-10):  # type: ignore[no-untyped-def]  # fmt: skip
    k = max(1, n_key // 10)
    return b92_analysis().key_length(
        _sample(n_key, k, math.floor(q * k)), leaked_ec=n_key * h(q), verification_bits=50,
        eps_sec=eps_sec, eps_cor=1e-15, qber_tolerance=tolerance, statement=statement,  # type: ignore[arg-type]
    )  # fmt: skip


@pytest.mark.parametrize("statement", ["variable", "fixed"])
def test_finite_key_never_exceeds_the_asymptotic_rate_and_stops_at_the_threshold(statement):
    """On a grid of sample counts, with reconciliation at the Shannon limit: ℓ ≤ r(Q) · n
    with r the asymptotic rate, n the key bits, Q the sample's error rate; past the
    threshold ℓ = 0."""
    for n_key, q in itertools.product(
        (1_000, 10_000, 100_000, 10**6, 10**8, 10**10),
        (0.0, 0.002, 0.005, 0.01, 0.02, 0.03, 0.035, 0.0385),
    ):
        k = max(1, n_key // 10)
        length = _result(q, n_key, statement=statement).length
        assert length <= max(0.0, b92_rate(math.floor(q * k) / k)) * n_key, (n_key, q)
    for n_key, q in itertools.product((10**4, 10**6, 10**10), (0.039, 0.05, 0.1, 0.3)):
        assert _result(q, n_key, statement=statement).length == 0


def test_finite_key_approaches_the_asymptotic_rate():
    """At n = 10^10 the statistical terms are ~10^-4: the fixed statement at Q_tol = Q
    gives nearly the asymptotic rate; at n = 10^4 the 7 √(log2(2/ε̄)/n) term alone is 0.46."""
    for q in (0.005, 0.01, 0.03):
        ratio = _result(q, 10**10, tolerance=q, statement="fixed").length / 10**10
        assert b92_rate(q) - 0.005 < ratio <= b92_rate(q)
    assert _result(0.0, 10_000).length == 0
    n = _result(0.0, 10_000).terms["key_bits"]
    delta = 7 * math.sqrt(math.log2(2 * 4 * 64 / 1e-10) / n)  # ε̄ = ε_sec / 64 / 4
    assert _result(0.0, 10_000).terms["aep_penalty"] / n == pytest.approx(delta)
    assert delta > 0.45


def test_the_security_parameter_is_split_in_four_and_over_the_ladder():
    """ε_PE = ε̄ = ε_PA = ε/4 with ε = ε_sec/64 (variable) or ε_sec (fixed): the terms
    show it, and the variable statement at its level is the fixed one at ε_sec/64."""
    eps = 1e-10
    variable = _result(0.01, 10**6, tolerance=0.11, eps_sec=eps)
    t = variable.terms
    assert t["levels"] == 64 and t["pa_penalty"] == pytest.approx(2 * math.log2(4 * 64 / eps))
    n = t["key_bits"]
    assert t["aep_penalty"] == pytest.approx(7 * math.sqrt(n * math.log2(2 * 4 * 64 / eps)))
    fixed = _result(0.01, 10**6, tolerance=t["tolerance"], statement="fixed", eps_sec=eps / 64)
    assert fixed.terms["bound"] == pytest.approx(t["bound"], rel=1e-12)
    assert fixed.length == variable.length > 0
    q_plus = t["error_rate_bound"]
    assert q_plus > 0.01
    assert variable.phase_error_bound["B92"] == pytest.approx(worst_phase_error(q_plus))
    assert t["entropy_per_bit"] == pytest.approx(1 - h(worst_phase_error(q_plus)))
    for name in ("bound", "tolerance", "leak_ec", "verification_leak", "pa_penalty"):
        assert name in t


def test_theorems_name_the_attack_class_and_the_citations():
    for text in THEOREMS.values():
        assert "collective attacks only" in text and "0708.0709" in text
        assert "167904" in text and "1504.05628" in text
        assert "eps_PE = eps_bar = eps_PA = eps/4" in text and "Clopper-Pearson" in text
    assert "eps_sec/64" in THEOREMS["variable"] and "Q_tol" in THEOREMS["fixed"]


def test_bad_samples_and_arguments_are_refused():
    analysis = b92_analysis()
    good = _sample(1000, 100, 1)
    kwargs = {"leaked_ec": 10, "verification_bits": 50, "eps_sec": 1e-10, "eps_cor": 1e-15,
              "qber_tolerance": 0.11, "statement": "variable"}  # fmt: skip
    with pytest.raises(ConfigError, match="'B92'"):
        analysis.key_length({"Z": good["B92"]}, **kwargs)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="no key bit"):
        analysis.key_length(_sample(0, 100, 0), **kwargs)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="leaked_ec"):
        analysis.key_length(good, **{**kwargs, "leaked_ec": -1})  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="statement"):
        analysis.key_length(good, **{**kwargs, "statement": "asymptotic"})  # type: ignore[arg-type]
    with pytest.raises(ProtocolAbort, match="exceeds the tolerance"):
        analysis.key_length(_sample(1000, 100, 20), **kwargs)  # type: ignore[arg-type]


def test_check_aborts_above_the_b92_threshold_even_under_a_looser_tolerance():
    analysis = b92_analysis()
    analysis.check(_sample(10_000, 1_000, 38), qber_threshold=0.11)  # 3.8 %: passes
    with pytest.raises(ProtocolAbort, match=r"threshold 0\.038871"):
        analysis.check(_sample(10_000, 1_000, 40), qber_threshold=0.11)
    with pytest.raises(ProtocolAbort, match=r"threshold 0\.010000"):
        analysis.check(_sample(10_000, 1_000, 20), qber_threshold=0.01)


def test_a_short_run_is_a_key_too_short_abort_with_a_length_hint():
    """Without noise the Scarani–Renner length needs about 64,000 qubits (a 10 % sample):
    at 20,000 no key is emitted and the message says how many would do."""
    report = run("b92", qubits=20_000, seed=18)
    assert report.abort_reason == "key_too_short" and report.final_key_bits == 0
    assert report.abort_message is not None and "a key needs about" in report.abort_message
