"""What Eve knows, measured from her own recorded outcomes (simulator only).

Her probe reads a guess of Alice's bit in every exchange she attacked. From the sifted
bits, counted by her choice in the exchange (her basis, for a random-basis
intercept-resend) and the announced basis, both known to her:

- ``eve_error_rate``: how often her guess differs from Alice's bit, on the sifted bits
  she attacked;
- ``mutual_information_ae``: I(A; E | her choice, the basis), bits per sifted bit: the
  plug-in mutual information of each (choice, basis) group's 2×2 table of (Alice's
  bit, Eve's guess), weighted by the group's share of the sifted bits (a bit she did
  not attack adds 0). Random-basis intercept-resend in BB84 gives 1/2 (she knows the
  half where her basis was Alice's, 1 bit each, and nothing of the rest), not
  1 − h(1/4): she knows which of her bits are sure. The plug-in estimate is biased up
  by about (cells − 1)/(2 N ln 2) bits per group of N bits (Miller 1955; Paninski,
  Neural Comput. 15, 1191 (2003)), under 10⁻⁴ for groups of 10⁴ bits;
- ``mutual_information_ab``: ``1 − h(Q)`` at the actual QBER Q of the sifted key,
  Alice's and Bob's information per sifted bit (a binary symmetric channel);
- ``key_agreement_before_amplification`` and ``final_key_agreement``: Eve applies the
  public Toeplitz seed of privacy amplification to her guess of the key that was
  amplified (her bits where she attacked, 0 elsewhere: a uniform bit is as good a
  guess as any) and compares, bit by bit, with the key before and after the hash. She
  also hears the reconciliation's parities; that is what ``leaked_bits`` charges, not
  counted here. After amplification her agreement is 1/2 to within the binomial
  error: the leftover hash lemma at work (Impagliazzo, Levin & Luby, STOC 1989;
  Tomamichel et al., Nat. Commun. 3, 634 (2012)).

Eve's bits stay in the simulator: the report carries only these rates.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
from numpy.typing import NDArray

from qkd_circuits.analysis.entropy import binary_entropy
from qkd_circuits.postprocessing.amplification import modified_toeplitz_hash
from qkd_circuits.postprocessing.sifting import SiftedKey


def table_information(counts: Iterable[int]) -> float:
    """Plug-in mutual information of a 2×2 table of counts ``[n00, n01, n10, n11]``
    (Alice's bit, Eve's guess), in bits (0 for an empty table). Mutual information is
    never negative; the sum's rounding (-3e-16 on a product table) is clamped to 0."""
    joint = np.asarray(list(counts), dtype=np.float64).reshape(2, 2)
    total = joint.sum()
    if total == 0:
        return 0.0
    p = joint / total
    outer = p.sum(axis=1, keepdims=True) * p.sum(axis=0, keepdims=True)
    nonzero = p > 0
    return max(float(np.sum(p[nonzero] * np.log2(p[nonzero] / outer[nonzero]))), 0.0)


def information_standard_error(joint: Mapping[str, list[int]], sifted_bits: int) -> float:
    """Standard error of ``mutual_information_ae`` (bits per sifted bit), by the delta
    method: the estimate is the mean over the sifted bits of
    ``L = log2(p(a, e | g) / (p(a | g) p(e | g)))`` in each bit's group g (0 for a bit Eve
    did not attack), so its variance is ``Var(L) / N`` (Basharin, Theory Probab. Appl. 4,
    333 (1959); Paninski 2003, Sec. 3). It misses the plug-in bias (module docstring),
    which a test adds to its tolerance."""
    if sifted_bits <= 0:
        return float("nan")
    first = second = 0.0
    for counts in joint.values():
        table = np.asarray(counts, dtype=np.float64).reshape(2, 2)
        total = table.sum()
        if total == 0:
            continue
        p = table / total
        outer = p.sum(axis=1, keepdims=True) * p.sum(axis=0, keepdims=True)
        nonzero = table > 0
        log_ratio = np.log2(p[nonzero] / outer[nonzero])
        first += float(np.sum(table[nonzero] * log_ratio))
        second += float(np.sum(table[nonzero] * log_ratio**2))
    mean = first / sifted_bits
    return float(np.sqrt(max(second / sifted_bits - mean**2, 0.0) / sifted_bits))


