"""From per-image measurements to the numbers the tables show.

    Measurements --aggregate--> per codec, one RdPoint per quality (means over images)
    RdPoints --analyse--> RdAnalysis: BD-rates vs every anchor that was run, quality at fixed
        bpp, the smallest file and the best PSNR of each codec

Curves are arithmetic means over images of per-image values (bytes, bpp, PSNR in dB, SSIM,
MS-SSIM, VIF, L1, L2); MS-SSIM in dB is -10 log10(1 - mean MS-SSIM). Face-region means cover
the images that had a mask, and say how many. BD-rates (bench.bdrate) compare the mean
curves, for PSNR and for MS-SSIM in dB. Every derived table follows from the RdPoints alone,
so results.json of an earlier version is re-analysed the same way (bench.results).
"""

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from neuralcodec.bench.bdrate import BD_METHOD, BdRate, RdCurve, bd_rate, quality_at_rate
from neuralcodec.bench.codecs import Codec
from neuralcodec.bench.store import Measurement

ANCHORS = ("jpeg", "webp", "avif", "avif-s0", "heic")
BD_METRICS = {"psnr": "PSNR", "ms_ssim_db": "MS-SSIM (dB)"}
FIXED_BPP = (0.1, 0.25, 0.5, 1.0, 2.0)
AT_BPP_METRICS = {"psnr": "PSNR dB", "ms_ssim": "MS-SSIM"}
BD_RATE_METHOD = {
    "package": "bjontegaard",
    "interpolation": BD_METHOD,
    "rate": "log10 of mean bpp",
    "curves": "mean curves; dominated points dropped (listed per result)",
    "ms_ssim_db": "-10 * log10(1 - mean MS-SSIM)",
    "anchor_coverage": "share of the anchor's quality range that the test curve covers too",
}


@dataclass(frozen=True)
class FacePoint:
    """Means over the `n_images` images of one (codec, quality) that had a face mask."""

    n_images: int
    psnr: float
    ssim: float
    ms_ssim: float
    vif: float | None
    l1: float
    l2: float


@dataclass(frozen=True)
class RdPoint:
    """One codec at one quality: means over its `n_images` images. `vif` is None where an
    image is under piq's minimum size; `header_*` only for codecs with a container header."""

    quality: int
    n_images: int
    bytes: float
    bpp: float
    psnr: float
    ssim: float
    ms_ssim: float
    vif: float | None
    l1: float
    l2: float
    ms_ssim_db: float | None
    header_bytes: float | None = None
    header_share: float | None = None
    face: FacePoint | None = None


@dataclass(frozen=True)
class OperatingPoint:
    """One quality setting of a codec, picked out of its curve."""

    quality: int
    bytes: float
    bpp: float
    psnr: float
    ms_ssim: float

    @classmethod
    def of(cls, point: RdPoint) -> "OperatingPoint":
        return cls(point.quality, point.bytes, point.bpp, point.psnr, point.ms_ssim)


RdCurves = dict[str, tuple[RdPoint, ...]]
# metric -> test codec -> anchor codec -> BdRate
BdRateTable = dict[str, dict[str, dict[str, BdRate]]]
# metric -> codec -> str(bpp) -> quality there, None outside the codec's sweep
AtBppTable = dict[str, dict[str, dict[str, float | None]]]


@dataclass(frozen=True)
class RdAnalysis:
    """Everything the tables show, as results.json stores it."""

    rd: RdCurves
    bd_rate: BdRateTable
    smallest_file: dict[str, OperatingPoint]
    best_psnr: dict[str, OperatingPoint]
    at_bpp: AtBppTable


@dataclass(frozen=True)
class MsSsimUse:
    """How many images were measured with one MS-SSIM window and number of scales."""

    kernel_size: int
    scales: int
    n_images: int


def _mean(values: Sequence[float]) -> float:
    return float(np.mean(values))


def _mean_or_none(values: Sequence[float | None]) -> float | None:
    """The mean, or None if any value is missing (e.g. VIF of images under 41 px)."""
    present = [v for v in values if v is not None]
    return _mean(present) if len(present) == len(values) else None


def _ms_ssim_db(ms_ssim: float) -> float | None:
    return -10 * math.log10(1 - ms_ssim) if ms_ssim < 1 else None


