"""The one interface every QKD protocol implements, and the code that runs any of them.

A protocol module defines a class with the members of :class:`Protocol` and
registers one instance in :mod:`qkd_circuits.protocols.registry` (with its
:class:`ProtocolInfo` in :mod:`qkd_circuits.protocols.info`, so the CLI lists it
without importing Qiskit). The runner, the CLI, the report and the device path use
nothing else: adding a protocol is adding one module and those two entries.

The data flow of a run, for every protocol::

    draw_choices(n, eve, rng)            secret choices, one configuration code each
      -> circuit_for_code(code)          real circuits, all measurements terminal
      -> run_exchanges(...)              grouped / literal / device execution
      -> records(choices, outcomes)      the raw records of the quantum phase
      -> sift(records, channel)          what is announced; the sifted keys
      -> analysis(sifted)                how the estimate becomes a verdict and a length
      -> postprocessing.distill_key(..., analysis=...)

Circuit conventions (so the noise model, the executors and the device path
run every protocol unchanged): qubit 0 is the qubit that crosses the channel
to Bob and that Bob measures (the noise model and the readout error act on
qubit 0 only); it carries the ``IGate(label="channel")`` where the channel
acts; Eve's probe, when present, is the last qubit; every measurement is
terminal; the classical registers are 1-bit and named as in
:attr:`Protocol.registers` (a register absent from a circuit reads 0).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any, runtime_checkable
from typing import Protocol as TypingProtocol

import numpy as np
from numpy.typing import NDArray
from qiskit.circuit import QuantumCircuit

from qkd_circuits.attacks.spec import EveSpec
from qkd_circuits.execution.base import Executor, ProgressCallback, run_grouped, run_literal
from qkd_circuits.optics.detections import Detections
from qkd_circuits.optics.link import LinkModel
from qkd_circuits.postprocessing.channel import PublicChannel
from qkd_circuits.postprocessing.security import SecurityAnalysis
from qkd_circuits.postprocessing.sifting import SiftedKey
from qkd_circuits.protocols.info import ProtocolInfo
from qkd_circuits.randomness import RNGLike, ensure_secret_rng


@runtime_checkable
class Protocol(TypingProtocol):
    """A QKD protocol: choices, circuits, sifting rule and security analysis.

    Attributes:
        info: Name, states, sifting rule, threshold, references.
        registers: The 1-bit classical registers read from every exchange circuit
            (e.g. ``("bob", "eve")``); a register absent from a circuit reads 0.
    """

    @property
    def info(self) -> ProtocolInfo:
        """Name, states, sifting rule, threshold, references."""
        ...

    @property
    def registers(self) -> tuple[str, ...]:
        """The 1-bit classical registers read from every exchange circuit."""
        ...

    def draw_choices(self, n: int, *, eve: EveSpec | None = None, rng: RNGLike = None) -> Any:
        """The secret random choices of ``n`` exchanges (Eve's too, from ``eve``).

        Returns a frozen dataclass of numpy arrays of shape (n,) (saved as the run's
        secrets on a device) with a ``codes`` property: the configuration code of
        each exchange, :data:`~qkd_circuits.circuits.codes.Codes` (n,). ``rng`` is a
        secret generator (None: the OS CSPRNG).
        """
        ...

    def circuit_for_code(self, code: int, *, eve: EveSpec | None = None) -> QuantumCircuit:
        """The circuit of one configuration code (conventions in the module docstring)
        under Eve's attack ``eve`` (:mod:`qkd_circuits.attacks`; the code holds her
        choice in the exchange; None: random-basis intercept-resend)."""
        ...

    def max_circuit_qubits(self, *, eve: EveSpec | None = None) -> int:
        """Qubits of the widest circuit a run with eavesdropper ``eve`` can draw (what a
        device must hold; the device path takes circuits of at most 2 qubits, and
        :class:`~qkd_circuits.runner.RunConfig` refuses a wider run up front)."""
        ...

    def records(self, choices: Any, outcomes: Mapping[str, NDArray[np.uint8]]) -> Any:
        """The raw records of a run: ``choices`` with the per-exchange ``outcomes``
        (register name -> uint8 (n,)). Has ``n`` and ``circuit(index)``."""
        ...

    def sift(self, records: Any, *, channel: PublicChannel | None = None) -> SiftedKey:
        """Apply the sifting rule; every announcement goes on ``channel``."""
        ...

    def analysis(self, sifted: SiftedKey) -> SecurityAnalysis:
        """How this run's estimate becomes a verdict and a finite-key length."""
        ...

    def asymptotic_rate(self, qber: float) -> float:
        """Secret bits per sifted bit in the asymptotic limit at error rate ``qber``, with
        error correction at the Shannon limit (may be negative: no key). Cited in the
        implementation's docstring; its root is :attr:`ProtocolInfo.threshold`."""
        ...

    def report_extras(self, records: Any, sifted: SiftedKey) -> dict[str, Any]:
        """Protocol-specific report fields (E91: ``chsh_s``, ``chsh_s_stderr``), or ``{}``."""
        ...


@runtime_checkable
class LinkProtocol(Protocol, TypingProtocol):
    """A protocol that also runs over a fibre link (:mod:`qkd_circuits.optics`): the
    runner draws the detected pulses, then asks it for their choices and, after
    sifting, for the analysis that accounts for the source's photon statistics."""

    def draw_detected_choices(
        self, detections: Detections, *, eve: EveSpec, rng: RNGLike = None
    ) -> Any:
        """The secret choices of the detected pulses, shape (D,), as :meth:`draw_choices`
        returns them (a pulse's bit and bases do not change whether it clicks)."""
        ...

    def link_analysis(
        self, sifted: SiftedKey, link: LinkModel, detections: Detections
    ) -> SecurityAnalysis:
        """The security analysis of a run over ``link`` (e.g. GLLP or decoy bounds)."""
        ...


def run_exchanges(
    protocol: Protocol,
    choices: Any,
    executor: Executor,
    *,
    eve: EveSpec | None = None,
    literal: bool = False,
    rng: RNGLike = None,
    progress: ProgressCallback | None = None,
) -> Any:
    """Send every exchange of ``choices`` through its circuit and collect the raw records.

    Args:
        protocol: The protocol whose circuits and records these are.
        choices: What ``protocol.draw_choices`` returned.
        executor: Where the circuits run.
        eve: The attack a code with Eve's choice means (None: the one ``choices`` were
            drawn for, ``choices.eve``).
        literal: One circuit per exchange instead of one per configuration.
        rng: Secret generator or seed for the outcome draws, scatter permutations and
            simulator seeds (None: OS CSPRNG).
        progress: ``progress(done, total)`` callback (the literal path reports per chunk).
    """
    gen = ensure_secret_rng(rng)
    codes = choices.codes
    registers = protocol.registers
    attack = getattr(choices, "eve", None) if eve is None else eve
    circuit_for_code = functools.partial(protocol.circuit_for_code, eve=attack)
    if literal:
        out = run_literal(codes, circuit_for_code, registers, executor, rng=gen, progress=progress)
    else:
        out = run_grouped(codes, circuit_for_code, registers, executor, rng=gen)
        if progress is not None:
            progress(codes.size, codes.size)
    return protocol.records(choices, out)


__all__ = ["LinkProtocol", "Protocol", "ProtocolInfo", "run_exchanges"]
