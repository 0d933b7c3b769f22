"""WCP analyses: per-basis sample fractions, decoy-state BB84 (Lim et al. 2014) and GLLP."""

from __future__ import annotations

import dataclasses
import itertools
import math

import numpy as np
import pytest
from scipy.special import bdtrc

from qkd_circuits.analysis.entropy import binary_entropy, clipped_binary_entropy
from qkd_circuits.analysis.finite_decoy import (
    DecoyCounts,
    DecoySettings,
    expected_counts,
    lim2014_key_length,
)
from qkd_circuits.analysis.link import LinkParameters, get_preset
from qkd_circuits.errors import ConfigError, ProtocolAbort
from qkd_circuits.postprocessing.estimation import BasisSample, estimate_qber, phase_error_bound
from qkd_circuits.postprocessing.key_length import check_key_length
from qkd_circuits.postprocessing.photon_analysis import (
    DECOY_CLASS_NAMES,
    DecoyAnalysis,
    GLLPAnalysis,
    chernoff_upper,
    decoy_class_names,
    decoy_classes,
    decoy_counts,
    lim_gamma,
    multi_photon_probability,
    single_photon_figures,
)
from qkd_circuits.postprocessing.pipeline import PostprocessingConfig, distill_key
from qkd_circuits.postprocessing.security import (
    PhaseErrorAnalysis,
    SecurityAnalysis,
    sifted_bits_needed,
)

EPS_SEC, EPS_COR = 1e-10, 1e-15
SETTINGS = DecoySettings(q_x=0.5, mu1=0.5, mu2=0.1, mu3=0.0, p_mu1=0.7, p_mu2=0.2)
LENGTH_ARGS = {"eps_sec": EPS_SEC, "eps_cor": EPS_COR, "qber_tolerance": 0.11}


