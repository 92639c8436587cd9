"""Variable-rate mean-scale hyperprior: the CVAE face codec.

One network serves every quality level through *gain units* (Cui et al., CVPR 2021): a
learned per-channel gain scales the latent before quantisation (finer steps = more bits) and
an inverse gain undoes it before synthesis; the hyper-latent has its own pair. Each level l
is trained on its own rate-distortion trade-off lambda_l.

::

    x --analysis--> y --*gain[l]--> y_g --hyper_analysis--> z --*hyper_gain[l]--> z_g
                                      |                                             |
                                      |                          Q, factorised prior, rANS
                                      |                                             |
                                      |   (mean, scale) <--hyper_synthesis-- /hyper_gain[l] <-- z_hat
                                      |         |
                             Q(y_g - mean) + mean, Gaussian conditional, rANS
                                      |
    x_hat <--synthesis-- /gain[l] <-- y_hat

Spatially varying quality (ROI, :class:`LevelRegion`): the hyper-analysis and the hyperprior
run at the file's level index l exactly as above, so the hyper stream is unchanged. A latent
cell coded at level position p instead uses gain ratio r = gain(p) / gain[l] per channel: its
latent is r * y_g and, as y_g ~ N(mean, scale) under the hyperprior, it is coded with
N(r * mean, r * scale); the decoder forms the same float64 products before picking CDF
tables, and applies inverse_gain(p) before the synthesis.

Rate axis: one glossary for the whole package (codec, container, CLI, tools say which
of these a number is, by name):

=================  ========  =====================================================================
name               type      meaning
=================  ========  =====================================================================
quality            int       1-based, user-facing: ``compress(quality=...)``, the .nfc header,
                             ``nfc encode -q``; 1 = smallest files. Quality q is level index q - 1.
level_index        int       0-based index of a shipped level of the model: the row of its gain
                             units (``gains.log_gain[level_index]``); 0 .. ``levels`` - 1.
level_position     float     a point on the level axis of a weights file; integers are its levels,
                             fractions interpolate the log-gains of the two nearest, values
                             beyond the ends extrapolate (:func:`resample_log_gains`). Used by
                             :class:`LevelRegion`, ``tools/export.py --level-positions`` (on the
                             trained axis) and ``tools/train.py --init-levels`` (on the init
                             weights' axis).
level offset       float     a difference on that axis, in levels: position = level_index +
                             offset. ``compress(roi_levels=...)`` and
                             ``neuralcodec.info.FileInfo.roi_*_level_offset`` count in it.
quarter steps      int       a level offset times
                             :data:`~neuralcodec.container.spec.QUARTER_STEPS_PER_LEVEL` (4): how
                             the .nfc ROI block stores offsets (``RoiBlock.*_quarter_steps``).
=================  ========  =====================================================================

Seen as a VAE (the "CVAE" of the design card): the encoder posterior is a unit-width uniform
around y_g, the prior is the hyperprior, and the rate term -log2 p(y_hat | z_hat) - log2 p(z_hat)
is the KL term of the evidence lower bound. Training minimises D + beta * R with
beta = 1 / (lambda * 255^2); see ``tools/train.py``.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn

from neuralcodec.entropy import decode_symbols_batch, encode_symbols_batch
from neuralcodec.entropy.priors import FactorizedPrior, GaussianConditional
from neuralcodec.errors import CorruptBitstream
from neuralcodec.transforms import (
    AnalysisTransform,
    HyperAnalysis,
    HyperSynthesis,
    SynthesisTransform,
)
from neuralcodec.transforms.fused import use_fused_by_default
from neuralcodec.transforms.networks import STRIDE
from neuralcodec.transforms.tiles import (
    TILED_ABOVE_PIXELS,
    Tiling,
    hyper_synthesis_strips,
    synthesize_tiled,
)


@dataclass(frozen=True)
class HyperpriorConfig:
    """Architecture of :class:`FaceHyperprior`."""

    #: N: feature channels of the analysis and synthesis transforms, or their widths at
    #: 1/2, 1/4 and 1/8 scale (a 3-tuple).
    channels: int | tuple[int, int, int] = 64
    #: M: channels of the latent y.
    latent_channels: int = 128
    levels: int = 8
    #: Feature and hyper-latent channels of the hyper transforms (None: ``channels``).
    hyper_channels: int | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.channels, int):  # weights files store the tuple as a list
            object.__setattr__(self, "channels", tuple(int(c) for c in self.channels))
        if self.hyper_channels is None and not isinstance(self.channels, int):
            raise ValueError("per-scale channels need hyper_channels")

    @property
    def hyper_width(self) -> int:
        if self.hyper_channels is not None:
            return self.hyper_channels
        assert isinstance(self.channels, int)  # checked in __post_init__
        return self.channels


@dataclass(frozen=True)
class EncodedLatents:
    """The two entropy-coded streams of one image and the hyper-latent's spatial size."""

    hyper_stream: bytes
    latent_stream: bytes
    hyper_hw: tuple[int, int]


