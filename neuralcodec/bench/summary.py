"""summary.md: a benchmark run's results as Markdown tables.

    BenchResults --render_summary--> provenance, BD-rate tables (with each pair's anchor
        coverage), quality at fixed bpp, smallest file and best PSNR per codec, header
        overhead, face-region means, RD points, skipped codecs

The ends of each codec's curve (smallest file, best PSNR) are shown beside the BD-rates
and fixed-bpp values, so a curve that stops early, and a BD-rate that speaks for only part
of the anchor's range, are visible.
"""

from collections.abc import Iterable, Sequence

from neuralcodec.bench.aggregate import ANCHORS, AT_BPP_METRICS, BD_METRICS, FIXED_BPP, OperatingPoint
from neuralcodec.bench.bdrate import BD_METHOD, BdRate
from neuralcodec.bench.results import BenchResults


def markdown_table(header: Sequence[str], rows: Iterable[Sequence[object]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return lines


def _num(value: float | None, fmt: str) -> str:
    return "—" if value is None else format(value, fmt)


def _bd_cell(result: BdRate) -> str:
    if result.percent is None:
        return f"n/a: {result.reason}"
    return f"{result.percent:+.1f} % [{result.anchor_coverage:.0%}]"


def _head(results: BenchResults, h1: str) -> list[str]:
    prov = results.provenance
    data = prov["dataset"]
    versions = ", ".join(f"{k} {v}" for k, v in prov["versions"].items() if v is not None)
    ms_used = "; ".join(
        f"{u.kernel_size}-px window, {u.scales} scales ({u.n_images} images)"
        for u in results.metrics.ms_ssim_used
    )
    not_reported = "; ".join(
        f"{name.upper()} {why}" for name, why in results.metrics.definitions["not_reported"].items()
    )
    return [
        f"{h1} Rate–distortion benchmark",
        "",
        f"- Data: {data['n_images']} images from `{data['root']}`, dataset sha256 `{data['sha256']}`",
        f"- Code: git `{prov['git']['sha']}`" + (" (uncommitted changes)" if prov["git"]["dirty"] else ""),
        f"- Run: {prov['timestamp']}, `{prov['command']}`",
        f"- Device: {prov['device']['cpu']} ({prov['device']['cpu_count']} CPUs)"
        + (f", {prov['device']['cuda']}" if prov["device"]["cuda"] else ""),
        f"- Versions: {versions}",
        (
            "- Metrics on 8-bit decoded RGB vs the 8-bit original (piq), bpp from whole-file "
            "bytes (headers included); curves are means over images of per-image values. "
            f"MS-SSIM: {ms_used}. VIF is piq.vif_p; L1/L2 are mean absolute/squared errors "
            "in 8-bit levels."
        ),
        f"- Not reported: {not_reported}.",
        (
            f"- BD-rate: bjontegaard, {BD_METHOD}, log10(bpp), on the mean curves; negative "
            "means fewer bits than the anchor for the same quality. [x %] is the anchor "
            "coverage: the share of the anchor's quality range that the test curve covers "
            "too, the part of the anchor's curve the BD-rate speaks for."
        ),
        "",
    ]


def _bd_tables(results: BenchResults, h2: str) -> list[str]:
    lines = []
    for metric, label in BD_METRICS.items():
        table = results.analysis.bd_rate[metric]
        anchors = list(next(iter(table.values()), {}))
        lines += [f"{h2} BD-rate, {label}", ""]
        if not anchors:
            lines += [f"No anchor codec ({', '.join(ANCHORS)}) was run.", ""]
            continue
        lines += markdown_table(
            ["codec", *(f"vs {a}" for a in anchors)],
            ([test, *(_bd_cell(by_anchor[a]) for a in anchors)] for test, by_anchor in table.items()),
        )
        dropped = sorted(
            {
                (codec, q)
                for test, by_anchor in table.items()
                for anchor, r in by_anchor.items()
                for codec, qs in ((anchor, r.anchor_dropped), (test, r.test_dropped))
                for q in qs
            }
        )
        if dropped:
            lines += ["", "Dominated points left out: " + ", ".join(f"{c} q{q}" for c, q in dropped) + "."]
        lines.append("")
    return lines


def _at_bpp_tables(results: BenchResults, h2: str) -> list[str]:
    lines = [
        f"{h2} Quality at fixed bpp",
        "",
        (
            "Interpolated (pchip in log bpp) on each codec's mean curve; — where the bpp is "
            "outside the range the codec's sweep covers."
        ),
        "",
    ]
    for metric, label in AT_BPP_METRICS.items():
        fmt = ".2f" if metric == "psnr" else ".4f"
        lines += markdown_table(
            ["codec", *(f"{label} @ {rate} bpp" for rate in FIXED_BPP)],
            (
                [name, *(_num(by_rate[str(rate)], fmt) for rate in FIXED_BPP)]
                for name, by_rate in results.analysis.at_bpp[metric].items()
            ),
        )
        lines.append("")
    return lines


def _ends_of_curves(results: BenchResults, h2: str) -> list[str]:
    def row(name: str, p: OperatingPoint) -> list[object]:
        return [name, p.quality, f"{p.bytes:.0f}", f"{p.bpp:.3f}", f"{p.psnr:.2f}", f"{p.ms_ssim:.4f}"]

    header = ["codec", "quality", "mean bytes", "bpp", "PSNR dB", "MS-SSIM"]
    lines = [f"{h2} Smallest file each codec can produce", ""]
    lines += markdown_table(header, (row(n, p) for n, p in results.analysis.smallest_file.items()))
    lines += [
        "",
        f"{h2} Best PSNR each codec reaches",
        "",
        "Where a curve stops, so do its BD-rates and fixed-bpp values.",
        "",
    ]
    lines += markdown_table(header, (row(n, p) for n, p in results.analysis.best_psnr.items()))
    lines.append("")
    return lines


def _header_overhead(results: BenchResults, h2: str) -> list[str]:
    lines = []
    for name, points in results.analysis.rd.items():
        if not points or points[0].header_bytes is None:
            continue
        lines += [
            f"{h2} {name}: container header overhead",
            "",
            (
                "Bytes of each file that are container (magic, version, model id, sizes, "
                "stream lengths, checksum), not entropy-coded payload; included in every bpp "
                "above."
            ),
            "",
        ]
        lines += markdown_table(
            ["quality", "mean bytes", "header bytes", "header % of file"],
            (
                [
                    p.quality,
                    f"{p.bytes:.0f}",
                    f"{p.header_bytes:.1f}",
                    "—" if p.header_share is None else f"{100 * p.header_share:.1f} %",
                ]
                for p in points
            ),
        )
        lines.append("")
    return lines


def _face_region(results: BenchResults, h2: str) -> list[str]:
    used = results.metrics
    if not used.face_masks_found:
        return [f"Face-region metrics: none (face mask provider `{used.face_mask_provider}`).", ""]
    n_images = results.provenance["dataset"]["n_images"]
    lines = [
        f"{h2} Face region (mask provider `{used.face_mask_provider}`, "
        f"{used.face_masks_found} of {n_images} images)",
        "",
    ]
    lines += markdown_table(
        ["codec", "quality", "images", "bpp", "PSNR dB", "SSIM", "MS-SSIM", "VIF", "L1", "L2"],
        (
            [
                name,
                p.quality,
                p.face.n_images,
                f"{p.bpp:.3f}",
                f"{p.face.psnr:.2f}",
                f"{p.face.ssim:.4f}",
                f"{p.face.ms_ssim:.4f}",
                _num(p.face.vif, ".4f"),
                f"{p.face.l1:.2f}",
                f"{p.face.l2:.1f}",
            ]
            for name, points in results.analysis.rd.items()
            for p in points
            if p.face is not None
        ),
    )
    lines.append("")
    return lines


def _rd_points(results: BenchResults, h2: str, h3: str) -> list[str]:
    lines = [f"{h2} Rate–distortion points (means over images)", ""]
    for name, points in results.analysis.rd.items():
        settings = ", ".join(f"{k} {v}" for k, v in results.codecs[name].settings.items())
        lines += [f"{h3} {name} ({settings})", ""]
        lines += markdown_table(
            ["quality", "bytes", "bpp", "PSNR dB", "SSIM", "MS-SSIM", "VIF", "L1", "L2"],
            (
                [
                    p.quality,
                    f"{p.bytes:.0f}",
                    f"{p.bpp:.3f}",
                    f"{p.psnr:.2f}",
                    f"{p.ssim:.4f}",
                    f"{p.ms_ssim:.4f}",
                    _num(p.vif, ".4f"),
                    f"{p.l1:.2f}",
                    f"{p.l2:.1f}",
                ]
                for p in points
            ),
        )
        lines.append("")
    return lines


def render_summary(results: BenchResults, level: int = 1) -> str:
    """summary.md of `results`; `level` is the Markdown heading level of the title, so that
    a report can nest it."""
    h1, h2, h3 = ("#" * (level + i) for i in range(3))
    lines = [
        *_head(results, h1),
        *_bd_tables(results, h2),
        *_at_bpp_tables(results, h2),
        *_ends_of_curves(results, h2),
        *_header_overhead(results, h2),
        *_face_region(results, h2),
        *_rd_points(results, h2, h3),
    ]
    if results.skipped:
        lines += [f"{h2} Skipped codecs", ""]
        lines += [f"- {name}: {reason}" for name, reason in results.skipped.items()]
        lines.append("")
    return "\n".join(lines)
