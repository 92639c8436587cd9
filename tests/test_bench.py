"""The benchmark core: codecs, metrics, BD-rate, the resumable runner and its tables, on tiny images."""

import hashlib
import io
import json
import math
import sys
import types
from typing import ClassVar

import numpy as np
import pytest
import torch
from helpers import skip_module_without
from PIL import Image

skip_module_without("bench")

from skimage import data as skdata

from neuralcodec.bench import aggregate, codecs, masks, metrics, rd, store, summary
from neuralcodec.bench.bdrate import RdCurve, bd_rate, monotone_points, quality_at_rate
from neuralcodec.bench.codecs import (
    BrokenCodec,
    CodecConfig,
    CodecUnavailable,
    Registration,
    UnknownCodec,
    get_codec,
)
from neuralcodec.bench.dataset import file_sha256, load_rgb
from neuralcodec.bench.peer import CompressAIFile
from neuralcodec.bench.results import RESULTS_FILE, load_results

FILE_MAGIC = {
    "jpeg": lambda b: b[:3] == b"\xff\xd8\xff",
    "jpeg444": lambda b: b[:3] == b"\xff\xd8\xff",
    "webp": lambda b: b[:4] == b"RIFF" and b[8:12] == b"WEBP",
    "avif": lambda b: b[4:12] == b"ftypavif",
    "avif-s0": lambda b: b[4:12] == b"ftypavif",
    "heic": lambda b: b[4:12] == b"ftypheic",
    "jxl": lambda b: b[:2] == b"\xff\x0a" or b[4:8] == b"JXL ",
}


