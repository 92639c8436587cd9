"""Write the bundled example face, docs/example/face.png (128x128 RGB PNG).

It is the head of NASA's public-domain portrait of astronaut Eileen Collins, as shipped by
scikit-image (``skimage.data.astronaut()``), cropped square around the face like the
training faces and resized with Lanczos. Re-running this script reproduces the file.

    python -m tools.make_example [-o docs/example/face.png]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from PIL import Image
from skimage import data

#: (top, left, side) of the square head crop in the 512x512 portrait.
FACE_BOX = (0, 125, 200)
SIZE = 128


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("-o", "--output", type=Path, default=Path("docs/example/face.png"))
    args = p.parse_args()
    top, left, side = FACE_BOX
    crop = Image.fromarray(data.astronaut()[top : top + side, left : left + side])
    crop.resize((SIZE, SIZE), Image.Resampling.LANCZOS).save(args.output, optimize=True)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
