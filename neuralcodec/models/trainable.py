"""The face hyperprior as it is trained: :class:`FaceHyperprior` plus learnable entropy models.

Training and export only (``tools/``): this module imports CompressAI, whose
``EntropyBottleneck`` (factorised prior) and ``GaussianConditional`` give the likelihoods of the
rate term and, at export, the integer CDF tables (:meth:`TrainableFaceHyperprior.update_tables`).
They sit under the state-dict prefixes ``hyper_entropy`` and ``latent_entropy``, so a weights
file written from this model loads into the coding model, which reads only the frozen tables
(:mod:`neuralcodec.entropy.priors`); transforms and gains have the same names in both.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import torch
from compressai.entropy_models import EntropyBottleneck
from compressai.entropy_models import GaussianConditional as LearnedGaussianConditional
from torch import Tensor, nn

from neuralcodec.models.hyperprior import FaceHyperprior, HyperpriorConfig

#: Scales of the Gaussian conditional's CDF tables: 64 steps, log-spaced from 0.11 to 256.
SCALE_TABLE = tuple(float(s) for s in np.exp(np.linspace(math.log(0.11), math.log(256), 64)))


@dataclass(frozen=True)
class RDOutput:
    """What a training forward pass returns: reconstruction and per-latent likelihoods."""

    x_hat: Tensor
    likelihoods: dict[str, Tensor]


def _ste_round(x: Tensor) -> Tensor:
    """Round in the forward pass, identity gradient in the backward pass."""
    return x + (torch.round(x) - x).detach()


class TrainableFaceHyperprior(FaceHyperprior):
    """:class:`FaceHyperprior` with CompressAI's learnable entropy models, for training.

    It codes like the coding model once its tables exist (:meth:`update_tables`, or loading
    weights that have them).
    """

    def __init__(self, config: HyperpriorConfig):
        super().__init__(config)
        self.hyper_entropy = EntropyBottleneck(config.hyper_width)
        self.latent_entropy = LearnedGaussianConditional(list(SCALE_TABLE))

    def forward(self, x: Tensor, level_index: Tensor) -> RDOutput:
        """Noisy-quantisation pass for training; ``level_index`` is int64 [B], one level per image."""
        y = self.analysis(x) * self.gains.gain(level_index)
        z = self.hyper_analysis(y) * self.hyper_gains.gain(level_index)
        z_noisy, z_likelihoods = self.hyper_entropy(z)
        mean, scale = self.hyper_synthesis(z_noisy * self.hyper_gains.inverse_gain(level_index))
        _, y_likelihoods = self.latent_entropy(y, scale, means=mean)
        # Rate from additive noise, synthesis from hard rounding (straight-through): the
        # decoder is trained on exactly the values it will see.
        y_hat = _ste_round(y - mean) + mean
        x_hat = self.synthesis(y_hat * self.gains.inverse_gain(level_index))
        return RDOutput(x_hat=x_hat, likelihoods={"y": y_likelihoods, "z": z_likelihoods})

    def aux_loss(self) -> Tensor:
        """Loss that fits the factorised prior's quantiles (used for its CDF range)."""
        return self.hyper_entropy.loss()

    def update_tables(self) -> None:
        """Recompute the integer CDF tables from the learned densities (at export time only),
        and code with them from now on."""
        self.hyper_entropy.update(force=True)
        self.latent_entropy.update_scale_table(list(SCALE_TABLE), force=True)
        self._set_priors(self.state_dict())

    def load_state_dict(self, state_dict: Mapping[str, Tensor], strict: bool = True, assign: bool = False):
        """Like nn.Module's (learnable entropy models included), but first resizes the CDF-table
        buffers to the saved sizes; codes with the loaded tables where the state has them."""
        learned = (("hyper_entropy", self.hyper_entropy), ("latent_entropy", self.latent_entropy))
        for prefix, entropy in learned:
            for name in ("_quantized_cdf", "_offset", "_cdf_length"):
                key = f"{prefix}.{name}"
                if key in state_dict:
                    getattr(entropy, name).resize_(state_dict[key].shape)
        result = nn.Module.load_state_dict(self, state_dict, strict=strict, assign=assign)
        if self.hyper_entropy._quantized_cdf.numel() and self.latent_entropy._quantized_cdf.numel():
            self._set_priors(self.state_dict())
        return result
