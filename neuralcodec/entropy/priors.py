"""The frozen probability models of the codec: integer CDF tables and the rule that picks one.

A weights file carries, per entropy model, the quantised CDF tables the coder uses
(:class:`~neuralcodec.entropy.coder.CdfTables`) and the few numbers that choose a table for
each symbol. They are computed once from the learned densities when a model is exported
(training uses CompressAI's entropy models; see :mod:`neuralcodec.models.trainable`) and are
read here as they are stored, so decoding depends on nothing but the file::

    hyper-latent z, channel c:   symbol = round(z - median[c]),   table c
    latent y, scale s (float64): symbol = round(y - mean),        table = scale_index(s)

    scale_index(s) = #{k < K - 1 : scale_table[k] < max(s, scale_bound)}   (K tables)
                     (K - 1 for NaN)

State-dict keys (those CompressAI's ``EntropyBottleneck`` and ``GaussianConditional`` write,
under the model's prefix); the other keys those modules store are training state, not read::

    factorised prior:      quantiles [C, 1, 3] (median = [:, 0, 1]), _quantized_cdf [C, L],
                           _cdf_length [C], _offset [C]
    Gaussian conditional:  scale_table [K], lower_bound_scale.bound [1], _quantized_cdf [K, L],
                           _cdf_length [K], _offset [K]
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from neuralcodec.entropy.coder import CdfTables
from neuralcodec.errors import UnknownModel


def _tables(state: Mapping[str, Tensor], prefix: str) -> CdfTables:
    names = ("_quantized_cdf", "_cdf_length", "_offset")
    cdfs, lengths, offsets = (_key(state, prefix, name) for name in names)
    tables = CdfTables(
        cdfs=np.ascontiguousarray(cdfs.numpy(), dtype=np.int32),
        lengths=np.ascontiguousarray(lengths.numpy(), dtype=np.int32),
        offsets=np.ascontiguousarray(offsets.numpy(), dtype=np.int32),
    )
    count = tables.cdfs.shape[0]
    if tables.cdfs.ndim != 2 or tables.lengths.shape != (count,) or tables.offsets.shape != (count,):
        raise UnknownModel(f"weights file: {prefix} CDF tables have inconsistent shapes")
    return tables


def _key(state: Mapping[str, Tensor], prefix: str, name: str) -> Tensor:
    try:
        return state[f"{prefix}.{name}"].detach().cpu()
    except KeyError:
        raise UnknownModel(f"weights file lacks {prefix}.{name}; it is not a neuralcodec model") from None


@dataclass(frozen=True)
class FactorizedPrior:
    """The hyper-latent's model: one CDF table per channel, symbols relative to its median."""

    tables: CdfTables
    medians: Tensor  # float32 [C]

    @classmethod
    def from_state_dict(cls, state: Mapping[str, Tensor], prefix: str) -> FactorizedPrior:
        tables = _tables(state, prefix)
        quantiles = _key(state, prefix, "quantiles")
        if quantiles.dim() != 3 or quantiles.shape[0] != tables.cdfs.shape[0] or quantiles.shape[2] != 3:
            raise UnknownModel(f"weights file: {prefix}.quantiles does not match its CDF tables")
        return cls(tables, quantiles[:, 0, 1].float().contiguous())

    @property
    def channels(self) -> int:
        return self.tables.cdfs.shape[0]

    def median_map(self, shape: torch.Size) -> Tensor:
        """The medians broadcast to a hyper-latent of ``shape`` [B, C, h, w]."""
        return self.medians.reshape(1, -1, 1, 1).expand(shape)

    def indexes(self, shape: torch.Size) -> np.ndarray:
        """int32 ``shape``: the table of each hyper-latent symbol, its channel."""
        return np.ascontiguousarray(
            np.broadcast_to(np.arange(shape[1], dtype=np.int32).reshape(1, -1, 1, 1), tuple(shape))
        )


#: Symbols per chunk of :meth:`GaussianConditional.indexes`.
INDEX_CHUNK = 1 << 20


@dataclass(frozen=True)
class GaussianConditional:
    """The latent's model: a zero-mean Gaussian per symbol, one CDF table per scale of a table."""

    tables: CdfTables
    #: float64 [K]: the scale of each table (the float32 values stored, exactly); non-decreasing.
    scale_table: Tensor
    #: Scales below this are coded as this (the float32 value stored, exactly).
    scale_bound: float

    @classmethod
    def from_state_dict(cls, state: Mapping[str, Tensor], prefix: str) -> GaussianConditional:
        tables = _tables(state, prefix)
        scale_table = _key(state, prefix, "scale_table").double()
        bound = _key(state, prefix, "lower_bound_scale.bound")
        if scale_table.shape != (tables.cdfs.shape[0],) or bound.numel() != 1:
            raise UnknownModel(f"weights file: {prefix} scale table does not match its CDF tables")
        if not bool((scale_table[1:] >= scale_table[:-1]).all()):
            raise UnknownModel(f"weights file: {prefix}.scale_table is not sorted")
        return cls(tables, scale_table.contiguous(), float(bound.item()))

    def indexes(self, scale: Tensor) -> Tensor:
        """int32, shaped like ``scale`` (float64): the CDF table of each latent symbol.

        The rule of the module docstring, computed in float64 on the stored float32 values, so
        encoder and decoder agree whatever computed ``scale``'s last bits identically.
        Computed in chunks of :data:`INDEX_CHUNK` symbols (elementwise, so the same values),
        which keeps the float64 and int64 temporaries of a 24 Mpx latent from tripling its size.
        """
        flat = scale.reshape(-1)
        out = torch.empty(flat.shape, dtype=torch.int32)
        for start in range(0, flat.numel(), INDEX_CHUNK):
            bounded = torch.clamp_min(flat[start : start + INDEX_CHUNK], self.scale_bound)
            index = torch.searchsorted(self.scale_table[:-1], bounded)
            index = torch.where(torch.isnan(bounded), len(self.scale_table) - 1, index)
            out[start : start + INDEX_CHUNK] = index
        return out.reshape(scale.shape)
