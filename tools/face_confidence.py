"""How sure the Haar detector is on faces and on other photos: the evidence behind
``faces.MIN_CONFIDENT_NEIGHBORS`` (the threshold ``roi="auto"`` trusts a box from).

    python -m tools.face_confidence --faces ../shared/data/faces/train --every 10 \\
        --others ../shared/data/kodak --exclude kodim04,kodim15,kodim17,kodim18

Prints, for the largest box of each image, the share of face images whose neighbour count
reaches each threshold, and every box found on the other (non-face) images. Tune on training
faces and non-face photos, never on test folders. The excluded Kodak images show people.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from neuralcodec import faces, imaging

THRESHOLDS = (3, 5, 8, 10, 12, 15, 18, 20, 25)


def largest_neighbours(path: Path) -> int:
    """Neighbour count of the largest box in the image (0: none)."""
    found = faces.detections(imaging.load_rgb(path))
    if not found:
        return 0
    return max(found, key=lambda d: (d[0].w * d[0].h, d[1]))[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--faces", type=Path, required=True, help="folder of face images (training set)")
    parser.add_argument("--every", type=int, default=1, help="use every N-th face image (default 1)")
    parser.add_argument("--others", type=Path, required=True, help="folder of photos without faces")
    parser.add_argument("--exclude", default="", help="comma-separated stems of --others that show faces")
    parser.add_argument("--nice", type=int, default=15, help="lower this process's priority by N")
    args = parser.parse_args(argv)
    os.nice(args.nice)
    counts = [largest_neighbours(p) for p in imaging.image_files(args.faces)[:: args.every]]
    print(f"{len(counts)} faces; share whose largest box has >= N neighbours:")
    print("  " + ", ".join(f"{t}: {sum(c >= t for c in counts) / len(counts):.3f}" for t in THRESHOLDS))
    excluded = {s.strip() for s in args.exclude.split(",") if s.strip()}
    worst = 0
    for path in imaging.image_files(args.others):
        if path.stem in excluded:
            continue
        found = faces.detections(imaging.load_rgb(path))
        worst = max([worst, *(n for _, n in found)])
        print(f"  {path.name}: " + (", ".join(f"{b.w}x{b.h} px, {n}" for b, n in found) or "none"))
    print(f"most neighbours of a box on the other photos: {worst}")
    print(f"current threshold: {faces.MIN_CONFIDENT_NEIGHBORS}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
