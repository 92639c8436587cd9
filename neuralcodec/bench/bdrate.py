"""Bjøntegaard-delta rate between two rate–distortion curves, never raising.

    anchor curve, test curve --monotone_points--> strictly increasing (rate, quality) pairs
        --bjontegaard.bd_rate(method="pchip")--> BdRate(percent | None, reason, overlap,
            anchor_coverage)

The curves are the benchmark's mean curves: rate in bpp, quality in dB (higher is better).
BD-rate interpolates log10(rate) as a function of quality and averages the difference over
the quality range both curves cover, so -40 % means the test codec needs 40 % fewer bits
than the anchor for the same quality, on average over that range.

A setting that costs more bits for no better quality is never worth choosing, and PCHIP
needs strictly increasing quality, so such dominated points are dropped from each curve
before interpolating (as a convex-hull / Pareto selection of operating points would) and
listed in the result. Where fewer than two points remain, the curves do not overlap or
the package fails, the result is None with the reason.

quality_at_rate reads one curve at a fixed rate (e.g. PSNR at 0.25 bpp) the same way.
"""

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import bjontegaard
import numpy as np
from scipy.interpolate import PchipInterpolator

BD_METHOD = "pchip"


@dataclass(frozen=True)
class RdCurve:
    """One codec's operating points; `qualities` are the codec's quality settings."""

    qualities: tuple[int, ...]
    rates: tuple[float, ...]
    distortions: tuple[float, ...]

    @classmethod
    def of(cls, qualities: Sequence[int], rates: Sequence[float], distortions: Sequence[float]) -> "RdCurve":
        if not len(qualities) == len(rates) == len(distortions):
            raise ValueError("qualities, rates and distortions differ in length")
        return cls(tuple(qualities), tuple(map(float, rates)), tuple(map(float, distortions)))


@dataclass(frozen=True)
class BdRate:
    """`percent` is None exactly when `reason` says why; `overlap` is the share (0..1) of
    the union of both quality ranges that both curves cover, `anchor_coverage` the share of
    the anchor's quality range that the test curve covers too (what a BD-rate against that
    anchor speaks for); `*_dropped` are the qualities left out as dominated or invalid."""

    percent: float | None
    reason: str | None
    overlap: float | None
    anchor_coverage: float | None
    anchor_dropped: tuple[int, ...]
    test_dropped: tuple[int, ...]


def monotone_points(curve: RdCurve) -> tuple[RdCurve, tuple[int, ...]]:
    """The points whose quality beats every cheaper point, and the qualities dropped.

    Points with a non-finite or non-positive rate, or a non-finite quality, are dropped too.
    """
    valid = [
        (rate, dist, q)
        for q, rate, dist in zip(curve.qualities, curve.rates, curve.distortions, strict=True)
        if math.isfinite(rate) and rate > 0 and math.isfinite(dist)
    ]
    kept: list[tuple[float, float, int]] = []
    for rate, dist, q in sorted(valid):
        if kept and rate == kept[-1][0]:
            if dist <= kept[-1][1]:
                continue
            kept.pop()
        if not kept or dist > kept[-1][1]:
            kept.append((rate, dist, q))
    kept_qualities = {q for _, _, q in kept}
    dropped = tuple(q for q in curve.qualities if q not in kept_qualities)
    return (
        RdCurve(
            qualities=tuple(q for _, _, q in kept),
            rates=tuple(rate for rate, _, _ in kept),
            distortions=tuple(dist for _, dist, _ in kept),
        ),
        dropped,
    )


def bd_rate(anchor: RdCurve, test: RdCurve, unit: str = "dB") -> BdRate:
    """BD-rate of `test` against `anchor` in percent; None with a reason when undefined."""
    anchor_kept, anchor_dropped = monotone_points(anchor)
    test_kept, test_dropped = monotone_points(test)

    def undefined(reason: str, overlap: float | None = None, anchor_coverage: float | None = None) -> BdRate:
        return BdRate(None, reason, overlap, anchor_coverage, anchor_dropped, test_dropped)

    for role, kept in (("anchor", anchor_kept), ("test", test_kept)):
        if len(kept.rates) < 2:
            return undefined(f"the {role} curve has fewer than 2 increasing points")

    lo = max(anchor_kept.distortions[0], test_kept.distortions[0])
    hi = min(anchor_kept.distortions[-1], test_kept.distortions[-1])
    union = max(anchor_kept.distortions[-1], test_kept.distortions[-1]) - min(
        anchor_kept.distortions[0], test_kept.distortions[0]
    )
    if hi <= lo:
        return undefined(
            f"quality ranges do not overlap: anchor {anchor_kept.distortions[0]:.2f}-"
            f"{anchor_kept.distortions[-1]:.2f} {unit}, test {test_kept.distortions[0]:.2f}-"
            f"{test_kept.distortions[-1]:.2f} {unit}",
            overlap=0.0,
            anchor_coverage=0.0,
        )
    overlap = (hi - lo) / union
    anchor_coverage = (hi - lo) / (anchor_kept.distortions[-1] - anchor_kept.distortions[0])
    try:
        with warnings.catch_warnings():
            # The overlap is reported with the result, so the package's own warning is noise.
            warnings.simplefilter("ignore")
            percent = bjontegaard.bd_rate(
                anchor_kept.rates,
                anchor_kept.distortions,
                test_kept.rates,
                test_kept.distortions,
                method=BD_METHOD,
                require_matching_points=False,
                min_overlap=0.0,
            )
    except ValueError as exc:
        return undefined(f"bjontegaard failed: {exc}", overlap, anchor_coverage)
    if not math.isfinite(percent):
        return undefined(f"bjontegaard returned {percent}", overlap, anchor_coverage)
    return BdRate(float(percent), None, overlap, anchor_coverage, anchor_dropped, test_dropped)


def quality_at_rate(curve: RdCurve, rate: float) -> float | None:
    """The quality `curve` reaches at `rate`, or None outside the rates it covers.

    Interpolated like BD-rate: PCHIP through the curve's non-dominated points, with
    log10(rate) as the abscissa, so a codec is never credited with a dominated setting.
    """
    kept, _ = monotone_points(curve)
    if not kept.rates or not kept.rates[0] <= rate <= kept.rates[-1]:
        return None
    if len(kept.rates) == 1:
        return kept.distortions[0]
    log_rates = np.log10(kept.rates)
    return float(PchipInterpolator(log_rates, kept.distortions)(math.log10(rate)))
