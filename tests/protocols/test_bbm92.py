"""BBM92 (Bennett, Brassard & Mermin, PRL 68, 557 (1992)) against closed forms.

Statistical checks use 5 binomial standard errors (``assert_rate``) at the size of the
quantity checked, on seeded runs, on the fast (``aer``) and the literal
(``aer-literal``, one circuit per exchange) paths. Each closed form is derived in its
test's docstring. Notation: the source emits |Φ+> = (|00> + |11>)/√2 (qubit 0 Bob's
half, qubit 1 Alice's); a setting at angle θ in the XZ plane measures
``cos θ Z + sin θ X``; the correlation is ``E = <A(θa) ⊗ B(θb)>`` and two results
differ with probability ``(1 − E)/2``. For |Φ+>, ``<ZZ> = <XX> = 1``, ``<ZX> = <XZ> = 0``,
so ``E(θa, θb) = cos(θa − θb)``: the matching Z–Z and X–X rounds agree.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy.optimize import brentq

from qkd_circuits import run
from qkd_circuits.analysis.rates import bbm92_rate, qber_threshold
from qkd_circuits.channel.noise import CHANNEL_LABEL, NoiseSpec
from qkd_circuits.circuits.entangled import (
    N_CONFIGS,
    NO_EVE,
    SETTING_ANGLES,
    EntangledConfig,
    config_codes,
    entangled_circuit,
)
from qkd_circuits.errors import ConfigError, ProtocolAbort
from qkd_circuits.postprocessing.estimation import BasisSample
from qkd_circuits.protocols.base import Protocol
from qkd_circuits.protocols.bbm92 import BBM92, THEOREMS, draw_entangled_choices
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
"""Qubits of a fast-path run: about 25,000 sifted bits per basis."""
LITERAL = 4_000
"""Qubits of a literal-path run: about 1,000 sifted bits per basis."""
BOTH_PATHS = on_both_paths(FAST, LITERAL, names=("backend", "n"))


# -- registry, circuits ------------------------------------------------------------------


def test_registered_on_the_protocol_interface():
    assert "bbm92" in PROTOCOLS
    protocol = get_protocol("bbm92")
    assert protocol is BBM92 and isinstance(protocol, Protocol)
    assert protocol.registers == ("alice", "bob", "eve")
    line = protocol.info.line()
    assert line.startswith("bbm92") and "threshold 11.00%" in line and "(1/2)" in line


def test_codes_round_trip_and_bbm92_refuses_bob_settings_w_and_v():
    assert {EntangledConfig.from_code(c).code for c in range(N_CONFIGS)} == set(range(N_CONFIGS))
    a, b, e = np.array([1, 0, 1]), np.array([3, 1, 0]), np.array([NO_EVE, 0, 1])
    expected = [
        EntangledConfig(alice_setting=int(x), bob_setting=int(y), eve_basis=int(z)).code
        for x, y, z in zip(a, b, e, strict=True)
    ]
    assert config_codes(a, b, e).tolist() == expected
    for code in range(N_CONFIGS):
        if EntangledConfig.from_code(code).bob_setting >= 2:
            with pytest.raises(ConfigError, match=r"bbm92 uses settings 0\.\.1"):
                BBM92.circuit_for_code(code)
        else:
            assert BBM92.circuit_for_code(code).metadata["protocol"] == "bbm92"


@pytest.mark.parametrize(
    "kwargs",
    [
        {"alice_setting": 2, "bob_setting": 0},
        {"alice_setting": 0, "bob_setting": 4},
        {"alice_setting": 0, "bob_setting": 0, "eve_basis": 2},
    ],
)
def test_invalid_configurations_are_refused_quoting_the_value(kwargs):
    bad = next(v for k, v in kwargs.items() if v not in (0,))
    with pytest.raises(ConfigError, match=repr(bad)):
        EntangledConfig(**kwargs)
    with pytest.raises(ConfigError, match="24"):
        EntangledConfig.from_code(24)


def test_circuit_layout_bob_half_crosses_the_channel_eve_acts_before_it():
    """Qubit 0 (Bob's half) carries the channel gate; Eve's CNOT from qubit 0 onto her
    probe (qubit 2) comes before it; without Eve the circuit has 2 qubits (device-ready)."""
    clean = entangled_circuit(EntangledConfig(alice_setting=1, bob_setting=0), protocol="bbm92")
    assert clean.num_qubits == 2 and [r.name for r in clean.cregs] == ["alice", "bob"]
    attacked = entangled_circuit(
        EntangledConfig(alice_setting=0, bob_setting=1, eve_basis=1), protocol="bbm92"
    )
    assert attacked.num_qubits == 3 and [r.name for r in attacked.cregs] == [
        "alice",
        "bob",
        "eve",
    ]
    ops = [(i.operation.name, [attacked.find_bit(q).index for q in i.qubits]) for i in attacked]
    channel_at = next(
        k for k, inst in enumerate(attacked.data) if inst.operation.label == CHANNEL_LABEL
    )
    assert ops[channel_at][1] == [0]
    assert ("cx", [0, 2]) in ops[:channel_at]  # Eve's probe interaction, in transit
    assert ops[:2] == [("h", [1]), ("cx", [1, 0])]  # the source: |Φ+>
    measured = {tuple(q) for name, q in ops if name == "measure"}
    assert measured == {(0,), (1,), (2,)}
    assert attacked.metadata == {
        "protocol": "bbm92",
        "alice_setting": "Z",
        "bob_setting": "X",
        "eve_basis": "X",
        "eve_attack": "intercept-resend",
        "code": 18,
    }


@pytest.mark.parametrize(("a", "b"), list(itertools.product(range(2), range(4))))
def test_bell_pair_correlation_is_cos_of_the_angle_difference(a, b):
    circuit = entangled_circuit(EntangledConfig(alice_setting=a, bob_setting=b), protocol="t")
    expected = math.cos(SETTING_ANGLES[a] - SETTING_ANGLES[b])
    assert exact_correlation(circuit, NoiseSpec()) == pytest.approx(expected, abs=1e-12)


def test_choices_are_uniform_and_seeded():
    c = BBM92.draw_choices(40_000, rng=5)
    assert set(np.unique(c.bob_settings)) == {0, 1} and set(np.unique(c.alice_settings)) == {0, 1}
    assert_rate(float(c.alice_settings.mean()), 0.5, 40_000)
    assert_rate(float(c.bob_settings.mean()), 0.5, 40_000)
    assert (c.eve_bases == NO_EVE).all()
    again = BBM92.draw_choices(40_000, rng=5)
    assert np.array_equal(c.codes, again.codes)
    with pytest.raises(ConfigError, match="bob_settings must be 2 or 4, got 3"):
        draw_entangled_choices(10, bob_settings=3, rng=1)


# -- runs against closed forms -----------------------------------------------------------


def test_noise_free_run_gives_matching_keys_and_sifts_half():
    """Without noise or Eve the matching rounds of |Φ+> agree: QBER 0. Each side picks
    Z or X with probability 1/2, so the bases match with probability 1/2."""
    report = run("bbm92", qubits=FAST, seed=1)
    assert not report.aborted and report.keys_match and report.qber_actual == 0.0
    assert report.final_key_bits > 0.3 * report.sifted_bits
    assert_rate(report.sifted_bits / FAST, 0.5, FAST)
    assert report.qber_by_basis == {"Z": 0.0, "X": 0.0}
    assert report.chsh_s is None and "chsh_s" not in report.to_dict()
    theorem = report.key_length["theorem"]
    assert "Tomamichel" in theorem and "Koashi" in theorem and "Brassard, Mermin" in theorem
    # Alice's results come from the simulator: uniform, like Bob's.
    assert_rate(float(report.records.alice_bits.mean()), 0.5, FAST)


@BOTH_PATHS
def test_depolarizing_gives_half_p_in_each_basis(backend, n):
    """Depolarizing p on Bob's half: ρ → (1 − p)ρ + p (I/2 ⊗ ρ_A), so every correlation
    shrinks, E = (1 − p) cos(θa − θb). Matching bases have cos = 1, so the QBER is
    (1 − (1 − p))/2 = p/2, in Z and in X."""
    p = 0.16
    report = run("bbm92", qubits=n, seed=2, backend=backend, noise=f"depolarizing={p}")
    check_per_basis(report, {"Z": p / 2, "X": p / 2})
    assert_rate(report.sifted_bits / n, 0.5, n)


@BOTH_PATHS
def test_amplitude_damping_gives_g_over_2_in_z_and_less_in_x(backend, n):
    """Amplitude damping g on Bob's half (Kraus K0 = diag(1, √(1−g)), K1 = √g |0><1|),
    written |Bob Alice>: K0 gives (|00> + √(1−g)|11>)/√2, K1 gives √g |01>/√2, with no
    coherence between the branches. Z–Z: the |01> branch (weight g/2) disagrees, so
    <ZZ> = 1 − g and the Z error is g/2. X–X: only the coherence |00><11| contributes,
    <XX> = 2 · √(1−g)/2 = √(1−g), so the X error is (1 − √(1−g))/2."""
    g = 0.3
    report = run("bbm92", qubits=n, seed=3, backend=backend, noise=f"amplitude-damping={g}")
    check_per_basis(report, {"Z": g / 2, "X": (1 - math.sqrt(1 - g)) / 2})


@BOTH_PATHS
def test_full_intercept_resend_gives_a_quarter(backend, n):
    """Eve measures Bob's half in Z or X (1/2 each) and resends it. Measuring in Z
    dephases Bob's half, killing <·⊗X>: E = cos θa cos θb; in X, E = sin θa sin θb. On
    average E = cos(θa − θb)/2, so a matching round errs with probability (1 − 1/2)/2 = 1/4.
    Eve's result equals Alice's when her basis is the round's (1/2: Φ+ correlates
    them perfectly) and is a coin otherwise: agreement 1/2 + 1/4 = 3/4."""
    report = run("bbm92", qubits=n, seed=4, backend=backend, eve="intercept-resend")
    check_per_basis(report, {"Z": 0.25, "X": 0.25})
    assert_rate(report.eve_agreement, 0.75, report.sifted_bits)
    assert report.aborted and report.abort_reason == "qber_above_threshold"


def test_partial_intercept_resend_and_readout_compose():
    """Eve on a fraction f: E = (1 − f/2) cos(θa − θb). Bob's readout error r flips his
    bit: E → (1 − 2r) E. Matching rounds err with (1 − (1 − f/2)(1 − 2r))/2."""
    f, r = 0.4, 0.02
    report = run("bbm92", qubits=FAST, seed=5, eve=f"intercept-resend={f}", noise=f"readout={r}")
    q = (1 - (1 - f / 2) * (1 - 2 * r)) / 2
    check_per_basis(report, {"Z": q, "X": q})


# -- rates, threshold, finite key --------------------------------------------------------


def test_asymptotic_rate_and_threshold_are_bb84s():
    """r = 1 − 2 h(Q) (Shor–Preskill, with Koashi–Preskill's untrusted source); its root
    is the literature value 11.00 % (0.110028)."""
    root = brentq(BBM92.asymptotic_rate, 0.05, 0.2, xtol=1e-12)
    assert root == pytest.approx(0.110028, abs=1e-6)
    assert BBM92.info.threshold == pytest.approx(root, abs=1e-6)
    assert qber_threshold("bbm92") == pytest.approx(root, abs=1e-6)
    assert BBM92.asymptotic_rate(0.03) == pytest.approx(float(bbm92_rate(0.03)))
    assert BBM92.asymptotic_rate(0.7) == pytest.approx(1 - 2 * h(0.5))
    with pytest.raises(ConfigError, match=r"1\.5"):
        BBM92.asymptotic_rate(1.5)


def _length(analysis, n_basis: int, q: float, *, tolerance: float = 0.11) -> int:  # type: ignore[no-untyped-def]
    """Finite length with a 10 % sample per basis at error rate q and EC at the Shannon
    limit (the asymptotic rate's own leakage); 0 on an abort."""
    k = math.ceil(0.1 * n_basis)
    samples = {
        b: BasisSample(basis=b, sifted_bits=n_basis, sample_bits=k, sample_errors=round(q * k))
        for b in ("Z", "X")
    }
    try:
        analysis.check(samples, qber_threshold=tolerance)
        result = analysis.key_length(
            samples, leaked_ec=2 * (n_basis - k) * h(q), verification_bits=50,
            eps_sec=1e-10, eps_cor=1e-15, qber_tolerance=tolerance, statement="variable",
        )  # fmt: skip
    except ProtocolAbort:
        return 0
    assert result.theorem == THEOREMS["variable"]
    return int(result.length)


@pytest.mark.parametrize("n_basis", [10**3, 10**4, 10**5, 10**6])
def test_finite_key_never_exceeds_asymptotic_rate_times_n(n_basis):
    analysis = BBM92.analysis(None)  # type: ignore[arg-type]
    for q in (0.0, 0.01, 0.03, 0.05, 0.08, 0.1):
        assert _length(analysis, n_basis, q) <= max(0.0, BBM92.asymptotic_rate(q)) * 2 * n_basis
    # Past the threshold no length is positive, even with the abort test opened to 50 %.
    for q in (0.111, 0.13, 0.2):
        assert _length(analysis, n_basis, q, tolerance=0.5) == 0


# -- device, schema ----------------------------------------------------------------------


def test_runs_on_fake_manila_without_eve_and_refuses_eve_there():
    """2-qubit circuits are placed on a coupled pair; the device's own errors (readout of
    both halves, the CNOT) stay far below the threshold and give a key at 30,000 pairs."""
    pytest.importorskip("qiskit_ibm_runtime")
    report = run("bbm92", qubits=30_000, seed=6, backend="fake:manila")
    assert report.backend_info["name"] == "fake:manila"
    assert len(report.backend_info["calibration"]["qubits"]) == 2
    q, n = report.qber_actual, report.sifted_bits
    assert q > 0 and q + 5 * math.sqrt(q * (1 - q) / n) < BBM92.info.threshold / 2
    assert not report.aborted and report.keys_match and report.final_key_bits > 0
    with pytest.raises(ConfigError, match="1 or 2 qubits"):
        run("bbm92", qubits=100, seed=6, backend="fake:manila", eve="intercept-resend")


def test_report_follows_the_schema():
    for kwargs in ({"noise": "depolarizing=0.02"}, {"eve": "intercept-resend"}):
        data = schema_valid_json(run("bbm92", qubits=20_000, seed=7, **kwargs))
        assert data["protocol"] == "bbm92" and "di_key_rate" not in data


def test_records_give_the_circuit_of_each_exchange():
    report = run("bbm92", qubits=200, seed=8, eve="intercept-resend=0.5")
    records = report.records
    for i in (0, 17, -1):
        meta = records.circuit(i).metadata
        assert meta["alice_setting"] == "ZX"[records.alice_settings[i]]
        assert meta["bob_setting"] == "ZX"[records.bob_settings[i]]
        eve = "-" if records.eve_bases[i] < 0 else "ZX"[records.eve_bases[i]]
        assert meta["eve_basis"] == eve
    with pytest.raises(ConfigError, match="200"):
        records.circuit(200)
