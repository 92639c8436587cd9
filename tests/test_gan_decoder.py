"""The realistic (GAN) decoder: the same bitstream as the CVAE, a second synthesis transform."""

from __future__ import annotations

import json

import numpy as np
import pytest
from helpers import needs_extra, run_cli
from PIL import Image

import neuralcodec
from neuralcodec.container import unpack
from neuralcodec.errors import UnknownModel
from neuralcodec.models import registry


def pixels(img) -> np.ndarray:
    return np.asarray(img, dtype=np.int16)


def test_gan_shares_the_cvae_bitstream(face):
    plain = neuralcodec.compress(face, quality=2, model="cvae")
    gan = neuralcodec.compress(face, quality=2, model="gan")
    a, b = unpack(plain), unpack(gan)
    assert a.streams == b.streams and (a.quality, a.width, a.height) == (b.quality, b.width, b.height)
    assert a.model_hash != b.model_hash
    assert neuralcodec.inspect(plain).decoder == "faithful"
    info = neuralcodec.inspect(gan)
    assert (info.decoder, info.model_alias, info.model_id) == ("realistic", "gan", "face-hyperprior-v2-gan")


def test_decoder_choice_overrides_the_file(face):
    plain = neuralcodec.compress(face, quality=1, model="cvae")
    gan = neuralcodec.compress(face, quality=1, model="gan")
    faithful, realistic = pixels(neuralcodec.decompress(plain)), pixels(neuralcodec.decompress(gan))
    np.testing.assert_array_equal(pixels(neuralcodec.decompress(plain, decoder="realistic")), realistic)
    np.testing.assert_array_equal(pixels(neuralcodec.decompress(gan, decoder="faithful")), faithful)
    # Two different decoders, both close to the image.
    assert np.abs(faithful - realistic).mean() > 0.1
    for decoded in (faithful, realistic):
        assert np.abs(decoded - pixels(face)).mean() < 20


def test_gan_qualities_and_default(face):
    qualities = neuralcodec.available_qualities("gan")
    assert qualities == list(registry.spec_for("gan").qualities)
    assert set(qualities) < set(neuralcodec.available_qualities("cvae"))
    assert neuralcodec.default_quality("gan") == max(q for q in qualities if q <= neuralcodec.DEFAULT_QUALITY)
    assert neuralcodec.default_quality("cvae") == neuralcodec.DEFAULT_QUALITY
    assert unpack(neuralcodec.compress(face, model="gan")).quality == neuralcodec.default_quality("gan")
    beyond = max(qualities) + 1
    with pytest.raises(ValueError, match="quality of model gan"):
        neuralcodec.compress(face, quality=beyond, model="gan")
    with pytest.raises(ValueError, match="with the faithful decoder") as refused:
        neuralcodec.decompress(neuralcodec.compress(face, quality=beyond), decoder="realistic")
    assert refused.value.option == "decoder"  # the CLI names its --decoder flag from this


def test_unknown_decoder_is_a_value_error(face):
    with pytest.raises(ValueError, match="unknown decoder"):
        neuralcodec.decompress(neuralcodec.compress(face, quality=1), decoder="sharp")


def test_decoder_for_other_base_weights_is_refused(monkeypatch):
    registry.load_model.cache_clear()
    monkeypatch.setattr(registry, "weights_sha256", lambda name: "0" * 64)
    try:
        with pytest.raises(UnknownModel, match="other face-hyperprior-v2 weights"):
            registry.load_model("gan")
    finally:
        registry.load_model.cache_clear()


