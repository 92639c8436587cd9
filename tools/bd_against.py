"""BD-rate of training runs (tools/eval_study results) against the anchors of a bench run.

    python -m neuralcodec.bench.rd ../shared/data/faces/test --codecs nfc,avif-s0,heic \
        -o runs/rd-test20 --limit 20
    python -m tools.eval_study ../shared/data/faces/test -o runs/v3-long-eval --limit 20 \
        --run v3long=runs/cvae-v3-long:tools/configs/cvae-v3-long.toml
    python -m tools.bd_against runs/v3-long-eval/results.json runs/rd-test20/results.json

Both must have coded the same images (the same folder and ``--limit``): the image counts are
checked. For each run of the study and each codec of the bench it prints the PSNR BD-rate
(bjontegaard pchip on the mean curves, as in bench/RESULTS.md) with the share of the anchor's
PSNR range the run covers, the PSNR at 1.0 and 2.0 bpp, and the best PSNR of each curve.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from neuralcodec.bench.bdrate import RdCurve, bd_rate, quality_at_rate


def _fmt(value: float | None, spec: str) -> str:
    return "—" if value is None else format(value, spec)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("study", type=Path, help="results.json of python -m tools.eval_study")
    parser.add_argument("bench", type=Path, help="results.json of python -m neuralcodec.bench.rd")
    args = parser.parse_args()
    study = json.loads(args.study.read_text())
    bench = json.loads(args.bench.read_text())

    curves: dict[str, RdCurve] = {}
    for name, points in study["curves"].items():
        if points[0]["images"] != study["images"]:
            raise SystemExit(f"error: run {name} has {points[0]['images']} images, not {study['images']}")
        curves[name] = RdCurve.of(
            [p["level"] for p in points], [p["bpp"] for p in points], [p["psnr"] for p in points]
        )
    anchors: dict[str, RdCurve] = {}
    for codec, points in bench["rd"].items():
        counts = {p["n_images"] for p in points}
        if counts != {study["images"]}:
            raise SystemExit(
                f"error: the bench coded {sorted(counts)} images with {codec}, the study {study['images']}"
            )
        anchors[codec] = RdCurve.of(
            [p["quality"] for p in points], [p["bpp"] for p in points], [p["psnr"] for p in points]
        )

    print(f"{study['images']} images of {study['data']}; bench: {bench['provenance']['command']}")
    print("| run | vs | BD-rate PSNR [anchor coverage] |")
    print("|---|---|---|")
    for name, curve in curves.items():
        for codec, anchor in anchors.items():
            result = bd_rate(anchor, curve)
            if result.percent is None:
                print(f"| {name} | {codec} | undefined: {result.reason} |")
            else:
                print(f"| {name} | {codec} | {result.percent:+.1f} % [{result.anchor_coverage:.0%}] |")
    print()
    print("| curve | PSNR @ 1.0 bpp | PSNR @ 2.0 bpp | best PSNR (bpp) |")
    print("|---|---|---|---|")
    for name, curve in {**curves, **anchors}.items():
        best = max(range(len(curve.rates)), key=lambda i: curve.distortions[i])
        at_1, at_2 = (_fmt(quality_at_rate(curve, bpp), ".2f") for bpp in (1.0, 2.0))
        print(f"| {name} | {at_1} | {at_2} | {curve.distortions[best]:.2f} ({curve.rates[best]:.2f}) |")


if __name__ == "__main__":
    main()