def _keys(n: int, qber: float, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    alice = rng.integers(0, 2, n, dtype=np.uint8)
    bob = alice ^ (rng.random(n) < qber).astype(np.uint8)
    return alice, bob, rng.integers(0, 2, n, dtype=np.uint8)


# --- per-basis sample fractions ---------------------------------------------------------


def test_a_mapping_of_equal_fractions_draws_the_same_positions_as_the_float():
    alice, bob, bases = _keys(20_000, 0.05, seed=3)
    plain = estimate_qber(alice, bob, bases=bases, sample_fraction=0.1, rng=7)
    mapped = estimate_qber(alice, bob, bases=bases, sample_fraction={"Z": 0.1, "X": 0.1}, rng=7)
    assert np.array_equal(plain.sample_positions, mapped.sample_positions)
    assert plain.samples == mapped.samples


def test_a_fraction_of_one_discloses_the_whole_basis():
    alice, bob, bases = _keys(20_000, 0.05, seed=4)
    est = estimate_qber(alice, bob, bases=bases, sample_fraction={"Z": 1.0, "X": 0.1}, rng=8)
    z, x = est.samples["Z"], est.samples["X"]
    assert z.sample_bits == z.sifted_bits == np.count_nonzero(bases == 0) and z.key_bits == 0
    assert z.sample_errors == np.count_nonzero((alice != bob) & (bases == 0))
    assert x.sample_bits == math.ceil(0.1 * x.sifted_bits)
    assert est.key_length == x.key_bits and np.all(est.key_bases == 1)


@pytest.mark.parametrize(
    ("fractions", "match"),
    [
        ({"Z": 0.1}, r"missing \['X'\]"),
        ({"Z": 0.1, "X": 0.1, "Y": 0.1}, r"unknown \['Y'\]"),
        ({"Z": 0.0, "X": 0.1}, "basis Z"),
        ({"Z": 1.5, "X": 0.1}, "basis Z"),
        ({"Z": True, "X": 0.1}, "basis Z"),
        (1.0, "sample_fraction must be in"),  # a float stays in (0, 1)
    ],
)
def test_bad_sample_fractions_are_refused(fractions, match):
    alice, bob, bases = _keys(100, 0.05, seed=5)
    with pytest.raises(ConfigError, match=match):
        estimate_qber(alice, bob, bases=bases, sample_fraction=fractions, rng=1)


def test_disclosing_every_basis_whole_is_a_key_too_short_abort():
    alice, bob, bases = _keys(100, 0.05, seed=5)
    with pytest.raises(ProtocolAbort, match="leave no key bit") as info:
        estimate_qber(alice, bob, bases=bases, sample_fraction={"Z": 1.0, "X": 1.0}, rng=1)
    assert info.value.reason == "key_too_short"


@dataclasses.dataclass(frozen=True)
class _WholeZ:
    """BB84 with the key from X only: the whole Z basis disclosed."""

    inner: PhaseErrorAnalysis = dataclasses.field(default_factory=PhaseErrorAnalysis)

    @property
    def basis_names(self) -> tuple[str, ...]:
        return self.inner.basis_names

    def sample_fractions(self, default: float) -> dict[str, float]:
        return {"Z": 1.0, "X": default}

    def check(self, samples, *, qber_threshold):
        self.inner.check(samples, qber_threshold=qber_threshold)

    def key_length(self, samples, **kwargs):
        return self.inner.key_length(samples, **kwargs)


def test_distill_key_uses_the_analysis_sample_fractions():
    assert isinstance(_WholeZ(), SecurityAnalysis)
    alice, bob, bases = _keys(100_000, 0.02, seed=6)
    result = distill_key(alice, bob, bases=bases, analysis=_WholeZ(), rng=9, secret_rng=10)
    assert not result.aborted and result.keys_match and result.final_key_bits > 0
    est = result.estimate
    assert est is not None and est.samples["Z"].key_bits == 0 and np.all(est.key_bases == 1)
    assert result.key_length is not None and result.key_length.terms["key_bits_Z"] == 0
    # Without the method the configured float applies to every basis, as before.
    plain = distill_key(alice, bob, bases=bases, rng=9, secret_rng=10)
    assert plain.estimate is not None and plain.estimate.samples["Z"].key_bits > 0


def test_sifted_bits_needed_follows_the_analysis_sample_fractions():
    kwargs = {"sample_fraction": 0.1, "eps_sec": EPS_SEC, "eps_cor": EPS_COR,
              "qber_tolerance": 0.11}  # fmt: skip
    both = sifted_bits_needed(PhaseErrorAnalysis(), 0.02, **kwargs)
    x_only = sifted_bits_needed(_WholeZ(), 0.02, **kwargs)
    assert both is not None and x_only is not None
    # Fewer key bits, but the whole Z basis bounds X's phase error far more tightly than
    # a 10 % sample: for a short key that wins. Either way the fractions were used.
    assert x_only != both


# --- decoy-state BB84 -------------------------------------------------------------------


def _decoy_samples(counts: DecoyCounts, x_fraction: float = 0.1) -> dict[str, BasisSample]:
    """Expected counts as samples: Z disclosed whole, ``x_fraction`` of each X class."""
    out = {}
    for name, n, m in zip(
        DECOY_CLASS_NAMES, (*counts.n_z, *counts.n_x), (*counts.m_z, *counts.m_x), strict=True
    ):
        sifted = round(n)
        if name.startswith("Z"):
            k, e = sifted, min(round(m), sifted)
        else:
            k = math.ceil(x_fraction * sifted)
            e = min(round(m / n * k), k) if n else 0
        out[name] = BasisSample(basis=name, sifted_bits=sifted, sample_bits=k, sample_errors=e)
    return out


def _analysis(pulses: float, settings: DecoySettings = SETTINGS) -> DecoyAnalysis:
    return DecoyAnalysis(
        intensities=settings.intensities, probabilities=settings.probabilities,
        pulses=round(pulses), basis_probability_x=settings.q_x,
    )  # fmt: skip


def _leak(samples: dict[str, BasisSample], f: float = 1.16) -> float:
    key = sum(samples[c].key_bits for c in DECOY_CLASS_NAMES[3:])
    errors = sum(samples[c].sample_errors for c in DECOY_CLASS_NAMES[3:])
    bits = sum(samples[c].sample_bits for c in DECOY_CLASS_NAMES[3:])
    return f * key * float(binary_entropy(errors / bits))


def test_class_names_and_classes():
    assert decoy_class_names() == DECOY_CLASS_NAMES
    assert _analysis(1e6).basis_names == DECOY_CLASS_NAMES
    got = decoy_classes(np.array([0, 0, 0, 1, 1, 1]), np.array([0, 1, 2, 0, 1, 2]))
    assert got.dtype == np.uint8 and got.tolist() == [0, 1, 2, 3, 4, 5]
    with pytest.raises(ConfigError, match=r"intensity must be in 0\.\.2"):
        decoy_classes([0, 1], [0, 3])
    with pytest.raises(ConfigError, match="equal length"):
        decoy_classes([0, 1], [0])


def test_sample_fractions_disclose_z_whole():
    fractions = _analysis(1e6).sample_fractions(0.05)
    assert fractions == {**dict.fromkeys(DECOY_CLASS_NAMES[:3], 1.0),
                         **dict.fromkeys(DECOY_CLASS_NAMES[3:], 0.05)}  # fmt: skip


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"intensities": (0.5, 0.4, 0.2)}, "mu1 must be > mu2 \\+ mu3"),
        ({"intensities": (0.5, 0.1, 0.1)}, "mu2 must be > mu3"),
        ({"probabilities": (0.5, 0.2, 0.2)}, "sum to 1"),
        ({"pulses": 0}, "pulses"),
        ({"basis_probability_x": 1.0}, "q_x"),
    ],
)
def test_decoy_analysis_refuses_bad_settings(kwargs, match):
    base = {"intensities": (0.5, 0.1, 0.0), "probabilities": (0.7, 0.2, 0.1), "pulses": 10}
    with pytest.raises(ConfigError, match=match):
        DecoyAnalysis(**(base | kwargs))


