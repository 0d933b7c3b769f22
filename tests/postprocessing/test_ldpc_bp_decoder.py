"""The compiled product-sum syndrome decoders against the ``ldpc`` package's BpDecoder.

Frames are seeded error patterns on a code of the family (10^4 bits, from the normal
cache) with the probabilities reconciliation gives: ``q`` on key bits, 0.5 on
punctured bits, 10^-12 on shortened (known, zero) bits. Comparisons are exact (same
words, same flags), no statistical tolerance.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

pytest.importorskip("numba")

from ldpc import BpDecoder

from qkd_circuits.errors import ConfigError
from qkd_circuits.postprocessing.channel import PublicChannel
from qkd_circuits.postprocessing.reconciliation import ldpc as ldpc_mod
from qkd_circuits.postprocessing.reconciliation.bp_decoder import BpSyndromeDecoder
from qkd_circuits.postprocessing.reconciliation.ldpc_codes import get_code

ITER = 60


def _frames(code, qs, per_q, seed, punctured=300, shortened=200):
    """``(probabilities, error, syndrome)`` triples, ``per_q`` frames for each QBER."""
    rng = np.random.default_rng(seed)
    out = []
    for q in qs:
        for _ in range(per_q):
            p = np.full(code.n, q)
            pos = rng.permutation(code.n)
            p[pos[:punctured]] = 0.5
            p[pos[punctured : punctured + shortened]] = 1e-12
            e = (rng.random(code.n) < p).astype(np.uint8)
            e[pos[punctured : punctured + shortened]] = 0
            out.append((p, e, code.syndrome(e)))
    return out


@pytest.fixture(scope="module")
def code():
    return get_code(0.8, 10_000)


def _reference(code, frames):
    ref = BpDecoder(code.H, error_rate=0.05, max_iter=ITER, bp_method="product_sum",
                    schedule="parallel", input_vector_type="syndrome")  # fmt: skip
    out = []
    for p, _, s in frames:
        ref.update_channel_probs(p)
        word = np.asarray(ref.decode(s), dtype=np.uint8)
        out.append((word, bool(ref.converge), int(ref.iter)))
    return out


def test_flooding_is_the_ldpc_package_operation_for_operation(code):
    """Same decoded word, convergence flag and iteration count on every frame, below
    and above the code's threshold (both outcomes occur)."""
    frames = _frames(code, (0.01, 0.02, 0.025, 0.03, 0.05), per_q=4, seed=1)
    dec = BpSyndromeDecoder(code.H, max_iterations=ITER, schedule="flooding")
    ref = _reference(code, frames)
    flags = set()
    for (p, _, s), (word, ok, its) in zip(frames, ref, strict=True):
        out = dec.decode(s, p)
        assert np.array_equal(out.error, word)
        assert (out.converged, out.iterations) == (ok, its)
        flags.add(ok)
    assert flags == {True, False}


@pytest.mark.parametrize("exact", [False, True])
def test_layered_decodes_what_the_reference_decodes(code, exact):
    """Where the package converges, the layered decoder converges to the same word (the
    true error pattern) in fewer iterations; far above the threshold both fail; on frames
    near the threshold it decodes at least as many."""
    frames = _frames(code, (0.01, 0.02, 0.024, 0.06), per_q=8, seed=2)
    dec = BpSyndromeDecoder(code.H, max_iterations=ITER, exact=exact)
    ref = _reference(code, frames)
    ours = [dec.decode(s, p) for p, _, s in frames]
    for (p, e, _), (word, ok, its), out in zip(frames, ref, ours, strict=True):
        if ok:
            assert out.converged and np.array_equal(out.error, word)
            assert np.array_equal(word, e) and out.iterations <= its
        if 0.06 in p:  # far above the threshold
            assert not ok and not out.converged
    near = [(ok, out.converged) for (p, _, _), (_, ok, _), out in zip(frames, ref, ours,
            strict=True) if 0.024 in p]  # fmt: skip
    assert {False, True} <= {ok for ok, _ in near}  # both outcomes occur there
    assert sum(ours for _, ours in near) >= sum(ok for ok, _ in near)


def test_table_and_exact_layered_updates_agree(code):
    frames = _frames(code, (0.015, 0.024), per_q=6, seed=3)
    table = BpSyndromeDecoder(code.H, max_iterations=ITER)
    exact = BpSyndromeDecoder(code.H, max_iterations=ITER, exact=True)
    for p, e, s in frames:
        a, b = table.decode(s, p), exact.decode(s, p)
        assert a.converged == b.converged
        if a.converged:
            assert np.array_equal(a.error, e) and np.array_equal(b.error, e)
            assert abs(a.iterations - b.iterations) <= 2


def test_threads_decode_what_one_thread_decodes(code):
    frames = _frames(code, (0.02,), per_q=6, seed=4)
    dec = BpSyndromeDecoder(code.H, max_iterations=ITER)
    alone = [dec.decode(s, p) for p, _, s in frames]
    with ThreadPoolExecutor(max_workers=2) as pool:
        together = list(pool.map(lambda f: dec.decode(f[2], f[0]), frames))
    for x, y in zip(alone, together, strict=True):
        assert np.array_equal(x.error, y.error) and (x.converged, x.iterations) == (
            y.converged,
            y.iterations,
        )


def test_zero_syndrome_is_the_zero_pattern(code):
    for schedule in ("layered", "flooding"):
        dec = BpSyndromeDecoder(code.H, max_iterations=5, schedule=schedule)
        out = dec.decode(np.zeros(code.m, np.uint8), np.full(code.n, 0.03))
        assert out.converged and out.iterations == 0 and not out.error.any()


