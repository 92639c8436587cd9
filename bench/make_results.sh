#!/usr/bin/env bash
# Regenerate bench/RESULTS.md: the full benchmark on the 500 test faces, the 24 Kodak images
# and the 50 studio portraits of faces/hires/test at 256² and at 512² (every codec, RD +
# BD-rate, plots, visual grid, speed), then the report, with the variant studies' summaries
# (runs/*/summary.md, made by tools/) that exist.
#
#   bench/make_results.sh --fresh        # after new weights or libraries: start over
#   bench/make_results.sh                # resume an interrupted run
#   bench/make_results.sh --limit 5      # quick look on a subset (don't commit that RESULTS.md)
#
# The speed tables are wall-clock: run it on an otherwise idle machine (and not under nice),
# or pass --no-speed and read speed from another run. On an idle 2-core CPU the whole run
# takes about 4 hours for faces and Kodak: ~2 of them metrics (~40 ms of CPU per decoded face,
# ~1 s per Kodak image), ~2 the avif-s0 anchor (AVIF at speed 0: ~0.7 s per face encode), and
# the portraits add more (AVIF speed 0 takes ~10 s per 512² encode); it resumes where it
# stopped when run again without --fresh.
#
# Extra arguments go to every `nfc bench` run. DATA overrides the data folder (default:
# ../shared/data beside the repository). The learned peer (compressai-peer) reads its weights
# from PEER_WEIGHTS (default runs/peer-weights, skipped with the reason where absent); they are
# not shipped, make them with
#   python -m tools.train tools/configs/study/peer.toml --data ../shared/data/faces/train --run runs/study-peer
#   python -m tools.export runs/study-peer/checkpoint.pt tools/configs/study/peer.toml \
#       -o runs/peer-weights --model-id bmshj2018-hyperprior-faces
#
# The faces' visual grid is made from docs/example/face.png, not from the test faces: the
# report copies every grid into bench/img/, which is committed, and the data sets' images
# (CelebA faces, Kodak) must never be. For the same reason the Kodak run draws no grid.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${DATA:-../shared/data}
CODECS=nfc,nfc-gan,jpeg,jpeg444,webp,avif,avif-s0,heic,jxl,compressai-peer
PEER_WEIGHTS=${PEER_WEIGHTS:-runs/peer-weights}
PEER=()
if [[ -d $PEER_WEIGHTS ]]; then
    PEER=(--peer-weights "$PEER_WEIGHTS")
fi

python -m neuralcodec.cli.main bench "$DATA/faces/test" --codecs "$CODECS" -o bench/results/faces \
    --grid-from docs/example "${PEER[@]}" "$@"
python -m neuralcodec.cli.main bench "$DATA/kodak" --codecs "$CODECS" -o bench/results/kodak \
    --grid-images 0 "${PEER[@]}" "$@"
# The studio portraits (faces/hires/test, 512²) as they are and downscaled to 256². No grid:
# those images must not be committed either.
if [[ ! -d runs/hires-test-256 ]]; then
    python -m tools.downscale "$DATA/faces/hires/test" --short-side 256 -o runs/hires-test-256
fi
python -m neuralcodec.cli.main bench runs/hires-test-256 --codecs "$CODECS" -o bench/results/hires256 \
    --grid-images 0 "${PEER[@]}" "$@"
python -m neuralcodec.cli.main bench "$DATA/faces/hires/test" --codecs "$CODECS" -o bench/results/hires512 \
    --grid-images 0 "${PEER[@]}" "$@"

# Variant studies: each tool in tools/ writes OUT/summary.md; the report includes those that exist.
SECTIONS=()
add_section() {  # add_section SUMMARY_MD HOW_TO_MAKE_IT
    if [[ -f $1 ]]; then
        SECTIONS+=(--section "$1")
    else
        echo "make_results.sh: section $1 skipped, not there (to make it: $2)" >&2
    fi
}
add_section runs/roi/summary.md \
    "python -m tools.eval_roi $DATA/faces/test -o runs/roi --qualities 1,3,6 --masks runs/masks"
add_section runs/gan-eval/summary.md \
    "python -m tools.eval_gan $DATA/faces/test -o runs/gan-eval --log runs/gan/log.jsonl"
add_section runs/study-eval/summary.md "the tools/eval_study.py command in docs/models.md"

python -m neuralcodec.bench.report faces=bench/results/faces kodak=bench/results/kodak \
    hires256=bench/results/hires256 hires512=bench/results/hires512 "${SECTIONS[@]}" -o bench/RESULTS.md
