"""The whole benchmark of one data set in one go: what `nfc bench` runs.

    DATA_DIR --bench.rd--> per_image.jsonl, results.json   (resumable)
             --bench.plot--> rd_psnr.png, rd_ms_ssim.png
             --bench.grid--> grid.png, grid.json           (matched file size)
    GRID_FROM (default DATA_DIR) --^
             --bench.speed--> speed.json                   (unless measure_speed=False)
             --bench.report--> summary.md                  (all of the above as Markdown)

Every step reads the same images (the first `limit`, sorted by name) and the same codec
options, except the grid where `grid_from` names another folder: grid.png is copied into the
committed bench/img/, so a data set that must not be committed (the CelebA test faces) gets
its grid from images that may be (docs/example). Each step can also be run alone:
`python -m neuralcodec.bench.rd`, `python -m neuralcodec.bench.plot OUT`,
`python -m neuralcodec.bench.grid`, `python -m neuralcodec.bench.report`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from neuralcodec.bench import grid, masks, plot, rd, report, speed
from neuralcodec.bench.codecs import CodecConfig
from neuralcodec.bench.results import RESULTS_FILE
from neuralcodec.bench.store import PER_IMAGE_FILE
from neuralcodec.imaging import LOSSLESS_SUFFIXES, image_files


@dataclass(frozen=True)
class SuiteOptions:
    """Everything `nfc bench` can set beside the data, the codecs and the output folder."""

    limit: int | None = None
    config: CodecConfig = field(default_factory=CodecConfig)
    face_mask: str = masks.NO_MASKS
    grid_images: int = grid.DEFAULT_IMAGES
    grid_from: Path | None = None
    grid_bpp: float = grid.DEFAULT_TARGET_BPP
    measure_speed: bool = True
    speed_batch: int = speed.DEFAULT_BATCH
    fresh: bool = False


def run(
    data_dir: Path,
    codec_names: Sequence[str],
    out_dir: Path,
    options: SuiteOptions = SuiteOptions(),
    *,
    command: Sequence[str],
) -> Path:
    """Run every step on data_dir's images; returns the path of OUT/summary.md.

    `fresh` deletes the files of an earlier run in out_dir first (needed after new
    weights: the runner refuses to mix results of other settings)."""
    paths = image_files(data_dir, LOSSLESS_SUFFIXES)
    subset = sorted(paths)[: options.limit]
    # Listed before the long RD sweep so that a wrong folder fails at once.
    grid_paths = subset if options.grid_from is None else image_files(options.grid_from, LOSSLESS_SUFFIXES)
    if options.fresh:
        _remove_previous(out_dir)
    results = rd.run(
        paths,
        codec_names,
        out_dir,
        options.limit,
        command=command,
        config=options.config,
        face_mask=options.face_mask,
    )
    plot.write_plots(results.to_json(), out_dir)
    grid_codecs = [c for c in grid.GRID_CODECS if c in results.codecs]
    if grid_codecs and options.grid_images > 0:
        grid.make_grid(
            grid_paths,
            grid_codecs,
            out_dir,
            n_images=options.grid_images,
            target_bpp=options.grid_bpp,
            config=options.config,
        )
    if options.measure_speed:
        speed.run(
            subset,
            list(results.codecs),
            out_dir,
            batch=options.speed_batch,
            config=options.config,
            command=command,
        )
    summary = out_dir / rd.SUMMARY_FILE
    summary.write_text(report.render_dataset(out_dir))
    return summary


def _remove_previous(out_dir: Path) -> None:
    outputs = [
        PER_IMAGE_FILE,
        RESULTS_FILE,
        rd.SUMMARY_FILE,
        speed.SPEED_FILE,
        grid.GRID_FILE,
        grid.GRID_JSON,
        *(name for _, name in plot.PLOTS.values()),
    ]
    for name in outputs:
        (out_dir / name).unlink(missing_ok=True)
