"""The realistic (GAN) decoder: the same bitstream as the CVAE, a second synthesis transform."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import run_cli
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
    with pytest.raises(ValueError, match="decoder='faithful'"):
        neuralcodec.decompress(neuralcodec.compress(face, quality=beyond), decoder="realistic")


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
    np.testing.assert_array_equal(pixels(Image.open(faithful)), pixels(neuralcodec.decompress(data, decoder="faithful")))
    code, _, err = run_cli(capsys, "decode", str(nfc), "-o", str(default), "--decoder", "sharp")
    assert code == 2 and "invalid choice" in err
