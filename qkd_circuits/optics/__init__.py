"""Simulated optical links: fibre loss, detectors, weak laser pulses and decoy states.

* :mod:`~qkd_circuits.optics.source` — Alice's source (single photons, weak coherent
  pulses) and the intensities of a decoy-state run;
* :mod:`~qkd_circuits.optics.link` — the fibre link (:class:`LinkModel`: a
  :class:`~qkd_circuits.analysis.link.LinkParameters` preset or file at a distance)
  and the routes a pulse's photons take to Bob's detectors;
* :mod:`~qkd_circuits.optics.detections` — which pulses click, drawn exactly per
  class (any number of pulses) or pulse by pulse, and the bit each click gives
  (dark counts, squashed double clicks);
* :mod:`~qkd_circuits.optics.exchanges` — the quantum phase of a run over a link:
  the detected pulses' circuits on Aer and their results.

The photon-number-splitting attack is :mod:`qkd_circuits.attacks.pns`; decoy-state
BB84 is :mod:`qkd_circuits.protocols.decoy_bb84`.
"""
