"""The six-state protocol (Bruß, PRL 81, 3018 (1998)) against closed forms.

Statistical checks use 5 binomial standard errors (``assert_rate``) at the sample
size of the quantity checked, on seeded runs. The closed forms are derived in each
test's docstring. Notation: Alice's state has Bloch vector r; a measurement along
the unit axis m gives the outcome of the eigenstate +m with probability (1 + m.r)/2.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from qiskit.quantum_info import Statevector
from scipy.optimize import brentq

from qkd_circuits import run
from qkd_circuits.analysis.rates import bb84_rate, qber_threshold, six_state_rate
from qkd_circuits.attacks.spec import EveSpec
from qkd_circuits.circuits.six_state import (
    N_CONFIGS,
    NO_EVE,
    SixStateConfig,
    config_code,
    config_codes,
    six_state_circuit,
)
from qkd_circuits.errors import ConfigError, ProtocolAbort
from qkd_circuits.postprocessing.channel import PublicChannel
from qkd_circuits.postprocessing.estimation import BasisSample
from qkd_circuits.protocols.base import Protocol
from qkd_circuits.protocols.registry import PROTOCOLS, get_protocol
from qkd_circuits.protocols.six_state import (
    SIX_STATE,
    THEOREMS,
    SixStateChoices,
    SixStateRecords,
    draw_choices,
    sift_records,
)
from tests.conftest import assert_rate
from tests.protocols.conftest import check_per_basis, h, on_both_paths, schema_valid_json

FAST = 90_000
"""Qubits of a fast-path run: about 10,000 sifted bits per basis."""
LITERAL = 4_000
"""Qubits of a literal-path run (one circuit per exchange): about 440 sifted bits per basis."""
BASES = ("Z", "X", "Y")
BOTH_PATHS = on_both_paths(FAST, LITERAL, names=("backend", "qubits"))


# -- registry, interface, threshold ---------------------------------------------------------


def test_registered_on_the_protocol_interface():
    assert "six-state" in PROTOCOLS
    protocol = get_protocol("six-state")
    assert protocol is SIX_STATE and isinstance(protocol, Protocol)
    assert protocol.registers == ("bob", "eve")
    assert protocol.info.title == "Six-state" and "1/3" in protocol.info.sifting


def test_asymptotic_threshold_is_los_twelve_point_six_percent():
    """Lo, QIC 1, 81 (2001): the one-way rate vanishes at e = 12.62 %."""
    root = brentq(SIX_STATE.asymptotic_rate, 0.05, 0.2, xtol=1e-12)
    assert root == pytest.approx(0.126193, abs=1e-6)
    assert SIX_STATE.info.threshold == pytest.approx(root, abs=1e-6)
    assert SIX_STATE.info.threshold == pytest.approx(qber_threshold("six-state"), abs=1e-6)
    # Lo's rate in closed form: 1 + (1 - 3e/2) log2(1 - 3e/2) + (3e/2) log2(e/2).
    e = 0.05
    closed = 1 + (1 - 1.5 * e) * math.log2(1 - 1.5 * e) + 1.5 * e * math.log2(e / 2)
    assert SIX_STATE.asymptotic_rate(e) == pytest.approx(closed, rel=1e-12)
    assert SIX_STATE.asymptotic_rate(e) > float(bb84_rate(e))


# -- circuits -------------------------------------------------------------------------------


def test_codes_round_trip_and_are_dense():
    assert {SixStateConfig.from_code(c).code for c in range(N_CONFIGS)} == set(range(N_CONFIGS))
    rows = np.array([[1, 2, 0, NO_EVE], [0, 1, 2, 2], [1, 0, 1, 0]])
    assert config_codes(*(rows[:, i] for i in range(4))).tolist() == [
        config_code(*row) for row in rows.tolist()
    ]
    assert N_CONFIGS == 72


EXPECTED_STATES = {
    (0, 0): np.array([1, 0]),
    (1, 0): np.array([0, 1]),
    (0, 1): np.array([1, 1]) / math.sqrt(2),
    (1, 1): np.array([1, -1]) / math.sqrt(2),
    (0, 2): np.array([1, 1j]) / math.sqrt(2),
    (1, 2): np.array([1, -1j]) / math.sqrt(2),
}


@pytest.mark.parametrize(("bit", "basis"), list(itertools.product((0, 1), (0, 1, 2))))
def test_alice_prepares_the_six_states(bit, basis):
    # With Bob in Z (no basis change) the state before measurement is Alice's state.
    circuit = six_state_circuit(SixStateConfig(alice_bit=bit, alice_basis=basis, bob_basis=0))
    state = Statevector(circuit.remove_final_measurements(inplace=False))
    assert state.equiv(Statevector(EXPECTED_STATES[bit, basis]))


@pytest.mark.parametrize(
    ("bit", "alice", "bob"), list(itertools.product((0, 1), (0, 1, 2), (0, 1, 2)))
)
def test_bob_reads_alices_bit_in_her_basis_and_a_coin_in_the_others(bit, alice, bob):
    """Same basis: Bob's outcome is Alice's bit. Different bases: the bases are mutually
    unbiased, |<a|b>|^2 = 1/2, so Bob reads 1 with probability 1/2."""
    circuit = six_state_circuit(SixStateConfig(alice_bit=bit, alice_basis=alice, bob_basis=bob))
    p_one = Statevector(circuit.remove_final_measurements(inplace=False)).probabilities([0])[1]
    assert p_one == pytest.approx(float(bit) if alice == bob else 0.5, abs=1e-12)


@pytest.mark.parametrize(
    ("bit", "basis", "eve"), list(itertools.product((0, 1), (0, 1, 2), (0, 1, 2)))
)
def test_eve_in_the_circuit_gives_the_intercept_resend_statistics(bit, basis, eve):
    """Eve's probe reads Alice's bit when she guessed the basis, a coin otherwise; Bob,
    in Alice's basis, then errs with probability 0 or 1/2 (Eve resent an eigenstate of
    a basis unbiased to Alice's)."""
    config = SixStateConfig(alice_bit=bit, alice_basis=basis, bob_basis=basis, eve_basis=eve)
    state = Statevector(six_state_circuit(config).remove_final_measurements(inplace=False))
    p = state.probabilities([0, 1]).reshape(2, 2)  # [eve bit, bob bit] (qubit 1 is Eve's)
    bob_error = p[:, 1 - bit].sum()
    eve_right = p[bit, :].sum()
    assert bob_error == pytest.approx(0.0 if eve == basis else 0.5, abs=1e-12)
    assert eve_right == pytest.approx(1.0 if eve == basis else 0.5, abs=1e-12)