@pytest.mark.parametrize("distance_km", [0.0, 25.0, 50.0, 100.0])
def test_decoy_length_is_lim2014_on_the_same_counts(distance_km):
    link = get_preset("lim2014")
    counts, pulses = expected_counts(link, distance_km, SETTINGS, n_x=1e6)
    samples = _decoy_samples(counts)
    analysis = _analysis(pulses)
    leak, tag = _leak(samples), 64
    result = analysis.key_length(
        samples, leaked_ec=leak, verification_bits=tag, statement="variable", **LENGTH_ARGS
    )
    # Lim et al.'s bounds on the whole sifted block at eps_sec / 2, with lambda_EC passed.
    sifted = lim2014_key_length(
        decoy_counts(samples), intensities=SETTINGS.intensities,
        probabilities=SETTINGS.probabilities, eps_sec=EPS_SEC / 2, eps_cor=EPS_COR,
        lambda_ec=leak + tag,
    )  # fmt: skip
    t = result.terms
    for name in ("s_z0", "s_z1", "v_z1"):
        assert t[name] == pytest.approx(getattr(sifted, name), rel=1e-12)
    assert t["s_x1_sifted"] == pytest.approx(sifted.s_x1, rel=1e-12)
    assert t["lambda_ec"] == pytest.approx(leak + tag) and t["leak_ec"] == pytest.approx(leak)
    # Eq. (1) on the key block's bounds.
    phi = t["phi_x"]
    b = t["v_z1"] / t["s_z1"]
    assert phi == pytest.approx(min(0.5, b + lim_gamma(EPS_SEC / 2, b, t["s_z1"], t["s_x1"])))
    ell = t["s_x0"] + t["s_x1"] * (1 - clipped_binary_entropy(phi)) - leak - tag
    ell -= 6 * math.log2(21 / (EPS_SEC / 2)) + math.log2(2 / EPS_COR)
    assert t["bound"] == pytest.approx(ell, rel=1e-12)
    assert result.length == max(0, math.floor(ell)) > 0
    assert result.phase_error_bound == {"X": phi}
    # The key block keeps about 90 % of the sifted single photons (X sample of 10 %).
    assert 0.85 < t["keep_fraction_x"] <= 0.9
    # Lim et al. applied directly to the key block's counts differs by well under 1 %.
    key_counts = dataclasses.replace(
        decoy_counts(samples),
        n_x=tuple(float(samples[c].key_bits) for c in DECOY_CLASS_NAMES[3:]),
    )
    direct = lim2014_key_length(
        key_counts, intensities=SETTINGS.intensities, probabilities=SETTINGS.probabilities,
        eps_sec=EPS_SEC, eps_cor=EPS_COR, lambda_ec=leak + tag,
    )  # fmt: skip
    assert result.length == pytest.approx(direct.key_length, rel=0.01)
    assert result.asymptotic_bits >= result.length
    assert "Lim, Curty, Walenta, Xu, Zbinden" in result.theorem and "(1)-(5)" in result.theorem
    # "fixed" and "variable" are the same bound on observed counts.
    fixed = analysis.key_length(
        samples, leaked_ec=leak, verification_bits=tag, statement="fixed", **LENGTH_ARGS
    )
    assert fixed.length == result.length and fixed.statement == "fixed"