def _face_point(measurements: Sequence[Measurement]) -> FacePoint | None:
    faces = [m.metrics.face for m in measurements if m.metrics.face is not None]
    if not faces:
        return None
    return FacePoint(
        n_images=len(faces),
        psnr=_mean([f.psnr for f in faces]),
        ssim=_mean([f.ssim for f in faces]),
        ms_ssim=_mean([f.ms_ssim for f in faces]),
        vif=_mean_or_none([f.vif for f in faces]),
        l1=_mean([f.l1 for f in faces]),
        l2=_mean([f.l2 for f in faces]),
    )


def _rd_point(quality: int, group: Sequence[Measurement]) -> RdPoint:
    measured = [m.metrics for m in group]
    headers = [m.header_bytes for m in group if m.header_bytes is not None]
    ms_ssim = _mean([m.ms_ssim for m in measured])
    return RdPoint(
        quality=quality,
        n_images=len(group),
        bytes=_mean([m.n_bytes for m in measured]),
        bpp=_mean([m.bpp for m in measured]),
        psnr=_mean([m.psnr for m in measured]),
        ssim=_mean([m.ssim for m in measured]),
        ms_ssim=ms_ssim,
        vif=_mean_or_none([m.vif for m in measured]),
        l1=_mean([m.l1 for m in measured]),
        l2=_mean([m.l2 for m in measured]),
        ms_ssim_db=_ms_ssim_db(ms_ssim),
        header_bytes=_mean(headers) if headers else None,
        header_share=(
            _mean([m.header_bytes / m.metrics.n_bytes for m in group if m.header_bytes is not None])
            if headers
            else None
        ),
        face=_face_point(group),
    )


def aggregate(measurements: Iterable[Measurement], codecs: Sequence[Codec]) -> RdCurves:
    """Per codec, its RdPoints in order of quality; ValueError where a quality of a codec's
    sweep has no measurement (the runner measures them all before aggregating)."""
    groups: dict[tuple[str, int], list[Measurement]] = defaultdict(list)
    for m in measurements:
        groups[m.codec, m.quality].append(m)
    curves = {}
    for codec in codecs:
        points = []
        for q in sorted(codec.qualities):
            if not groups[codec.name, q]:
                raise ValueError(f"no measurement of {codec.name} at quality {q}")
            points.append(_rd_point(q, groups[codec.name, q]))
        curves[codec.name] = tuple(points)
    return curves


def ms_ssim_settings_used(measurements: Iterable[Measurement]) -> tuple[MsSsimUse, ...]:
    per_image = {
        (m.image, m.image_sha256, m.metrics.ms_ssim_kernel_size, m.metrics.ms_ssim_scales)
        for m in measurements
    }
    counts: dict[tuple[int, int], int] = defaultdict(int)
    for _, _, kernel_size, scales in per_image:
        counts[kernel_size, scales] += 1
    return tuple(MsSsimUse(k, s, n) for (k, s), n in sorted(counts.items()))


def _curve(points: Sequence[RdPoint], metric: str) -> RdCurve:
    values = [getattr(p, metric) for p in points]
    return RdCurve.of(
        [p.quality for p in points],
        [p.bpp for p in points],
        [math.nan if v is None else v for v in values],
    )


def _bd_rates(rd: RdCurves) -> BdRateTable:
    anchors = [a for a in ANCHORS if a in rd]
    return {
        metric: {
            test: {
                anchor: bd_rate(_curve(rd[anchor], metric), _curve(rd[test], metric)) for anchor in anchors
            }
            for test in rd
        }
        for metric in BD_METRICS
    }


def _at_fixed_bpp(rd: RdCurves) -> AtBppTable:
    return {
        metric: {
            name: {str(rate): quality_at_rate(_curve(points, metric), rate) for rate in FIXED_BPP}
            for name, points in rd.items()
        }
        for metric in AT_BPP_METRICS
    }


def analyse(rd: RdCurves) -> RdAnalysis:
    """The BD-rate, fixed-bpp, smallest-file and best-PSNR tables of the curves `rd`."""
    return RdAnalysis(
        rd=rd,
        bd_rate=_bd_rates(rd),
        smallest_file={
            name: OperatingPoint.of(min(points, key=lambda p: p.bytes))
            for name, points in rd.items()
            if points
        },
        best_psnr={
            name: OperatingPoint.of(max(points, key=lambda p: p.psnr))
            for name, points in rd.items()
            if points
        },
        at_bpp=_at_fixed_bpp(rd),
    )