def test_cli_model_gan_and_decoder_override(capsys, tmp_path, face_png):
    nfc = tmp_path / "face.nfc"
    assert run_cli(capsys, "encode", str(face_png), "-o", str(nfc), "--model", "gan", "-q", "2")[0] == 0
    code, out, _ = run_cli(capsys, "info", str(nfc))
    assert code == 0 and "realistic decoder" in out
    default, faithful = tmp_path / "default.png", tmp_path / "faithful.png"
    assert run_cli(capsys, "decode", str(nfc), "-o", str(default))[0] == 0
    assert run_cli(capsys, "decode", str(nfc), "-o", str(faithful), "--decoder", "faithful")[0] == 0
    data = nfc.read_bytes()
    np.testing.assert_array_equal(pixels(Image.open(default)), pixels(neuralcodec.decompress(data)))
    np.testing.assert_array_equal(
        pixels(Image.open(faithful)), pixels(neuralcodec.decompress(data, decoder="faithful"))
    )
    code, _, err = run_cli(capsys, "decode", str(nfc), "-o", str(default), "--decoder", "sharp")
    assert code == 2 and "invalid choice" in err


@needs_extra("bench")
def test_high_frequency_energy_ratio_separates_blur_from_detail(face):
    from scipy.ndimage import gaussian_filter

    from tools import eval_gan

    sharp = eval_gan.high_frequency_energy(face)
    blurred = eval_gan.high_frequency_energy(gaussian_filter(face.astype(np.float64), (2, 2, 0)))
    noisy = np.clip(face + np.random.default_rng(0).normal(0, 10, face.shape), 0, 255)
    assert blurred < 0.2 * sharp < sharp < eval_gan.high_frequency_energy(noisy)
    assert eval_gan.high_frequency_energy(np.full((32, 32, 3), 77, np.uint8)) == 0.0


@needs_extra("bench")
def test_balance_summarises_the_training_log(tmp_path):
    from tools import eval_gan

    log = tmp_path / "log.jsonl"
    records = [
        {
            "step": 50 * (i + 1),
            "d_loss": 1.4 - 0.01 * i,
            "g_adv": 0.7,
            "d_real": 0.5,
            "d_fake": 0.5,
            "d_stepped": 1.0,
            "psnr": 27.0,
        }
        for i in range(12)
    ]
    log.write_text("".join(json.dumps(r) + "\n" for r in records))
    spans = eval_gan.balance(log, windows=3)
    assert [(s["first_step"], s["last_step"]) for s in spans] == [(0, 200), (200, 400), (400, 600)]
    assert spans[0]["d_loss"] == pytest.approx(np.mean([1.4, 1.39, 1.38, 1.37]))


@needs_extra("bench")
def test_eval_gan_tool_end_to_end(tmp_path, face):
    from tools import eval_gan

    data = tmp_path / "data"
    data.mkdir()
    Image.fromarray(face).save(data / "a.png")
    Image.fromarray(face[:, ::-1]).save(data / "b.png")
    out = tmp_path / "out"
    assert eval_gan.main([str(data), "-o", str(out), "--qualities", "1"]) == 0
    results = json.loads((out / "results.json").read_text())
    means = {r["decoder"]: r for r in results["means"]}
    assert results["images"] == 2 and set(means) == {"faithful", "realistic"}
    assert means["faithful"]["bpp"] == means["realistic"]["bpp"]  # the same files
    assert 0 < means["faithful"]["hf_ratio"] < 1.5 and means["realistic"]["psnr"] > 15
    summary = (out / "summary.md").read_text()
    assert summary.startswith("## ") and "gan_crops.png" in summary
    assert Image.open(out / "gan_crops.png").size == (2 * 128, 2 * 3 * 128)


@pytest.mark.parametrize("quality", [6, 11])
def test_gan_file_with_a_quality_it_was_not_trained_for_is_corrupt(face, quality):
    """No encoder writes a GAN-model file at quality 6..11 (its qualities are 1..5): with a valid
    CRC it is a CorruptHeader (docs/format.md, check 7), whichever decoder is asked for."""
    from neuralcodec.container import pack
    from neuralcodec.errors import CorruptHeader

    gan = unpack(neuralcodec.compress(face, quality=2, model="gan"))
    forged = pack(type(gan)(gan.model_hash, quality, gan.width, gan.height, gan.streams))
    for decoder in (None, "realistic", "faithful"):
        with pytest.raises(CorruptHeader, match=f"quality {quality} does not exist"):
            neuralcodec.decompress(forged, decoder=decoder)