def test_metadata_registers_and_terminal_measurements():
    circuit = SIX_STATE.circuit_for_code(config_code(1, 2, 0, 2))
    assert circuit.metadata == {
        "protocol": "six-state",
        "alice_bit": 1,
        "alice_basis": "Y",
        "bob_basis": "Z",
        "eve_basis": "Y",
        "eve_attack": "intercept-resend",
        "code": config_code(1, 2, 0, 2),
    }
    assert [r.name for r in circuit.cregs] == ["bob", "eve"]
    assert [r.name for r in circuit.qregs] == ["signal", "probe"]
    names = [inst.operation.name for inst in circuit.data]
    assert names[-2:] == ["measure", "measure"] and "measure" not in names[:-2]
    assert any(inst.operation.label == "channel" for inst in circuit.data)
    no_eve = SIX_STATE.circuit_for_code(config_code(0, 1, 2, NO_EVE))
    assert [r.name for r in no_eve.cregs] == ["bob"] and no_eve.num_qubits == 1


@pytest.mark.parametrize(
    "kwargs",
    [
        {"alice_bit": 2, "alice_basis": 0, "bob_basis": 0},
        {"alice_bit": 0, "alice_basis": 3, "bob_basis": 0},
        {"alice_bit": 0, "alice_basis": 0, "bob_basis": -1},
        {"alice_bit": 0, "alice_basis": 0, "bob_basis": 0, "eve_basis": 3},
    ],
)
def test_bad_configurations_are_refused(kwargs):
    with pytest.raises(ConfigError, match="got"):
        SixStateConfig(**kwargs)
    with pytest.raises(ConfigError, match=r"\[0, 72\), got 72"):
        SixStateConfig.from_code(72)


# -- choices, records, sifting --------------------------------------------------------------


