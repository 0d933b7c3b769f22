"""Quantum channel models: Aer noise models built from a :class:`NoiseSpec`."""

from qkd_circuits.channel.noise import CHANNEL_LABEL, NoiseSpec, build_noise_model

__all__ = ["CHANNEL_LABEL", "NoiseSpec", "build_noise_model"]