def pool_joint(tallies: Iterable[Mapping[str, list[int]]]) -> dict[str, list[int]]:
    """Sum several ``SiftedKey.tally()["eve_joint"]`` tables (blocks of one run)."""
    pooled: dict[str, list[int]] = {}
    for joint in tallies:
        for group, counts in joint.items():
            cell = pooled.setdefault(group, [0, 0, 0, 0])
            for i, c in enumerate(counts):
                cell[i] += c
    return pooled


def eve_knowledge(
    *,
    joint: Mapping[str, list[int]],
    sifted_bits: int,
    qber_actual: float,
    agreement: Mapping[str, list[int]] | None = None,
) -> dict[str, Any]:
    """The report's measured part of the ``eve`` object (module docstring).

    Args:
        joint: ``SiftedKey.tally()["eve_joint"]``, pooled over the run's blocks.
        sifted_bits: Sifted bits of the run.
        qber_actual: Actual error rate of the sifted key.
        agreement: ``{"before": [agreeing, bits], "final": [agreeing, bits]}``, pooled
            (:func:`key_agreement`); None or empty lists when no key was amplified.

    Returns:
        ``attacked``, ``eve_error_rate``, ``mutual_information_ae``,
        ``mutual_information_ab``, ``key_agreement_before_amplification``,
        ``final_key_agreement`` (None where undefined).
    """
    attacked = sum(sum(c) for c in joint.values())
    wrong = sum(c[1] + c[2] for c in joint.values())
    info = sum(sum(c) * table_information(c) for c in joint.values())
    ab = None if not 0 <= qber_actual <= 1 else 1.0 - float(binary_entropy(qber_actual))

    def rate(key: str) -> float | None:
        agree, bits = (agreement or {}).get(key, [0, 0])
        return agree / bits if bits else None

    return {
        "attacked": attacked,
        "eve_error_rate": wrong / attacked if attacked else None,
        "mutual_information_ae": info / sifted_bits if sifted_bits else None,
        "mutual_information_ab": ab,
        "key_agreement_before_amplification": rate("before"),
        "final_key_agreement": rate("final"),
    }


def key_agreement(sifted: SiftedKey, result: Any) -> dict[str, list[int]]:
    """Eve's guess of the amplified key against it, before and after the hash.

    Args:
        sifted: The sifted key, with Eve's bits (:meth:`SiftedKey.with_eve`).
        result: The :class:`~qkd_circuits.postprocessing.pipeline.DistillationResult`.

    Returns:
        ``{"before": [agreeing bits, bits], "final": [agreeing bits, bits]}``; ``{}``
        without Eve or when no key was emitted.
    """
    est = result.estimate
    if sifted.eve_bits is None or result.aborted or est is None or result.final_key_bits == 0:
        return {}
    keep = np.ones(sifted.size, dtype=bool)
    keep[est.sample_positions] = False
    guess: NDArray[np.uint8] = sifted.eve_bits[keep]
    seed = _amplification_seed(result, est.key_alice.size)
    final_guess = modified_toeplitz_hash(guess, seed, result.final_key_bits)
    return {
        "before": [int(np.count_nonzero(guess == est.key_alice)), int(guess.size)],
        "final": [
            int(np.count_nonzero(final_guess == result.key_alice)),
            int(result.final_key_bits),
        ],
    }


def _amplification_seed(result: Any, n: int) -> NDArray[np.uint8]:
    """The Toeplitz seed Alice sent, read off the public channel: ``n − 1`` bits."""
    (message,) = [m for m in result.channel.messages if m.stage == "amplification"]
    return np.unpackbits(np.frombuffer(message.payload, dtype=np.uint8), count=n - 1)


def pool_agreement(parts: Iterable[Mapping[str, list[int]]]) -> dict[str, list[int]]:
    """Sum several :func:`key_agreement` counts (blocks of one run)."""
    pooled: dict[str, list[int]] = {}
    for part in parts:
        for key, (agree, bits) in part.items():
            cell = pooled.setdefault(key, [0, 0])
            cell[0] += agree
            cell[1] += bits
    return pooled


__all__ = [
    "eve_knowledge",
    "information_standard_error",
    "key_agreement",
    "pool_agreement",
    "pool_joint",
    "table_information",
]