class DoubledJpeg:
    """JPEG whose every file carries a second copy of itself: twice the bytes, same pixels."""

    name = "doubled"
    settings: ClassVar[dict] = {"wraps": "jpeg", "copies": 2}

    def __init__(self) -> None:
        self._jpeg = get_codec("jpeg")
        self.qualities = self._jpeg.qualities

    def encode(self, img: Image.Image, quality: int) -> bytes:
        return self._jpeg.encode(img, quality) * 2

    def decode(self, data: bytes) -> Image.Image:
        return self._jpeg.decode(data[: len(data) // 2])


class CountingJpeg:
    """JPEG at three qualities that counts its encodes in a shared list."""

    name = "counting"
    qualities = (10, 50, 90)
    settings: ClassVar[dict] = {"wraps": "jpeg"}

    def __init__(self, calls: list) -> None:
        self._jpeg = get_codec("jpeg")
        self._calls = calls

    def encode(self, img: Image.Image, quality: int) -> bytes:
        self._calls.append(quality)
        return self._jpeg.encode(img, quality)

    def decode(self, data: bytes) -> Image.Image:
        return self._jpeg.decode(data)


@pytest.fixture(scope="module")
def image_paths(tmp_path_factory):
    folder = tmp_path_factory.mktemp("images")
    face = Image.fromarray(skdata.astronaut()).resize((64, 64), Image.Resampling.LANCZOS)
    y, x = np.mgrid[0:48, 0:64]
    gradient = np.stack([x * 4, y * 5, (x + y) * 2], axis=-1).astype(np.uint8)
    paths = [folder / "astronaut.png", folder / "gradient.png"]
    face.save(paths[0])
    Image.fromarray(gradient).save(paths[1])
    return paths


@pytest.fixture(scope="module")
def jpeg_run(image_paths, tmp_path_factory):
    """One run of jpeg and its doubled-bytes twin, shared by the tests that read it."""
    out = tmp_path_factory.mktemp("jpeg_run")
    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(codecs._REGISTRY, "doubled", _optional(lambda config: DoubledJpeg()))
        results = rd.run(image_paths, ["jpeg", "doubled"], out, command=["test"])
    return out, results


def _curve(qualities, rates, distortions):
    return RdCurve.of(qualities, rates, distortions)


def _optional(build) -> Registration:
    """A test codec, registered as optional (it may be skipped where it cannot run)."""
    return Registration(build, required=False)


# ---- codecs ----


def test_unknown_codec_name_is_a_clear_error():
    with pytest.raises(UnknownCodec, match="unknown codec 'jpg'.*known codecs: jpeg"):
        get_codec("jpg")


@pytest.mark.parametrize("name", sorted(FILE_MAGIC))
def test_baseline_codec_round_trips_to_rgb_of_the_same_size(name, image_paths):
    codec = get_codec(name)  # required: a missing library fails here, it is never skipped
    original = load_rgb(image_paths[1])
    data = codec.encode(original, codec.qualities[len(codec.qualities) // 2])
    decoded = codec.decode(data)
    assert FILE_MAGIC[name](data)
    assert decoded.mode == "RGB" and decoded.size == original.size
    assert list(codec.qualities) == sorted(codec.qualities)


def test_every_pillow_codec_is_required():
    assert set(FILE_MAGIC) | {"nfc"} == set(codecs.required_codec_names())


@pytest.mark.parametrize("name", ["jpeg", "nfc"])
def test_a_required_codec_that_cannot_run_fails_the_run_instead_of_a_skip(
    name, image_paths, tmp_path, monkeypatch
):
    """A broken install or a broken nfc must fail the benchmark (and its tests), not vanish
    from the results as "skipped"."""

    def broken(config):
        raise CodecUnavailable("its library is gone")

    monkeypatch.setitem(codecs._REGISTRY, name, Registration(broken, required=True))
    with pytest.raises(BrokenCodec, match=f"{name} must run here .*its library is gone"):
        get_codec(name)
    with pytest.raises(BrokenCodec):
        rd.run(image_paths, ["webp", name], tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_a_broken_nfc_fails_the_benchmark(image_paths, tmp_path, monkeypatch, capsys):
    """neuralcodec's API failing (here: no qualities for the model) is a failure, not a skip."""
    import neuralcodec

    def no_qualities(model="cvae"):
        raise ValueError(f"unknown model {model!r}")

    monkeypatch.setattr(neuralcodec, "available_qualities", no_qualities)
    code = rd.main([str(image_paths[0].parent), "--codecs", "jpeg,nfc", "-o", str(tmp_path)])
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert (
        err.startswith("neuralcodec.bench.rd: error: nfc must run here") and "cannot run model 'cvae'" in err
    )


def test_jpeg_subsampling_is_what_the_name_says(image_paths):
    original = load_rgb(image_paths[0])
    for name, layout in (("jpeg", [(2, 2), (1, 1), (1, 1)]), ("jpeg444", [(1, 1)] * 3)):
        data = get_codec(name).encode(original, 50)
        with Image.open(io.BytesIO(data)) as im:
            assert [(h, v) for _, h, v, _ in im.layer] == layout


# ---- metrics ----


@pytest.mark.parametrize(
    ("height", "width", "kernel_size", "scales"),
    [(161, 161, 11, 5), (128, 128, 7, 5), (64, 48, 3, 5), (20, 20, 3, 4)],
)
def test_ms_ssim_keeps_most_scales_then_widest_window(height, width, kernel_size, scales):
    assert metrics.MsSsimSettings.for_size(height, width) == metrics.MsSsimSettings(kernel_size, scales)


def test_identical_images_score_perfectly_and_bpp_counts_whole_file(image_paths):
    img = load_rgb(image_paths[1])
    m = metrics.evaluate(img, img.copy(), n_bytes=768)
    assert m.bpp == 768 * 8 / (64 * 48)
    assert m.psnr == pytest.approx(80.0)
    assert m.ssim == pytest.approx(1.0) and m.ms_ssim == pytest.approx(1.0)
    assert (m.ms_ssim_kernel_size, m.ms_ssim_scales) == (3, 5)


def test_metrics_refuse_a_decoded_image_of_another_size(image_paths):
    img = load_rgb(image_paths[1])
    with pytest.raises(ValueError, match="decoded size"):
        metrics.evaluate(img, img.resize((32, 24)), n_bytes=1)


# ---- BD-rate ----


def test_bd_rate_of_a_curve_against_itself_is_zero():
    curve = _curve([1, 2, 3, 4], [0.2, 0.5, 1.0, 2.0], [25.0, 29.0, 33.0, 38.0])
    result = bd_rate(curve, curve)
    assert abs(result.percent) < 1e-6 and result.overlap == 1.0


def test_twice_the_bytes_is_plus_100_percent():
    anchor = _curve([1, 2, 3, 4], [0.2, 0.5, 1.0, 2.0], [25.0, 29.0, 33.0, 38.0])
    doubled = _curve(anchor.qualities, [2 * r for r in anchor.rates], anchor.distortions)
    assert bd_rate(anchor, doubled).percent == pytest.approx(100.0, abs=1e-6)
    assert bd_rate(doubled, anchor).percent == pytest.approx(-50.0, abs=1e-6)


def test_disjoint_quality_ranges_give_none_with_reason():
    low = _curve([1, 2], [0.2, 0.4], [20.0, 24.0])
    high = _curve([1, 2], [1.0, 2.0], [30.0, 35.0])
    result = bd_rate(low, high)
    assert result.percent is None and "do not overlap" in result.reason
    assert result.overlap == 0.0


def test_dominated_and_invalid_points_are_dropped_and_listed():
    curve = _curve([1, 2, 3, 4, 5], [0.5, 0.6, 1.0, 1.0, math.nan], [30.0, 29.0, 33.0, 34.0, 40.0])
    kept, dropped = monotone_points(curve)
    assert kept.qualities == (1, 4) and dropped == (2, 3, 5)
    result = bd_rate(curve, curve)
    assert result.percent == pytest.approx(0.0, abs=1e-6)
    assert result.test_dropped == (2, 3, 5)


def test_a_curve_with_one_usable_point_gives_none_with_reason():
    flat = _curve([1, 2, 3], [0.2, 0.4, 0.8], [30.0, 30.0, 30.0])
    good = _curve([1, 2], [0.2, 0.4], [29.0, 31.0])
    result = bd_rate(good, flat)
    assert result.percent is None and "test curve has fewer than 2" in result.reason


# ---- runner ----


def test_run_writes_per_image_lines_means_and_provenance(jpeg_run, image_paths):
    out, results = jpeg_run
    n_q = len(codecs.JPEG_QUALITIES)
    lines = (out / store.PER_IMAGE_FILE).read_text().splitlines()
    assert len(lines) == 2 * 2 * n_q
    for record in map(json.loads, lines):
        assert record["bpp"] == record["n_bytes"] * 8 / (
            64 * 48 if "gradient" in record["image"] else 64 * 64
        )
    points = results.analysis.rd["jpeg"]
    assert [p.quality for p in points] == list(codecs.JPEG_QUALITIES)
    assert all(p.n_images == 2 for p in points)
    assert points[-1].psnr > points[0].psnr + 10 and points[-1].bpp > points[0].bpp
    assert results.analysis.smallest_file["jpeg"].quality == 1
    assert results.analysis.best_psnr["jpeg"].psnr == max(p.psnr for p in points)

    on_disk = json.loads((out / RESULTS_FILE).read_text())
    assert on_disk == json.loads(json.dumps(results.to_json()))
    loaded = load_results(out)
    assert loaded.analysis == results.analysis and loaded.codecs == results.codecs
    assert json.loads(json.dumps(loaded.to_json())) == on_disk
    prov = results.provenance
    assert prov["command"] == "test" and prov["git"]["sha"]
    libraries = ("python", "pillow", "libjpeg_turbo", "libwebp", "libavif", "torch", "compressai")
    assert {*libraries, "piq", "numpy"} <= set(prov["versions"])
    files = [{"name": p.name, "sha256": file_sha256(p)} for p in sorted(image_paths)]
    assert prov["dataset"]["files"] == files
    listing = "".join(f"{f['sha256']}  {f['name']}\n" for f in files)
    assert prov["dataset"]["sha256"] == hashlib.sha256(listing.encode()).hexdigest()
    assert results.metrics.ms_ssim_used == (aggregate.MsSsimUse(kernel_size=3, scales=5, n_images=2),)
    summary = (out / rd.SUMMARY_FILE).read_text()
    assert "## BD-rate, PSNR" in summary and prov["dataset"]["sha256"] in summary


def test_run_bd_rate_self_is_zero_and_doubled_bytes_is_plus_100(jpeg_run):
    _, results = jpeg_run
    for metric in aggregate.BD_METRICS:
        table = results.analysis.bd_rate[metric]
        assert abs(table["jpeg"]["jpeg"].percent) < 1e-6 and table["jpeg"]["jpeg"].anchor_coverage == 1
        assert table["doubled"]["jpeg"].percent == pytest.approx(100.0, abs=1e-6)


def test_resume_skips_done_work_and_survives_a_cut_last_line(image_paths, tmp_path, monkeypatch):
    calls: list[int] = []
    monkeypatch.setitem(codecs._REGISTRY, "counting", _optional(lambda config: CountingJpeg(calls)))
    rd.run(image_paths, ["counting"], tmp_path, limit=1)
    assert len(calls) == 3
    rd.run(image_paths, ["counting"], tmp_path)
    assert len(calls) == 6
    jsonl = tmp_path / store.PER_IMAGE_FILE
    with jsonl.open("a") as f:
        f.write('{"codec": "counting", "qual')
    results = rd.run(image_paths, ["counting"], tmp_path)
    assert len(calls) == 6
    assert len(jsonl.read_text().splitlines()) == 6
    assert all(p.n_images == 2 for p in results.analysis.rd["counting"])


def test_resume_refuses_results_made_with_other_settings(image_paths, tmp_path, monkeypatch):
    calls: list[int] = []
    monkeypatch.setitem(codecs._REGISTRY, "counting", _optional(lambda config: CountingJpeg(calls)))
    rd.run(image_paths, ["counting"], tmp_path, limit=1)
    monkeypatch.setattr(CountingJpeg, "settings", {"wraps": "jpeg", "optimize": True})
    with pytest.raises(store.StaleResults, match="fresh output directory"):
        rd.run(image_paths, ["counting"], tmp_path, limit=1)


def test_run_with_an_unknown_codec_fails_before_any_work(image_paths, tmp_path):
    out = tmp_path / "out"
    with pytest.raises(UnknownCodec, match="known codecs"):
        rd.run(image_paths, ["jpeg", "jepg"], out)
    assert not out.exists()


def test_unavailable_codecs_are_skipped_with_their_reason(image_paths, tmp_path, monkeypatch):
    def unavailable(config):
        raise CodecUnavailable("not built here")

    calls: list[int] = []
    monkeypatch.setitem(codecs._REGISTRY, "counting", _optional(lambda config: CountingJpeg(calls)))
    monkeypatch.setitem(codecs._REGISTRY, "missing", _optional(unavailable))
    results = rd.run(image_paths, ["counting", "missing"], tmp_path, limit=1)
    assert results.skipped == {"missing": "not built here"}
    assert "missing: not built here" in (tmp_path / rd.SUMMARY_FILE).read_text()


def test_cli_reports_an_unknown_codec_in_one_line(image_paths, tmp_path, capsys):
    code = rd.main([str(image_paths[0].parent), "--codecs", "jpeg,nope", "-o", str(tmp_path)])
    assert code == 2
    assert capsys.readouterr().err.strip().startswith("neuralcodec.bench.rd: error: unknown codec 'nope'")


def test_cli_runs_and_prints_the_summary(image_paths, tmp_path, capsys):
    code = rd.main([str(image_paths[0].parent), "--codecs", "jpeg", "-o", str(tmp_path), "--limit", "1"])
    assert code == 0
    assert "# Rate–distortion benchmark" in capsys.readouterr().out
    results = json.loads((tmp_path / RESULTS_FILE).read_text())
    assert results["provenance"]["command"].startswith("python -m neuralcodec.bench.rd ")
    assert results["provenance"]["dataset"]["n_images"] == 1


def test_nfc_runs_through_the_benchmark(image_paths, tmp_path):
    results = rd.run(image_paths, ["nfc", "jpeg"], tmp_path)
    points = results.analysis.rd["nfc"]
    assert points and all(p.n_images == 2 for p in points)
    assert "jpeg" in results.analysis.bd_rate["psnr"]["nfc"]
    assert all(0 < p.header_bytes < p.bytes and 0 < p.header_share < 1 for p in points)
    assert results.analysis.rd["jpeg"][0].header_bytes is None
    assert "## nfc: container header overhead" in (tmp_path / rd.SUMMARY_FILE).read_text()


def test_nfc_gan_is_skipped_with_the_reason_where_the_model_is_unknown(image_paths, tmp_path, monkeypatch):
    """Before neuralcodec ships a "gan" model (or with it taken away), nfc-gan is skipped."""
    from neuralcodec.models import catalog

    monkeypatch.setattr(catalog, "MODELS", tuple(s for s in catalog.MODELS if s.alias != "gan"))
    with pytest.raises(CodecUnavailable, match="cannot run model 'gan': unknown model 'gan'"):
        get_codec("nfc-gan")
    results = rd.run(image_paths, ["jpeg", "nfc-gan"], tmp_path)
    assert set(results.analysis.rd) == {"jpeg"}
    assert "unknown model 'gan'" in results.skipped["nfc-gan"]
    assert "- nfc-gan: neuralcodec cannot run model 'gan'" in (tmp_path / rd.SUMMARY_FILE).read_text()


def test_nfc_gan_codes_with_the_gan_model_and_its_few_qualities(image_paths, tmp_path, monkeypatch):
    """nfc-gan through a fake neuralcodec API of 5 qualities: its name, model and settings,
    and BD-rate / fixed-bpp tables that cope with a short curve."""
    import neuralcodec
    from neuralcodec.models import registry

    jpeg = get_codec("jpeg")
    real_qualities = neuralcodec.available_qualities
    compressed_with = []

    def compress(img, quality, model):
        compressed_with.append(model)
        return jpeg.encode(img, (2, 5, 10, 30, 70)[quality - 1])

    monkeypatch.setattr(
        neuralcodec,
        "available_qualities",
        lambda model="cvae": [1, 2, 3, 4, 5] if model == "gan" else real_qualities(model),
    )
    monkeypatch.setattr(registry, "load_model", lambda name: None)
    monkeypatch.setattr(registry, "weights_sha256", lambda name: f"sha-of-{name}")
    monkeypatch.setattr(neuralcodec, "compress", compress)
    monkeypatch.setattr(neuralcodec, "decompress", jpeg.decode)
    monkeypatch.setattr(neuralcodec, "inspect", lambda data: types.SimpleNamespace(header_bytes=2))

    codec = get_codec("nfc-gan")
    assert codec.name == "nfc-gan" and codec.qualities == (1, 2, 3, 4, 5)
    assert codec.settings["model"] == "gan" and codec.settings["weights_sha256"] == "sha-of-gan"
    results = rd.run(image_paths, ["jpeg", "webp", "nfc-gan"], tmp_path)
    assert set(compressed_with) == {"gan"}
    assert [p.quality for p in results.analysis.rd["nfc-gan"]] == [1, 2, 3, 4, 5]
    for metric in aggregate.BD_METRICS:
        for anchor in ("jpeg", "webp"):
            bd = results.analysis.bd_rate[metric]["nfc-gan"][anchor]
            assert (bd.percent is None) == (bd.reason is not None)
        assert results.analysis.bd_rate[metric]["nfc-gan"]["jpeg"].percent == pytest.approx(0, abs=20)
    assert set(results.analysis.at_bpp["psnr"]["nfc-gan"]) == {str(r) for r in aggregate.FIXED_BPP}
    summary = (tmp_path / rd.SUMMARY_FILE).read_text()
    assert "| nfc-gan |" in summary and "### nfc-gan (model gan" in summary


# ---- metrics added for issue 3: VIF, L1, L2, face region ----


def test_identical_images_have_zero_error_and_full_vif(image_paths):
    img = load_rgb(image_paths[1])
    m = metrics.evaluate(img, img.copy(), n_bytes=1)
    assert m.l1 == 0 and m.l2 == 0 and m.vif == pytest.approx(1.0, abs=1e-4)
    assert m.face is None


def test_l1_l2_are_in_8_bit_levels_and_match_psnr(image_paths):
    img = load_rgb(image_paths[1])
    shifted = Image.fromarray((np.asarray(img).astype(np.int16) + 3).clip(0, 255).astype(np.uint8))
    m = metrics.evaluate(img, shifted, n_bytes=1)
    assert 0 < m.l1 <= 3 and 0 < m.l2 <= 9
    assert m.psnr == pytest.approx(10 * math.log10(255**2 / m.l2), abs=1e-3)


def test_vif_is_none_below_piqs_minimum_size():
    tiny = Image.new("RGB", (40, 40), (90, 120, 30))
    assert metrics.evaluate(tiny, tiny.copy(), n_bytes=1).vif is None


def test_face_metrics_cover_only_the_mask(image_paths):
    img = load_rgb(image_paths[0])
    pixels = np.asarray(img).copy()
    pixels[:32] = 0  # damage only the top half
    damaged = Image.fromarray(pixels)
    mask = np.zeros((64, 64), dtype=bool)
    mask[40:60, 10:50] = True  # a face box in the untouched bottom half
    m = metrics.evaluate(img, damaged, n_bytes=1, face_mask=mask)
    assert m.psnr < 20
    assert m.face.psnr == pytest.approx(80.0) and m.face.l1 == 0 and m.face.l2 == 0
    assert m.face.ssim == pytest.approx(1.0) and m.face.ms_ssim == pytest.approx(1.0)
    assert m.face.box == (10, 40, 50, 60) and m.face.pixels == 20 * 40
    assert m.face.vif is None  # the 40x20 box is under piq's 41 px


def test_face_metrics_need_a_big_enough_bool_mask_of_the_image_size(image_paths):
    img = load_rgb(image_paths[0])
    small = np.zeros((64, 64), dtype=bool)
    small[:8, :8] = True
    assert metrics.evaluate(img, img, 1, face_mask=small).face is None
    assert metrics.evaluate(img, img, 1, face_mask=np.zeros((64, 64), bool)).face is None
    with pytest.raises(ValueError, match="bool array of shape"):
        metrics.evaluate(img, img, 1, face_mask=np.ones((32, 32), dtype=bool))


def test_mask_provider_names_are_checked():
    assert masks.load_mask_provider("none") is None
    for bad in ("nocolon", "no_such_module_x:f", "neuralcodec.bench.masks:nothing_here"):
        with pytest.raises(masks.UnknownMaskProvider):
            masks.load_mask_provider(bad)


def test_runner_adds_face_means_and_refuses_another_provider(image_paths, tmp_path, monkeypatch):
    def center_box(img):
        mask = np.zeros((img.height, img.width), dtype=bool)
        mask[8:-8, 8:-8] = True
        return mask if img.height == 64 and img.width == 64 else None  # no face in the gradient

    monkeypatch.setitem(sys.modules, "fake_faces", types.SimpleNamespace(center_box=center_box))
    calls: list[int] = []
    monkeypatch.setitem(codecs._REGISTRY, "counting", _optional(lambda config: CountingJpeg(calls)))
    results = rd.run(image_paths, ["counting"], tmp_path, face_mask="fake_faces:center_box")
    assert results.metrics.face_masks_found == 1
    point = results.analysis.rd["counting"][0]
    assert point.face.n_images == 1 and point.face.psnr > 0
    assert load_results(tmp_path).analysis == results.analysis  # face means survive results.json
    assert (
        "## Face region (mask provider `fake_faces:center_box`, 1 of 2 images)"
        in (tmp_path / rd.SUMMARY_FILE).read_text()
    )
    with pytest.raises(store.StaleResults, match="face masks"):
        rd.run(image_paths, ["counting"], tmp_path)


def test_records_of_an_older_format_are_refused(image_paths, tmp_path):
    (tmp_path / store.PER_IMAGE_FILE).write_text(json.dumps({"codec": "jpeg", "settings": {}}) + "\n")
    with pytest.raises(store.StaleResults, match="older benchmark version"):
        rd.run(image_paths, ["jpeg"], tmp_path)


# ---- summary tables added for issue 3 ----


def test_quality_at_rate_interpolates_inside_and_refuses_outside():
    curve = _curve([1, 2, 3], [0.1, 0.2, 0.4], [25.0, 28.0, 31.0])
    assert quality_at_rate(curve, 0.2) == pytest.approx(28.0)
    assert 28.0 < quality_at_rate(curve, 0.3) < 31.0
    assert quality_at_rate(curve, 0.05) is None and quality_at_rate(curve, 0.5) is None


def test_run_reports_quality_at_fixed_bpp_and_smallest_file(jpeg_run):
    _, results = jpeg_run
    at = results.analysis.at_bpp
    assert set(at) == set(aggregate.AT_BPP_METRICS)
    jpeg_points = results.analysis.rd["jpeg"]
    for rate in aggregate.FIXED_BPP:
        value = at["psnr"]["jpeg"][str(rate)]
        inside = jpeg_points[0].bpp <= rate <= max(p.bpp for p in jpeg_points)
        assert (value is not None) == inside
    smallest = results.analysis.smallest_file["jpeg"]
    assert smallest.bytes == min(p.bytes for p in jpeg_points)


# ---- the learned peer slot ----


def test_peer_without_weights_is_skipped_with_the_reason(image_paths, tmp_path):
    results = rd.run(image_paths, ["jpeg", "compressai-peer"], tmp_path, limit=1)
    assert "--peer-weights" in results.skipped["compressai-peer"]
    assert "compressai-peer" not in results.analysis.rd


def test_peer_loads_one_weights_file_per_quality(image_paths, tmp_path):
    from compressai.models import ScaleHyperprior

    torch.manual_seed(0)
    for name in ("a-low.pt", "b-high.pt"):
        torch.save({"state_dict": ScaleHyperprior(8, 8).state_dict()}, tmp_path / name)
    codec = get_codec("compressai-peer", CodecConfig(peer_weights=tmp_path))
    assert codec.qualities == (1, 2)
    assert set(codec.settings["weights_sha256"]) == {"a-low.pt", "b-high.pt"}
    original = load_rgb(image_paths[1])  # 64x48: padded to 64x64 and cropped back
    data = codec.encode(original, 2)
    assert codec.decode(data).size == original.size
    assert codec.header_bytes(data) == 6 + 4 * 2


def test_compressai_file_refuses_cut_or_padded_bytes():
    data = CompressAIFile.pack(64, 48, 3, [b"abc", b"de"])
    assert CompressAIFile.unpack(data) == (64, 48, 3, [b"abc", b"de"])
    for bad in (data[:-1], data + b"x"):
        with pytest.raises(Exception):  # noqa: B017  (struct.error or ValueError: bench-only format)
            CompressAIFile.unpack(bad)


# ---- the HEVC and best-effort AVIF anchors, and what the summary says of each curve ----


@pytest.fixture(scope="module")
def anchors_run(tmp_path_factory):
    """The new anchors on two 128x128 images, the size of the benchmark's faces: the
    astronaut's face and a smooth gradient."""
    folder = tmp_path_factory.mktemp("faces128")
    face = Image.fromarray(skdata.astronaut()).crop((140, 20, 300, 180))
    face.resize((128, 128), Image.Resampling.LANCZOS).save(folder / "face.png")
    y, x = np.mgrid[0:128, 0:128]
    Image.fromarray(np.stack([x * 2, y * 2, x + y], axis=-1).astype(np.uint8)).save(folder / "gradient.png")
    out = tmp_path_factory.mktemp("anchors_run")
    paths = sorted(folder.iterdir())
    return out, rd.run(paths, ["jpeg", "avif-s0", "heic"], out, command=["test"])


def test_new_anchors_reach_low_rates_and_high_quality(anchors_run):
    _, results = anchors_run
    assert results.codecs["avif-s0"].settings["speed"] == 0
    assert "libheif" in results.codecs["heic"].settings["library"]
    for name in ("avif-s0", "heic"):
        assert results.analysis.best_psnr[name].psnr >= 40
        assert results.analysis.smallest_file[name].bpp < 0.5
        assert results.analysis.at_bpp["psnr"][name]["1.0"] is not None


def test_new_anchors_are_bd_rate_anchors_with_their_coverage(anchors_run):
    out, results = anchors_run
    table = results.analysis.bd_rate["psnr"]
    assert set(table["heic"]) == {"jpeg", "avif-s0", "heic"}
    for by_anchor in table.values():
        for bd in by_anchor.values():
            assert 0 <= bd.anchor_coverage <= 1 and bd.overlap <= bd.anchor_coverage
    summary = (out / rd.SUMMARY_FILE).read_text()
    assert "| codec | vs jpeg | vs avif-s0 | vs heic |" in summary
    heic_vs_jpeg = table["heic"]["jpeg"]
    assert f"{heic_vs_jpeg.percent:+.1f} % [{heic_vs_jpeg.anchor_coverage:.0%}]" in summary
    assert "PSNR dB @ 1.0 bpp | PSNR dB @ 2.0 bpp |" in summary
    assert "## Best PSNR each codec reaches" in summary
    best = results.analysis.best_psnr["heic"]
    assert f"| heic | {best.quality} | {best.bytes:.0f} | {best.bpp:.3f} | {best.psnr:.2f} |" in summary


def test_anchor_coverage_is_the_share_of_the_anchors_range():
    anchor = _curve([1, 2, 3], [0.2, 0.5, 1.0], [30.0, 35.0, 40.0])
    short = _curve([1, 2], [0.1, 0.3], [28.0, 35.0])  # stops half-way up the anchor's range
    result = bd_rate(anchor, short)
    assert result.anchor_coverage == pytest.approx(0.5)
    assert result.overlap == pytest.approx(5 / 12)


# ---- typed records and the formats on disk ----


def test_a_record_with_an_unknown_field_fails_when_the_store_is_opened(tmp_path, jpeg_run):
    out, _ = jpeg_run
    line = json.loads((out / store.PER_IMAGE_FILE).read_text().splitlines()[0])
    (tmp_path / store.PER_IMAGE_FILE).write_text(json.dumps({**line, "pnsr": 30.0}) + "\n")
    with pytest.raises(TypeError, match="pnsr"):
        store.ResultStore(tmp_path / store.PER_IMAGE_FILE)


def test_records_written_before_the_split_are_resumed(image_paths, tmp_path, monkeypatch):
    """Format-2 lines of codecs without a header carry no "header_bytes" key."""
    calls: list[int] = []
    monkeypatch.setitem(codecs._REGISTRY, "counting", _optional(lambda config: CountingJpeg(calls)))
    rd.run(image_paths, ["counting"], tmp_path, limit=1)
    jsonl = tmp_path / store.PER_IMAGE_FILE
    old = [
        {k: v for k, v in json.loads(line).items() if k != "header_bytes"}
        for line in jsonl.read_text().splitlines()
    ]
    jsonl.write_text("".join(json.dumps(r) + "\n" for r in old))
    results = rd.run(image_paths, ["counting"], tmp_path, limit=1)
    assert len(calls) == 3
    assert results.analysis.rd["counting"][0].header_bytes is None


def test_results_json_of_an_earlier_version_renders_every_table(jpeg_run, tmp_path):
    """results.json without best_psnr, anchor coverage or the 1 and 2 bpp columns: the
    tables are re-derived from its RD points."""
    out, results = jpeg_run
    doc = json.loads((out / RESULTS_FILE).read_text())
    del doc["best_psnr"]
    doc["at_bpp"] = {m: {c: {"0.1": None} for c in v} for m, v in doc["at_bpp"].items()}
    for point in doc["rd"]["jpeg"]:
        del point["header_bytes"], point["header_share"], point["face"]
    (tmp_path / RESULTS_FILE).write_text(json.dumps(doc))
    loaded = load_results(tmp_path)
    assert loaded.analysis == results.analysis
    assert "## Best PSNR each codec reaches" in summary.render_summary(loaded)