def test_choices_are_uniform_and_eve_attacks_the_fraction_asked_in_every_basis():
    n = 90_000
    c = draw_choices(n, eve=EveSpec(kind="intercept-resend", fraction=0.5), rng=5)
    for arr in (c.alice_bases, c.bob_bases):
        for value in (0, 1, 2):
            assert_rate(float(np.mean(arr == value)), 1 / 3, n)
    assert_rate(float(np.mean(c.alice_bits)), 0.5, n)
    attacked = c.eve_bases >= 0
    assert_rate(float(attacked.mean()), 0.5, n)
    for value in (0, 1, 2):
        assert_rate(float(np.mean(c.eve_bases[attacked] == value)), 1 / 3, int(attacked.sum()))
    assert set(np.unique(c.codes).tolist()) <= set(range(N_CONFIGS))
    assert np.all(draw_choices(100, rng=1).eve_bases == NO_EVE)


def test_sifting_announces_bases_and_matches_and_leaks_nothing():
    n = 3_000
    choices = draw_choices(n, eve=EveSpec(kind="intercept-resend"), rng=2)
    records = SixStateRecords(
        choices=choices,
        bob_bits=choices.alice_bits ^ np.uint8(1),  # every bit wrong: errors are visible
        eve_bits=choices.alice_bits.copy(),
    )
    channel = PublicChannel()
    sifted = sift_records(records, channel=channel)
    match = choices.alice_bases == choices.bob_bases
    assert np.array_equal(sifted.positions, np.flatnonzero(match))
    assert np.array_equal(sifted.bases, choices.alice_bases[match])
    assert sifted.basis_names == BASES and set(np.unique(sifted.bases)) == {0, 1, 2}
    assert sifted.error_rate() == 1.0 and sifted.eve_agreement() == 1.0
    bob, alice = channel.messages
    assert (bob.sender, alice.sender) == ("bob", "alice")
    assert np.array_equal(np.frombuffer(bob.payload, dtype=np.uint8), choices.bob_bases)
    assert alice.payload == np.packbits(match.astype(np.uint8)).tobytes()
    assert channel.total_leaked_bits() == 0


def test_records_give_the_circuit_of_each_exchange():
    report = run("six-state", qubits=60, eve="intercept-resend=0.5", seed=3)
    records = report.records
    assert isinstance(records, SixStateRecords) and records.n == 60
    c = records.choices
    for i in (0, 17, -1):
        meta = records.circuit(i).metadata
        assert meta["alice_bit"] == c.alice_bits[i]
        assert meta["alice_basis"] == BASES[c.alice_bases[i]]
        assert meta["bob_basis"] == BASES[c.bob_bases[i]]
        assert meta["eve_basis"] == ("-" if c.eve_bases[i] < 0 else BASES[c.eve_bases[i]])
    with pytest.raises(ConfigError, match="out of range"):
        records.circuit(60)
    with pytest.raises(ConfigError, match="shape"):
        SixStateChoices(
            alice_bits=c.alice_bits, alice_bases=c.alice_bases[:5], bob_bases=c.bob_bases,
            eve_bases=c.eve_bases,
        )  # fmt: skip


# -- runs against closed forms --------------------------------------------------------------


@BOTH_PATHS
def test_noiseless_run_gives_matching_keys_and_sifts_a_third(backend, qubits):
    """Alice's and Bob's bases are independent and uniform over three values, so they
    match with probability 3 · (1/3)² = 1/3; with no noise and no Eve, Bob's outcome in
    Alice's basis is her bit (QBER 0)."""
    report = run("six-state", qubits=qubits, seed=11, backend=backend)
    assert_rate(report.sifted_bits / qubits, 1 / 3, qubits)
    assert report.qber_actual == 0.0
    assert report.qber_by_basis == {"Z": 0.0, "X": 0.0, "Y": 0.0}
    assert report.eve_agreement is None
    if backend == "aer":
        assert report.keys_match is True and not report.aborted
        assert report.final_key_bits > 0.15 * report.sifted_bits
        assert report.key_length is not None
        assert report.key_length["theorem"] == THEOREMS["variable"]
        assert set(report.key_length["phase_error_bound"]) == set(BASES)


@BOTH_PATHS
def test_depolarizing_flips_every_basis_with_probability_half_p(backend, qubits):
    """Depolarizing p: ρ → (1 − p) ρ + p I/2. The I/2 part gives Bob a fair coin in any
    basis, the rest Alice's bit, so each basis's QBER is p/2 (Z, X and Y alike: I/2 is
    unbiased with respect to every basis)."""
    p = 0.1 if backend == "aer" else 0.3
    report = run("six-state", qubits=qubits, seed=12, backend=backend, noise=f"depolarizing={p}")
    check_per_basis(report, dict.fromkeys(BASES, p / 2))
    assert_rate(report.sifted_bits / qubits, 1 / 3, qubits)


