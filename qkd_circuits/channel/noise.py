"""Channel and detector noise as qiskit-aer ``NoiseModel`` objects.

The channel is a single-qubit instruction ``IGate(label="channel")`` on the
signal qubit; the noise model attaches the channel error to that *label*
(Aer matches noise on labels as well as names). Measured with qiskit 2.6: an
unlabelled ``id`` gate is removed by the transpiler at optimisation level >= 1,
the labelled one survives levels 0 and 1 but is removed at levels 2 and 3
(``RemoveIdentityEquivalent``). So BB84 circuits go to Aer untranspiled, and
:class:`~qkd_circuits.execution.aer.AerExecutor` refuses a circuit that has
lost its channel while the noise model has channel noise, instead of letting
the noise vanish silently.

Bit-error rates these channels produce for BB84 (state in Z or X, measured in
the same basis), used as test oracles:

* depolarizing p:   rho -> (1-p) rho + p I/2, flips the bit with probability p/2
  in either basis;
* bit flip p (X):   flips Z-basis bits with probability p, X-basis bits never;
  average over both bases p/2;
* phase flip p (Z): flips X-basis bits with probability p, Z-basis bits never;
* amplitude damping gamma: |1> decays with probability gamma: a Z-basis 1 is read
  0 with probability gamma, a Z-basis 0 never flips; in X the error is
  (1 - sqrt(1-gamma))/2 (Nielsen & Chuang, Sec. 8.3.5);
* readout p: Bob's detector reports the wrong bit with probability p;
* misalignment e_d: the optical misalignment of a fibre link, a coherent rotation
  ``Ry(θ)`` of the polarisation (or phase) reference with ``sin²(θ/2) = e_d``, so a
  Z- or X-basis photon reaches the wrong detector with probability e_d (Lo, Ma &
  Chen, PRL 94, 230504 (2005): the e_d of the GYS link); Y-basis states are on the
  rotation axis and are not disturbed.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import TYPE_CHECKING

from qkd_circuits.errors import ConfigError
from qkd_circuits.specs import check_probability, parse_key_values, parse_probability

if TYPE_CHECKING:  # qiskit_aer is imported where a model is built, so parsing a spec is fast
    from qiskit_aer.noise import NoiseModel, QuantumError

CHANNEL_LABEL = "channel"
"""Label of the identity gate that stands for the quantum channel."""

_SPEC_NAMES = {
    "depolarizing": "depolarizing",
    "bitflip": "bitflip",
    "phaseflip": "phaseflip",
    "amplitude-damping": "amplitude_damping",
    "readout": "readout",
    "misalignment": "misalignment",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class NoiseSpec:
    """Noise on the channel and at Bob's detector; every field is a probability in [0, 1].

    Attributes:
        depolarizing: Depolarizing parameter p of the channel.
        bitflip: Probability of an X error in the channel.
        phaseflip: Probability of a Z error in the channel.
        amplitude_damping: Damping parameter gamma of the channel.
        readout: Symmetric readout (assignment) error of Bob's detector.
        misalignment: Error e_d of a coherent misalignment rotation (module docstring).
    """

    depolarizing: float = 0.0
    bitflip: float = 0.0
    phaseflip: float = 0.0
    amplitude_damping: float = 0.0
    readout: float = 0.0
    misalignment: float = 0.0

    def __post_init__(self) -> None:
        for f in fields(self):
            check_probability(getattr(self, f.name), name=f.name)

    @classmethod
    def parse(cls, text: str) -> NoiseSpec:
        """Parse ``"depolarizing=0.02,readout=0.01"``; ``"none"`` means no noise.

        Names: depolarizing, bitflip, phaseflip, amplitude-damping, readout, misalignment.

        Raises:
            ConfigError: an empty spec, an unknown name or a value outside [0, 1].
        """
        if not isinstance(text, str):
            raise ConfigError(f"noise spec must be a string or a NoiseSpec, got {text!r}")
        if not text.strip():
            raise ConfigError(
                "empty noise spec; give 'none' or NAME=P pairs, e.g. depolarizing=0.02"
            )
        if text.strip() == "none":
            return cls()
        items = parse_key_values(text, what="noise spec", allowed=tuple(_SPEC_NAMES))
        values = {
            _SPEC_NAMES[k]: parse_probability(v, name=k, what=f"noise spec {text!r}")
            for k, v in items.items()
        }
        return cls(**values)

    def to_dict(self) -> dict[str, float]:
        """The non-zero parameters, keyed by their spec names."""
        return {k: getattr(self, a) for k, a in _SPEC_NAMES.items() if getattr(self, a)}

    def __str__(self) -> str:
        d = self.to_dict()
        return ",".join(f"{k}={v:g}" for k, v in d.items()) or "none"

    @property
    def is_noiseless(self) -> bool:
        """True when every parameter is zero."""
        return not self.to_dict()

    def channel_error(self) -> QuantumError | None:
        """The channel as one single-qubit ``QuantumError`` (None when noiseless).

        Order of composition: amplitude damping, depolarizing, bit flip, phase flip,
        misalignment (a unitary ``Ry(θ)``, ``sin²(θ/2) = e_d``).
        """
        import math

        from qiskit.circuit.library import RYGate
        from qiskit_aer.noise import (
            amplitude_damping_error,
            coherent_unitary_error,
            depolarizing_error,
            pauli_error,
        )

        parts: list[QuantumError] = []
        if self.amplitude_damping:
            parts.append(amplitude_damping_error(self.amplitude_damping))
        if self.depolarizing:
            parts.append(depolarizing_error(self.depolarizing, 1))
        if self.bitflip:
            parts.append(pauli_error([("X", self.bitflip), ("I", 1 - self.bitflip)]))
        if self.phaseflip:
            parts.append(pauli_error([("Z", self.phaseflip), ("I", 1 - self.phaseflip)]))
        if self.misalignment:
            theta = 2.0 * math.asin(math.sqrt(self.misalignment))
            parts.append(coherent_unitary_error(RYGate(theta).to_matrix()))
        if not parts:
            return None
        error = parts[0]
        for p in parts[1:]:
            error = error.compose(p)
        return error


def build_noise_model(spec: NoiseSpec, *, signal_qubit: int = 0) -> NoiseModel:
    """Aer noise model for ``spec``: channel error on the labelled gate, readout on Bob's qubit.

    Only ``signal_qubit`` (the qubit that crosses the channel and that Bob
    measures) is noisy; Eve's probe qubit is not.
    """
    if signal_qubit < 0:
        raise ConfigError(f"signal_qubit must be >= 0, got {signal_qubit!r}")
    from qiskit_aer.noise import NoiseModel, ReadoutError

    model = NoiseModel()
    error = spec.channel_error()
    if error is not None:
        model.add_quantum_error(error, CHANNEL_LABEL, [signal_qubit])
    if spec.readout:
        p = spec.readout
        model.add_readout_error(ReadoutError([[1 - p, p], [p, 1 - p]]), [signal_qubit])
    return model