@dataclass(frozen=True)
class LevelRegion:
    """A spatially varying quality: latent cells [top, top + height) x [left, left + width)
    are quantised at level position ``inside_position``, all other cells at ``outside_position``.

    Level positions are on the model's level axis (0 = first level; module docstring, "Rate
    axis"); fractional ones interpolate the log-gains of the two nearest levels
    (:func:`resample_log_gains`).
    """

    left: int
    top: int
    width: int
    height: int
    inside_position: float
    outside_position: float


@dataclass(frozen=True)
class AnalysedImage:
    """An image after the analysis and hyper transforms at one level: all the encoder needs
    to code its latent, once or several times (e.g. to search a rate)."""

    level_index: int
    y_scaled: Tensor  # [1, M, h, w] float32: analysis output times gain[level_index]
    hyper_stream: bytes
    hyper_hw: tuple[int, int]
    mean: Tensor  # [1, M, h, w] float64, predicted from the decoded hyper-latent
    scale: Tensor  # [1, M, h, w] float64


class GainUnits(nn.Module):
    """Per-level, per-channel gains and inverse gains, stored as logarithms (positive by construction).

    Level index l's gain vector is ``exp(log_gain[l])``; between two levels the log-gains
    interpolate (:func:`resample_log_gains`), which is how a continuous rate knob would be added.
    """

    def __init__(self, levels: int, channels: int, log_spread: float):
        super().__init__()
        init = torch.linspace(-log_spread / 2, log_spread / 2, levels)[:, None].repeat(1, channels)
        self.log_gain = nn.Parameter(init.clone())
        self.log_inverse_gain = nn.Parameter(-init.clone())

    @property
    def levels(self) -> int:
        return self.log_gain.shape[0]

    def gain(self, level_index: Tensor) -> Tensor:
        return self.log_gain[level_index].exp()[:, :, None, None]

    def inverse_gain(self, level_index: Tensor) -> Tensor:
        return self.log_inverse_gain[level_index].exp()[:, :, None, None]


GAIN_KEYS = (
    "gains.log_gain",
    "gains.log_inverse_gain",
    "hyper_gains.log_gain",
    "hyper_gains.log_inverse_gain",
)


def resample_log_gains(log_gains: Tensor, level_positions: list[float]) -> Tensor:
    """[L, C] per-level log-gains -> [len(level_positions), C], linear in the log domain.

    Level position 0 is the first level; fractional positions interpolate the two nearest
    levels and positions outside [0, L-1] extrapolate from the end pair.
    """
    if log_gains.shape[0] < 2:
        raise ValueError("need at least two levels to resample")
    last = log_gains.shape[0] - 2
    rows = []
    for p in level_positions:
        lo = min(max(math.floor(p), 0), last)
        t = p - lo
        rows.append(log_gains[lo] * (1 - t) + log_gains[lo + 1] * t)
    return torch.stack(rows)