@BOTH_PATHS
def test_amplitude_damping_errs_differently_in_z_than_in_x_and_y(backend, qubits):
    """Amplitude damping γ: Kraus operators K0 = |0><0| + √(1−γ)|1><1|, K1 = √γ|0><1|,
    so the Bloch vector maps (x, y, z) → (√(1−γ) x, √(1−γ) y, γ + (1−γ) z) (Nielsen &
    Chuang, Sec. 8.3.5).

    * Z: |0> (z = 1) stays |0>: no error; |1> (z = −1) goes to z' = 2γ − 1 and reads 0
      with probability (1 + z')/2 = γ. Averaged over Alice's bit: γ/2.
    * X: |±> has x = ±1, so x' = ±√(1−γ) and Bob reads the wrong sign with probability
      (1 − √(1−γ))/2 for either bit (the z' shift is invisible to an X measurement).
    * Y: the same with y: (1 − √(1−γ))/2.
    """
    g = 0.2 if backend == "aer" else 0.5
    xy = (1 - math.sqrt(1 - g)) / 2
    report = run(
        "six-state", qubits=qubits, seed=13, backend=backend, noise=f"amplitude-damping={g}"
    )
    check_per_basis(report, {"Z": g / 2, "X": xy, "Y": xy})


@BOTH_PATHS
def test_full_intercept_resend_gives_a_third_and_eve_two_thirds(backend, qubits):
    """Eve measures every qubit in a uniformly random one of Z, X, Y and resends her result.
    On a sifted exchange her basis is Alice's with probability 1/3: she learns the bit
    and resends Alice's state, no error. Otherwise (2/3) the bases are unbiased: her
    result is a coin and the eigenstate she resends gives Bob a coin in Alice's basis,
    an error with probability 1/2. QBER = 2/3 · 1/2 = 1/3 in every basis; Eve's result
    equals Alice's bit with probability 1/3 · 1 + 2/3 · 1/2 = 2/3. The run aborts."""
    report = run("six-state", qubits=qubits, seed=14, backend=backend, eve="intercept-resend")
    check_per_basis(report, dict.fromkeys(BASES, 1 / 3))
    assert report.eve_agreement is not None
    assert_rate(report.eve_agreement, 2 / 3, report.sifted_bits)
    assert report.aborted and report.abort_reason == "qber_above_threshold"
    assert report.final_key_bits == 0


@pytest.mark.parametrize("fraction", [0.5, 0.2])
def test_partial_intercept_resend_gives_a_third_of_the_fraction(fraction):
    """Each exchange is attacked independently with probability f: QBER f/3."""
    report = run("six-state", qubits=FAST, seed=15, eve=f"intercept-resend={fraction}")
    check_per_basis(report, dict.fromkeys(BASES, fraction / 3))
    sifted = report.sifted
    assert sifted.eve_attacked is not None
    assert_rate(float(sifted.eve_attacked.mean()), fraction, report.sifted_bits)
    assert report.eve_agreement is not None
    assert_rate(report.eve_agreement, 2 / 3, int(sifted.eve_attacked.sum()))


def test_runs_on_a_fake_device_with_its_noise():
    """fake:manila (device snapshot, 1-qubit circuits without Eve): the Y basis needs S
    and Sdg, which the device runs as virtual Z rotations. The run completes, sifts 1/3,
    and its QBER stays well below the six-state threshold (12.6 %)."""
    qubits = 4_000
    report = run("six-state", qubits=qubits, seed=16, backend="fake:manila")
    assert report.backend_info["name"] == "fake:manila"
    assert_rate(report.sifted_bits / qubits, 1 / 3, qubits)
    assert report.qber_actual < 0.06
    assert all(q < 0.08 for q in report.qber_by_basis.values())
    assert report.abort_reason in (None, "key_too_short")
    if not report.aborted:
        assert report.keys_match is True


@pytest.mark.parametrize("kwargs", [{}, {"eve": "intercept-resend", "qubits": 3_000}])
def test_the_json_report_follows_its_published_schema(kwargs):
    data = schema_valid_json(run("six-state", **{"qubits": 20_000, "seed": 17, **kwargs}))
    assert data["protocol"] == "six-state" and list(data["qber_by_basis"]) == list(BASES)


# -- finite key -----------------------------------------------------------------------------