def test_decoy_single_photon_figures_bound_the_true_ones():
    link = get_preset("lim2014")
    distance = 25.0
    counts, pulses = expected_counts(link, distance, SETTINGS, n_x=1e7)
    samples = _decoy_samples(counts)
    result = _analysis(pulses).key_length(
        samples, leaked_ec=_leak(samples), verification_bits=64, statement="fixed", **LENGTH_ARGS
    )
    eta = link.eta_bob * 10 ** (-link.alpha_db_per_km * distance / 10)
    d1 = 1 - (1 - link.y0) * (1 - eta)  # a single photon or a dark count clicks
    y1 = d1 * (1 + link.p_afterpulse)
    e1 = (link.y0 / 2 + link.e_d * eta + link.p_afterpulse * d1 / 2) / y1
    t = result.terms
    # Lower/upper bounds, and not vacuous (the two-decoy estimate with μ2 = 0.1 is itself
    # not tight, and the finite-size terms at n_X = 1e7 take a few per cent more).
    assert 0.8 * y1 < t["y1_lower"] <= y1
    assert e1 <= t["e1_upper"] < 2 * e1
    mu1 = SETTINGS.mu1
    assert t["q1_lower"] == pytest.approx(t["y1_lower"] * mu1 * math.exp(-mu1))
    # The same figures from the pure function on the sifted bounds.
    bounds = lim2014_key_length(
        decoy_counts(samples), intensities=SETTINGS.intensities,
        probabilities=SETTINGS.probabilities, eps_sec=EPS_SEC / 2, eps_cor=EPS_COR,
        lambda_ec=t["lambda_ec"],
    )  # fmt: skip
    figures = single_photon_figures(bounds, _analysis(pulses), decoy_counts(samples))
    assert figures == {k: pytest.approx(t[k]) for k in ("y1_lower", "e1_upper", "q1_lower")}


def test_decoy_gains_inconsistent_with_a_lossy_channel_give_no_key():
    """Photon-number splitting: Eve blocks single photons and lets multi-photon pulses
    through, so the weak decoys arrive far less often than the signal's gain implies."""
    link = get_preset("lim2014")
    counts, pulses = expected_counts(link, 10.0, SETTINGS, n_x=1e6)
    pns = DecoyCounts(
        n_x=(counts.n_x[0], counts.n_x[1] * 0.2, counts.n_x[2]),
        m_x=(counts.m_x[0], counts.m_x[1] * 0.2, counts.m_x[2]),
        n_z=(counts.n_z[0], counts.n_z[1] * 0.2, counts.n_z[2]),
        m_z=(counts.m_z[0], counts.m_z[1] * 0.2, counts.m_z[2]),
    )
    samples = _decoy_samples(pns)
    analysis = _analysis(pulses)
    analysis.check(samples, qber_threshold=0.11)  # the error rates look fine
    result = analysis.key_length(
        samples, leaked_ec=_leak(samples), verification_bits=64, statement="fixed", **LENGTH_ARGS
    )
    assert result.terms["s_x1"] <= 0 and result.length == 0
    with pytest.raises(ProtocolAbort) as info:
        check_key_length(result)
    assert info.value.reason == "key_too_short"