def test_bad_arguments_are_refused(code):
    with pytest.raises(ConfigError, match="schedule"):
        BpSyndromeDecoder(code.H, max_iterations=5, schedule="serial")
    for bad in (0, 2.5, True):
        with pytest.raises(ConfigError, match="max_iterations"):
            BpSyndromeDecoder(code.H, max_iterations=bad)
    with pytest.raises(ConfigError, match="sparse"):
        BpSyndromeDecoder(code.H.toarray(), max_iterations=5)
    dec = BpSyndromeDecoder(code.H, max_iterations=5)
    with pytest.raises(ConfigError, match="syndrome"):
        dec.decode(np.zeros(code.m + 1, np.uint8), np.full(code.n, 0.03))
    with pytest.raises(ConfigError, match="shape"):
        dec.decode(np.zeros(code.m, np.uint8), np.full(code.n - 1, 0.03))
    for p in (0.0, 1.0, np.nan):
        probs = np.full(code.n, 0.03)
        probs[7] = p
        with pytest.raises(ConfigError, match=r"\(0, 1\)"):
            dec.decode(np.zeros(code.m, np.uint8), probs)


def _keys(n, q, seed):
    rng = np.random.default_rng(seed)
    alice = rng.integers(0, 2, n, dtype=np.uint8)
    return alice, alice ^ (rng.random(n) < q).astype(np.uint8)


def test_reconcile_ldpc_gives_the_same_transcript_with_either_decoder():
    """Non-blind, every frame decoded by both: the same key and the same messages (the
    decoder changes only Bob's work, never what is sent)."""
    alice, bob = _keys(30_000, 0.04, seed=21)
    runs = []
    for decoder in ("numba", "ldpc"):
        chan = PublicChannel()
        res = ldpc_mod.reconcile_ldpc(alice, bob, qber=0.04, channel=chan, secret_rng=4,
                                      decoder=decoder)  # fmt: skip
        assert res.ldpc.decoder == decoder and res.ldpc.frame_errors == 0
        assert np.array_equal(res.corrected, alice)
        runs.append((chan.transcript(), res.leaked_bits, res.messages))
    assert runs[0] == runs[1]


def test_reconcile_ldpc_refuses_a_bad_or_missing_decoder(monkeypatch):
    alice, bob = _keys(2000, 0.02, seed=0)
    with pytest.raises(ConfigError, match="decoder"):
        ldpc_mod.reconcile_ldpc(alice, bob, qber=0.02, decoder="fast")
    monkeypatch.setattr(ldpc_mod, "numba_available", lambda: False)
    assert ldpc_mod.default_decoder() == "ldpc"
    with pytest.raises(ConfigError, match="numba"):
        ldpc_mod.reconcile_ldpc(alice, bob, qber=0.02, decoder="numba")
    res = ldpc_mod.reconcile_ldpc(alice, bob, qber=0.02, secret_rng=1)
    assert res.ldpc.decoder == "ldpc" and np.array_equal(res.corrected, alice)


def test_phi_table_is_within_half_a_bin_of_phi():
    """Every float32 input in [PHI_MIN_X, PHI_MAX_X) reads φ within half a bin (in log x)
    of the exact value: |φ'(x)| x · ln(1 + 1/256)/2 <= 1.95e-3; inputs below read φ(2^-24)."""
    from qkd_circuits.postprocessing.reconciliation import bp_decoder as bd

    table = bd.phi_table()
    x = np.geomspace(bd.PHI_MIN_X, bd.PHI_MAX_X, 400_001)[:-1].astype(np.float32)
    read = table[(x.view(np.int32) >> bd._SHIFT) - bd._BASE].astype(np.float64)
    exact = bd._phi(x.astype(np.float64))
    bound = x / np.sinh(x.astype(np.float64)) * np.log1p(1 / 256) / 2
    assert np.all(np.abs(read - exact) <= bound * (1 + 1e-3) + 1e-6)
    assert np.abs(read - exact).max() < 1.96e-3
    assert table.dtype == np.float32 and table.size == 30 * bd.PHI_BINS_PER_OCTAVE


def test_compiled_phi_lookup_stays_in_the_table_for_every_float32():
    """The compiled lookup on edge inputs: 0, −0, denormals and negatives read the first
    bin (φ(2^-24) = 17.3), 64 and beyond, +inf the last (≈ 0), NaN a bin of the table
    (never memory outside it)."""
    import numba

    from qkd_circuits.postprocessing.reconciliation import bp_decoder as bd

    @numba.njit
    def lookup(xs, table):  # type: ignore[no-untyped-def]
        out = np.empty(xs.size, dtype=np.float32)
        for i in range(xs.size):
            out[i] = bd._phi_lookup(xs[i], table)
        return out

    table = bd.phi_table()
    xs = np.array([0.0, -0.0, 1e-45, 1e-40, 2.0**-30, -3.0, -np.inf], dtype=np.float32)
    assert np.all(lookup(xs, table) == table[0])
    high = np.array([64.0, 65.0, 1e30, np.inf], dtype=np.float32)
    assert np.all(lookup(high, table) == table[-1])
    assert table[0] == pytest.approx(float(bd._phi(np.array([2.0**-24]))[0]), abs=2e-3)
    nan = lookup(np.array([np.nan, -np.nan], dtype=np.float32), table)
    assert np.all(np.isin(nan, table))
    one = lookup(np.array([1.0], dtype=np.float32), table)[0]
    assert one == pytest.approx(float(bd._phi(np.array([1.0]))[0]), abs=2e-3)