class FaceHyperprior(nn.Module):
    """Variable-rate mean-scale hyperprior for coding: the transforms, the gain units and the
    frozen entropy models read from a weights file (:meth:`load_state_dict`).

    Inputs are [B, 3, H, W] in [0, 1], H and W multiples of 64. Training uses
    :class:`~neuralcodec.models.trainable.TrainableFaceHyperprior`, which has the same
    parameter names plus CompressAI's learnable entropy models, and writes the weights files.
    """

    stride = STRIDE

    #: State-dict prefixes of the entropy models: CDF tables and the numbers that index them.
    ENTROPY_PREFIXES = ("hyper_entropy", "latent_entropy")

    def __init__(self, config: HyperpriorConfig = HyperpriorConfig()):
        super().__init__()
        self.config = config
        n, m, hyper = config.channels, config.latent_channels, config.hyper_width
        self.analysis = AnalysisTransform(n, m)
        self.synthesis = SynthesisTransform(n, m)
        self.hyper_analysis = HyperAnalysis(hyper, m)
        self.hyper_synthesis = HyperSynthesis(hyper, m)
        # Quantisation step halves about every two levels at init; training moves them.
        self.gains = GainUnits(config.levels, m, log_spread=math.log(2.0) * (config.levels - 1) / 2)
        self.hyper_gains = GainUnits(config.levels, hyper, log_spread=0.0)
        self._hyper_prior: FactorizedPrior | None = None
        self._latent_prior: GaussianConditional | None = None
        self._hyper_synthesis64: HyperSynthesis | None = None

    @property
    def levels(self) -> int:
        return self.gains.levels

    @property
    def hyper_prior(self) -> FactorizedPrior:
        """The hyper-latent's frozen factorised prior (from the weights file)."""
        if self._hyper_prior is None:
            raise RuntimeError("the model has no entropy tables yet: load a weights file")
        return self._hyper_prior

    @property
    def latent_prior(self) -> GaussianConditional:
        """The latent's frozen Gaussian conditional (from the weights file)."""
        if self._latent_prior is None:
            raise RuntimeError("the model has no entropy tables yet: load a weights file")
        return self._latent_prior

    def load_state_dict(self, state_dict: Mapping[str, Tensor], strict: bool = True, assign: bool = False):
        """Load transforms and gains like nn.Module, and the entropy models' frozen tables
        (the ``hyper_entropy.*`` / ``latent_entropy.*`` keys, :mod:`neuralcodec.entropy.priors`)."""
        state = dict(state_dict)
        entropy = {k: state.pop(k) for k in list(state) if k.split(".", 1)[0] in self.ENTROPY_PREFIXES}
        result = super().load_state_dict(state, strict=strict, assign=assign)
        self._set_priors(entropy)
        return result

    def _set_priors(self, state: Mapping[str, Tensor]) -> None:
        self._hyper_prior = FactorizedPrior.from_state_dict(state, "hyper_entropy")
        self._latent_prior = GaussianConditional.from_state_dict(state, "latent_entropy")
        self._hyper_synthesis64 = None

    # --- coding -------------------------------------------------------------------

    def _mean_scale(self, z_hat: Tensor, level_index: Tensor) -> tuple[Tensor, Tensor]:
        """(mean, scale) of y from the decoded hyper-latent, float64.

        Runs in float64: the CDF index is a threshold on the scale, and encoder and decoder
        must pick the same one even when thread count or hardware changes the rounding. The
        float64 copy of the hyper synthesis is made once, on first use after loading weights.
        """
        if self._hyper_synthesis64 is None:
            self._hyper_synthesis64 = copy.deepcopy(self.hyper_synthesis).double().eval()
        z_in = z_hat.double() * self.hyper_gains.inverse_gain(level_index).double()
        if z_in.shape[2] * z_in.shape[3] * STRIDE * STRIDE > TILED_ABOVE_PIXELS:
            return hyper_synthesis_strips(self._hyper_synthesis64, z_in)
        return self._hyper_synthesis64(z_in)

    def _entropy_parameters(self, z_hat: Tensor, level_index: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """(mean, scale, CDF index) of y from the decoded hyper-latent (:meth:`_mean_scale`)."""
        mean, scale = self._mean_scale(z_hat, level_index)
        return mean, scale, self.latent_prior.indexes(scale)

    def _region_maps(
        self, level_index: Tensor, region: LevelRegion, latent_hw: tuple[int, int]
    ) -> tuple[Tensor, Tensor]:
        """(gain ratio to ``level_index``, float64 [1, M, h, w]; inverse gain, float32 [1, M, h, w]).

        The ratio is exp(log_gain(position) - log_gain[level_index]) per channel, 1 exactly where
        the position is ``level_index``. Encoder and decoder build it from the same float32 parameters
        with the same elementwise operations, so both see the same float64 values.
        """
        h, w = latent_hw
        positions = [region.outside_position, region.inside_position]
        log_gain = resample_log_gains(self.gains.log_gain.detach(), positions).double()
        ratio = (log_gain - self.gains.log_gain.detach()[level_index].double()).exp()  # [2, M]
        inverse = resample_log_gains(self.gains.log_inverse_gain.detach(), positions).exp()
        inside = torch.zeros(h, w, dtype=torch.long)
        inside[region.top : region.top + region.height, region.left : region.left + region.width] = 1
        return ratio[inside].permute(2, 0, 1)[None], inverse[inside].permute(2, 0, 1)[None]

    @torch.no_grad()
    def analyse(self, x: Tensor, level_index: int) -> AnalysedImage:
        """x: [1, 3, H, W] in [0, 1] with H, W multiples of 64 -> latent, hyper stream, entropy parameters."""
        return self.analyse_batch([x], level_index)[0]

    @torch.no_grad()
    def analyse_batch(self, images: Sequence[Tensor], level_index: int) -> list[AnalysedImage]:
        """:meth:`analyse` of many images ([1, 3, H_i, W_i] each, any sizes), the same results.

        The transforms run image by image: a stacked analysis differs from a single one in the
        last float bits (measured on CPU), which could move a symbol's rounding and so change
        the bytes. What batching saves is per-call work: one coder call for every hyper
        stream, one float64 conversion of the hyper synthesis.
        """
        return self.analyse_latents([self.analysis(x) for x in images], level_index)

    @torch.no_grad()
    def analyse_latents(self, outputs: Sequence[Tensor], level_index: int) -> list[AnalysedImage]:
        """:meth:`analyse_batch` after the analysis transform: ``outputs`` holds its outputs
        ([1, M, h_i, w_i] each, scaled by the gain in place), computed whole or over tiles
        (:mod:`neuralcodec.transforms.tiles`)."""
        lv = torch.tensor([level_index])
        latents, hyper_latents = [], []
        for raw in outputs:
            y = raw.mul_(self.gains.gain(lv))  # the same product as raw * gain, without a copy
            latents.append(y)
            hyper_latents.append(self.hyper_analysis(y) * self.hyper_gains.gain(lv))
        z_symbols = [torch.round(z - self.hyper_prior.median_map(z.shape)) for z in hyper_latents]
        hyper_streams = encode_symbols_batch(
            [s.int().numpy() for s in z_symbols],
            [self.hyper_prior.indexes(s.shape) for s in z_symbols],
            self.hyper_prior.tables,
        )
        analysed = []
        for y, symbols, stream in zip(latents, z_symbols, hyper_streams, strict=True):
            z_hat = symbols + self.hyper_prior.median_map(symbols.shape)
            mean, scale, _ = self._entropy_parameters(z_hat, lv)
            hyper_hw = (symbols.shape[2], symbols.shape[3])
            analysed.append(AnalysedImage(level_index, y, stream, hyper_hw, mean, scale))
        return analysed

    def code_latent(self, image: AnalysedImage, region: LevelRegion | None = None) -> EncodedLatents:
        """Entropy-code the latent of ``image`` at its level index, or with ``region``'s gain map.

        With a region, the hyperprior still sees the latent at the file's level (so the hyper
        stream does not change); a level position coded with gain ratio r to that level holds
        r * y_g, whose mean and scale are r * mean and r * scale: exact for a Gaussian.
        """
        return self.code_latents([image], [region])[0]

    def code_latents(
        self, images: Sequence[AnalysedImage], regions: Sequence[LevelRegion | None] | None = None
    ) -> list[EncodedLatents]:
        """:meth:`code_latent` of many images (``regions``: one per image, or None for none), in
        one coder call."""
        regions = [None] * len(images) if regions is None else regions
        symbols, indexes = [], []
        for image, region in zip(images, regions, strict=True):
            mean, scale, y = image.mean, image.scale, image.y_scaled.double()
            if region is not None:
                lv = torch.tensor([image.level_index])
                ratio, _ = self._region_maps(lv, region, (y.shape[2], y.shape[3]))
                mean, scale, y = mean * ratio, scale * ratio, y * ratio
            indexes.append(self.latent_prior.indexes(scale).numpy())
            symbols.append(torch.round(y - mean).int().numpy())
        streams = encode_symbols_batch(symbols, indexes, self.latent_prior.tables)
        return [
            EncodedLatents(image.hyper_stream, stream, hyper_hw=image.hyper_hw)
            for image, stream in zip(images, streams, strict=True)
        ]

    def compress(self, x: Tensor, level_index: int, region: LevelRegion | None = None) -> EncodedLatents:
        """x: [1, 3, H, W] in [0, 1] with H, W multiples of 64."""
        return self.code_latent(self.analyse(x, level_index), region)

    @torch.no_grad()
    def decompress(
        self, encoded: EncodedLatents, level_index: int, region: LevelRegion | None = None
    ) -> Tensor:
        """-> x_hat [1, 3, 64*h, 64*w] in [0, 1], (h, w) = encoded.hyper_hw."""
        return self.decompress_batch([encoded], [level_index], [region])[0]

    @torch.no_grad()
    def decompress_batch(
        self,
        encoded: Sequence[EncodedLatents],
        level_indexes: Sequence[int],
        regions: Sequence[LevelRegion | None],
    ) -> list[Tensor]:
        """:meth:`decompress` of many images (any sizes, levels and regions), the same pixels.

        ::

            hyper streams --one coder call--> z_hat --per image, float64--> mean, scale, indexes
            latent streams --one coder call--> y_hat --synthesis, per image--> x_hat

        The transforms run image by image, as in :meth:`analyse_batch`: a stack of 5 faces
        through the synthesis gave other pixels than one face at a time (oneDNN's deconvolution
        blocks a batch differently; 2 threads, measured). Raises :class:`CorruptBitstream` for
        the first bad stream.
        """
        return [
            self.synthesis.infer(y_hat).clamp_(0.0, 1.0)
            for y_hat in self.decode_latents(encoded, level_indexes, regions)
        ]

    @torch.no_grad()
    def decompress_tiled(
        self,
        encoded: EncodedLatents,
        level_index: int,
        region: LevelRegion | None,
        size: tuple[int, int],
        tiling: Tiling,
    ) -> np.ndarray:
        """:meth:`decompress` of one image with the synthesis over tiles, straight to uint8
        [height, width, 3] for ``size`` = (height, width): the pixels of the whole-image
        decode (:func:`~neuralcodec.transforms.tiles.synthesize_tiled`) in bounded memory."""
        (y_hat,) = self.decode_latents([encoded], [level_index], [region])
        fused = use_fused_by_default(y_hat.device)
        return synthesize_tiled(self.synthesis, y_hat, size, tiling, fused)

    @torch.no_grad()
    def decode_latents(
        self,
        encoded: Sequence[EncodedLatents],
        level_indexes: Sequence[int],
        regions: Sequence[LevelRegion | None],
    ) -> list[Tensor]:
        """The entropy decoding of :meth:`decompress_batch`: y_hat times the inverse gain,
        [1, M, h, w] float32 per image, what the synthesis transform takes."""
        hyper_shapes = [torch.Size((1, self.config.hyper_width, *e.hyper_hw)) for e in encoded]
        z_symbols = decode_symbols_batch(
            [e.hyper_stream for e in encoded],
            [self.hyper_prior.indexes(shape) for shape in hyper_shapes],
            self.hyper_prior.tables,
        )
        means, inverse_gains, latent_indexes = [], [], []
        for symbols, shape, level_index, region in zip(
            z_symbols, hyper_shapes, level_indexes, regions, strict=True
        ):
            lv = torch.tensor([level_index])
            z_hat = torch.from_numpy(symbols).float() + self.hyper_prior.median_map(shape)
            mean, scale, indexes = self._entropy_parameters(z_hat, lv)
            inverse_gain = self.gains.inverse_gain(lv)
            if region is not None:
                ratio, inverse_gain = self._region_maps(lv, region, (mean.shape[2], mean.shape[3]))
                mean = mean * ratio
                indexes = self.latent_prior.indexes(scale * ratio)
            means.append(mean)
            inverse_gains.append(inverse_gain)
            latent_indexes.append(indexes.numpy())
        y_symbols = decode_symbols_batch(
            [e.latent_stream for e in encoded], latent_indexes, self.latent_prior.tables
        )
        y_hats = []
        for symbols, mean, inverse_gain in zip(y_symbols, means, inverse_gains, strict=True):
            y_hat = (torch.from_numpy(symbols).double() + mean).float()
            if not torch.isfinite(y_hat).all():
                raise CorruptBitstream("decoded latent is not finite")
            y_hats.append(y_hat * inverse_gain)
        return y_hats