def test_decoy_check_aborts_on_z_or_x_error_rates():
    counts, pulses = expected_counts(get_preset("lim2014"), 10.0, SETTINGS, n_x=1e5)
    samples = _decoy_samples(counts)
    analysis = _analysis(pulses)
    analysis.check(samples, qber_threshold=0.11)
    z = samples["Z@mu1"]
    noisy_z = samples | {"Z@mu1": dataclasses.replace(z, sample_errors=z.sample_bits // 5)}
    with pytest.raises(ProtocolAbort, match="Z-basis error rate") as info:
        analysis.check(noisy_z, qber_threshold=0.11)
    assert info.value.reason == "qber_above_threshold"
    x = samples["X@mu1"]
    noisy_x = samples | {"X@mu1": dataclasses.replace(x, sample_errors=x.sample_bits // 5)}
    with pytest.raises(ProtocolAbort, match="X-basis sample error rate"):
        analysis.check(noisy_x, qber_threshold=0.11)


def test_decoy_key_length_needs_z_disclosed_whole():
    counts, pulses = expected_counts(get_preset("lim2014"), 10.0, SETTINGS, n_x=1e5)
    samples = _decoy_samples(counts)
    z = samples["Z@mu2"]
    partial = samples | {"Z@mu2": dataclasses.replace(z, sample_bits=z.sifted_bits - 1)}
    with pytest.raises(ConfigError, match=r"whole Z basis disclosed.*Z@mu2"):
        _analysis(pulses).key_length(
            partial, leaked_ec=0, verification_bits=0, statement="fixed", **LENGTH_ARGS
        )


def test_lim_gamma_matches_finite_decoy():
    from qkd_circuits.analysis.finite_decoy import _gamma

    for a, b, c, d in [(1e-10, 0.03, 1e5, 4e5), (1e-3, 0.2, 50.0, 80.0), (0.5, 0.0, 1.0, 1.0)]:
        want = float(_gamma(a, np.array(b), np.array(c), np.array(d)))
        assert lim_gamma(a, b, c, d) == pytest.approx(want, rel=1e-12, abs=1e-300)


def _decoy_sifted_keys(
    counts: DecoyCounts, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Synthetic sifted keys: each class's expected count, i.i.d. errors at its rate."""
    rng = np.random.default_rng(seed)
    sizes = [round(n) for n in (*counts.n_z, *counts.n_x)]
    rates = [m / n for m, n in zip((*counts.m_z, *counts.m_x), (*counts.n_z, *counts.n_x),
                                   strict=True)]  # fmt: skip
    classes = rng.permutation(np.repeat(np.arange(6, dtype=np.uint8), sizes))
    alice = rng.integers(0, 2, classes.size, dtype=np.uint8)
    flips = rng.random(classes.size) < np.asarray(rates)[classes]
    return alice, alice ^ flips.astype(np.uint8), classes, flips


def test_distill_key_with_decoy_analysis_end_to_end():
    counts, pulses = expected_counts(get_preset("lim2014"), 25.0, SETTINGS, n_x=1e6)
    alice, bob, classes, flips = _decoy_sifted_keys(counts, seed=11)
    analysis = _analysis(pulses)
    result = distill_key(
        alice, bob, bases=classes, analysis=analysis, rng=12, secret_rng=13,
        config=PostprocessingConfig(sample_fraction=0.05),
    )  # fmt: skip
    assert not result.aborted, result.abort_message
    assert result.keys_match and result.residual_errors == 0
    est, length = result.estimate, result.key_length
    assert est is not None and length is not None
    # The whole Z basis is disclosed: no Z bit in the key, its errors counted exactly.
    for value, name in enumerate(DECOY_CLASS_NAMES):
        s, mask = est.samples[name], classes == value
        assert s.sifted_bits == np.count_nonzero(mask)
        if value < 3:
            assert s.key_bits == 0 and s.sample_errors == np.count_nonzero(flips & mask)
        else:
            assert s.sample_bits == math.ceil(0.05 * s.sifted_bits)
    assert np.all(est.key_bases >= 3)
    assert est.key_length == sum(est.samples[c].key_bits for c in DECOY_CLASS_NAMES[3:])
    # The emitted length is the analysis's on what was disclosed.
    assert result.final_key_bits == length.length > 0
    leaked = result.channel.total_leaked_bits(stage="reconciliation")
    tag = result.channel.total_leaked_bits(stage="verification")
    again = analysis.key_length(
        est.samples, leaked_ec=leaked, verification_bits=tag, statement="variable",
        **LENGTH_ARGS,
    )  # fmt: skip
    assert again == length and length.terms["lambda_ec"] == leaked + tag
    # The measured X error rate sits within 5 binomial standard errors of the model's.
    key_errors = np.count_nonzero(est.key_alice != est.key_bob)
    q_x = sum(counts.m_x) / sum(counts.n_x)
    n = est.key_length
    assert abs(key_errors / n - q_x) < 5 * math.sqrt(q_x * (1 - q_x) / n)


# --- GLLP -------------------------------------------------------------------------------


def _bb84_wcp_samples(
    link: LinkParameters, distance_km: float, mu: float, pulses: int, fraction: float = 0.1
) -> dict[str, BasisSample]:
    """Expected sifted counts of BB84 with one WCP intensity (q = 1/2 each party)."""
    eta = link.eta_bob * 10 ** (-link.alpha_db_per_km * distance_km / 10)
    gain = link.y0 + 1 - math.exp(-eta * mu)
    qber = (link.y0 / 2 + link.e_d * (1 - math.exp(-eta * mu))) / gain
    per_basis = round(pulses * gain / 4)
    k = math.ceil(fraction * per_basis)
    return {
        b: BasisSample(basis=b, sifted_bits=per_basis, sample_bits=k, sample_errors=round(qber * k))
        for b in ("Z", "X")
    }


def _bb84_leak(samples: dict[str, BasisSample]) -> float:
    return sum(1.2 * s.key_bits * float(binary_entropy(s.qber)) for s in samples.values())


def test_multi_photon_probability():
    for mu in (1e-5, 1e-3, 0.01, 0.5, 2.0):
        assert multi_photon_probability(mu) == pytest.approx(1 - math.exp(-mu) * (1 + mu), rel=1e-9)
    assert multi_photon_probability(1e-6) == pytest.approx(0.5e-12, rel=1e-5)
    with pytest.raises(ConfigError):
        multi_photon_probability(0.0)


@pytest.mark.parametrize(("n", "p"), [(10_000, 0.01), (10**6, 5e-5), (500, 0.3)])
def test_chernoff_upper_is_a_valid_and_tighter_tail_bound(n, p):
    eps = 1e-6
    upper = chernoff_upper(n, p, log_eps=math.log(eps))
    assert n * p < upper <= n * p + math.sqrt(n / 2 * math.log(1 / eps))
    assert bdtrc(math.ceil(upper) - 1, n, p) <= eps  # Pr[X >= upper] <= eps, exactly
    assert chernoff_upper(n, 0.0, log_eps=-5.0) == 0.0


def test_phase_error_bound_grows_as_the_sample_shrinks():
    """The monotonicity GLLPAnalysis relies on (untagged test bits >= k_u)."""
    for n, e in ((5000, 30), (20_000, 200)):
        bounds = [phase_error_bound(n, k, min(e, k), log_eps=-30.0) for k in range(400, 3000, 37)]
        assert all(a >= b for a, b in itertools.pairwise(bounds))


@pytest.mark.parametrize(("distance_km", "mu"), [(0.0, 0.01), (5.0, 0.01), (0.0, 0.02)])
def test_gllp_gives_less_than_bb84_at_short_distance(distance_km, mu):
    link, pulses = get_preset("lim2014"), 10**9
    samples = _bb84_wcp_samples(link, distance_km, mu, pulses)
    gllp = GLLPAnalysis(mu=mu, pulses=pulses)
    gllp.check(samples, qber_threshold=0.11)
    # "fixed" bounds the phase error at the tolerance itself: a tight one (the QBER is
    # about 0.5 %) leaves room for the multi-photon share.
    for statement, tolerance in (("variable", 0.11), ("fixed", 0.01)):
        kwargs = {
            "leaked_ec": _bb84_leak(samples), "verification_bits": 64, "eps_sec": EPS_SEC,
            "eps_cor": EPS_COR, "qber_tolerance": tolerance, "statement": statement,
        }  # fmt: skip
        result = gllp.key_length(samples, **kwargs)
        plain = PhaseErrorAnalysis().key_length(samples, **kwargs)
        assert 0 < result.length < plain.length
        assert result.length <= result.asymptotic_bits
        t = result.terms
        assert t["multi_photon_pulses_upper"] > pulses * multi_photon_probability(mu) / 4
        for b in ("Z", "X"):
            s_b = t[f"untagged_key_bits_{b}"]
            assert s_b == pytest.approx(t[f"key_bits_{b}"] - t["multi_photon_pulses_upper"])
            assert result.phase_error_bound[b] == pytest.approx(
                t[f"phase_error_bound_all_{b}"] * t[f"key_bits_{b}"] / s_b
            )
            assert result.phase_error_bound[b] > plain.phase_error_bound[b]
        privacy = sum(
            t[f"untagged_key_bits_{b}"] * (1 - clipped_binary_entropy(result.phase_error_bound[b]))
            for b in ("Z", "X")
        )
        assert t["bound"] == pytest.approx(
            privacy - t["leak_ec"] - t["verification_leak"] - t["pa_penalty"]
        )
        assert t["pa_penalty"] == pytest.approx(plain.terms["pa_penalty"])
        assert "Gottesman, Lo, Lutkenhaus, Preskill" in result.theorem


def test_gllp_gives_no_key_when_the_gain_is_below_the_multi_photon_probability():
    link, pulses, mu = get_preset("lim2014"), 10**9, 0.1
    samples = _bb84_wcp_samples(link, 20.0, mu, pulses)
    gain = 4 * samples["Z"].sifted_bits / pulses
    assert gain < multi_photon_probability(mu)
    gllp = GLLPAnalysis(mu=mu, pulses=pulses)
    with pytest.raises(ProtocolAbort, match="no key without decoy states") as info:
        gllp.check(samples, qber_threshold=0.11)
    assert info.value.reason == "key_too_short"
    with pytest.raises(ProtocolAbort, match="M\\+") as info:
        gllp.key_length(
            samples, leaked_ec=_bb84_leak(samples), verification_bits=64, statement="fixed",
            **LENGTH_ARGS,
        )  # fmt: skip
    assert info.value.reason == "key_too_short"
    # BB84's qubit analysis would (wrongly, for this source) emit a key.
    assert PhaseErrorAnalysis().key_length(
        samples, leaked_ec=_bb84_leak(samples), verification_bits=64, statement="fixed",
        **LENGTH_ARGS,
    ).length > 0  # fmt: skip


def test_gllp_distill_key_end_to_end():
    link, pulses, mu = get_preset("lim2014"), 10**9, 0.01
    samples = _bb84_wcp_samples(link, 0.0, mu, pulses)
    n = 2 * samples["Z"].sifted_bits
    alice, bob, bases = _keys(n, samples["Z"].qber, seed=21)
    result = distill_key(
        alice, bob, bases=bases, analysis=GLLPAnalysis(mu=mu, pulses=pulses), rng=22,
        secret_rng=23,
    )  # fmt: skip
    assert not result.aborted, result.abort_message
    assert result.keys_match and result.final_key_bits > 0
    plain = distill_key(alice, bob, bases=bases, rng=22, secret_rng=23)
    assert result.final_key_bits < plain.final_key_bits