def _samples(n_key: int, k: int, e: int) -> dict[str, BasisSample]:
    return {
        b: BasisSample(basis=b, sifted_bits=n_key + k, sample_bits=k, sample_errors=e)
        for b in BASES
    }


def _length(q: float, n_key: int, *, tolerance: float = 0.5, statement: str = "variable") -> int:
    """Finite-key length of three bases with ``n_key`` key bits each and a sample of a
    tenth as many at error rate ``q``, with reconciliation at the Shannon limit."""
    k = max(1, n_key // 10)
    analysis = SIX_STATE.analysis(None)  # type: ignore[arg-type]
    try:
        return analysis.key_length(
            _samples(n_key, k, math.floor(q * k)),
            leaked_ec=3 * n_key * h(q),
            verification_bits=50,
            eps_sec=1e-10,
            eps_cor=1e-15,
            qber_tolerance=tolerance,
            statement=statement,  # type: ignore[arg-type]
        ).length
    except ProtocolAbort:
        return 0


@pytest.mark.parametrize("statement", ["variable", "fixed"])
def test_finite_key_never_exceeds_the_asymptotic_rate(statement):
    """On a grid of sample counts: ℓ ≤ r(Q) · n with r Lo's six-state rate, n the key
    bits, Q the sample error rate (and ≤ the BB84 rate 1 − 2h(Q): the analysis is
    conservative); past the threshold ℓ = 0."""
    for n_key, q in itertools.product(
        (1_000, 10_000, 100_000, 10**6, 10**8, 10**10),
        (0.0, 0.005, 0.01, 0.03, 0.05, 0.08, 0.1, 0.105),
    ):
        k = max(1, n_key // 10)
        q_sample = math.floor(q * k) / k
        length = _length(q, n_key, statement=statement)
        assert length <= float(six_state_rate(q_sample)) * 3 * n_key, (n_key, q)
        assert length <= max(0.0, float(bb84_rate(q_sample))) * 3 * n_key, (n_key, q)
    for n_key, q in itertools.product((10**4, 10**6, 10**10), (0.1262, 0.15, 0.25, 0.4)):
        assert _length(q, n_key, statement=statement) == 0


def test_the_finite_key_is_conservative_and_stops_near_eleven_percent():
    """Each basis pays h(bit error) + h(phase error) as in BB84: between 11 % and Lo's
    12.6 % the asymptotic rate is positive but no key is emitted; well below 11 % a long
    run gives a key."""
    assert SIX_STATE.asymptotic_rate(0.115) > 0.0
    assert _length(0.115, 10**10) == 0
    assert _length(0.09, 10**10) > 0
    assert _length(0.02, 10**6, tolerance=0.11) > 0
    for text in THEOREMS.values():
        assert "c = 1/2" in text and "conservative" in text and "11%" in text
        assert "1103.4130" in text and "Z from X, X from Y, Y from Z" in text
    analysis = SIX_STATE.analysis(None)  # type: ignore[arg-type]
    assert analysis.basis_names == BASES
    assert dict(analysis.conjugate) == {"Z": "X", "X": "Y", "Y": "Z"}


def test_each_basis_is_bounded_from_the_sample_of_the_next():
    """Z's phase error from X's sample, X's from Y's, Y's from Z's: a small Y sample
    loosens X's bound only."""
    analysis = SIX_STATE.analysis(None)  # type: ignore[arg-type]
    samples = {
        "Z": BasisSample(basis="Z", sifted_bits=110_000, sample_bits=10_000, sample_errors=100),
        "X": BasisSample(basis="X", sifted_bits=110_000, sample_bits=10_000, sample_errors=100),
        "Y": BasisSample(basis="Y", sifted_bits=101_000, sample_bits=1_000, sample_errors=10),
    }
    result = analysis.key_length(
        samples, leaked_ec=0, verification_bits=50, eps_sec=1e-10, eps_cor=1e-15,
        qber_tolerance=0.11, statement="variable",
    )  # fmt: skip
    assert result.theorem == THEOREMS["variable"]
    terms, bound = result.terms, result.phase_error_bound
    assert (terms["test_bits_Z"], terms["test_bits_X"], terms["test_bits_Y"]) == (
        10_000, 1_000, 10_000,
    )  # fmt: skip
    assert bound["X"] > bound["Z"] + 0.01 and bound["X"] > bound["Y"] + 0.01
    assert bound["Z"] == pytest.approx(bound["Y"], rel=0.02)
