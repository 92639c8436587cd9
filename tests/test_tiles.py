"""Tiled coding (neuralcodec.transforms.tiles): large images in bounded memory, with the bytes
and pixels of the whole-image path."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import neuralcodec
from neuralcodec import codec
from neuralcodec.errors import InvalidOption
from neuralcodec.models.hyperprior import FaceHyperprior
from neuralcodec.models.registry import load_model
from neuralcodec.transforms.tiles import Tiling, analyse_tiled, synthesize_tiled, to_rgb8


@pytest.fixture
def one_thread():
    """The tiled and the whole-image pass compute the same floats under one thread (with two,
    oneDNN blocks a small tile differently from the whole image; module docstring)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _picture(face: np.ndarray, height: int, width: int) -> np.ndarray:
    """A detailed picture: the face tiled, flipped and shifted, plus noise."""
    rng = np.random.default_rng(1)
    rows = [np.concatenate([face, face[:, ::-1], face[::-1]], axis=1) for _ in range(3)]
    base = np.resize(np.concatenate(rows, axis=0), (height, width, 3)).astype(int)
    return np.clip(base + rng.integers(-12, 13, base.shape), 0, 255).astype(np.uint8)


def test_tiles_must_be_on_the_canvas_grid():
    for bad in (0, 32, 100):
        with pytest.raises(ValueError, match="multiple of 64"):
            Tiling(tile=bad)


def test_tiled_analysis_is_the_whole_image_analysis(face, one_thread):
    rgb = _picture(face, 200, 330)  # canvas 256 x 384: tiles at the edges are part padding
    net = load_model("face-hyperprior-v2")
    with torch.no_grad():
        whole = net.analysis(neuralcodec.imaging.to_padded_tensor(rgb, 64))
    tiled = analyse_tiled(net.analysis, rgb, (256, 384), Tiling(tile=128))
    assert torch.equal(tiled, whole)


def test_tiled_synthesis_is_the_whole_image_synthesis(one_thread):
    net = load_model("face-hyperprior-v2")
    y_hat = torch.round(torch.randn(1, 128, 12, 20, generator=torch.Generator().manual_seed(0)) * 3)
    with torch.no_grad():
        whole = to_rgb8(net.synthesis.infer(y_hat)[0, :, :180, :300])
    for tiling in (Tiling(tile=64, strip=64), Tiling(tile=128, strip=128), Tiling(tile=1024, strip=1024)):
        tiled = synthesize_tiled(net.synthesis, y_hat, (180, 300), tiling, fused=True)
        np.testing.assert_array_equal(tiled, whole)


def test_1024_image_tiled_has_the_bytes_and_pixels_of_the_untiled_path(face, one_thread):
    """The issue's check: a 1024 x 1024 picture coded over 256-pixel tiles (128-pixel strips)
    and whole gives the same file, and the file decodes to the same pixels both ways."""
    rgb = _picture(face, 1024, 1024)
    tiling = Tiling(tile=256, strip=128)
    whole = neuralcodec.compress(rgb, quality=6)
    assert neuralcodec.compress(rgb, quality=6, tiling=tiling) == whole
    np.testing.assert_array_equal(
        np.asarray(neuralcodec.decompress(whole, tiling=tiling)), np.asarray(neuralcodec.decompress(whole))
    )


def test_tiled_roi_file_decodes_as_the_whole_one(face, one_thread):
    rgb = _picture(face, 140, 200)
    data = neuralcodec.compress(rgb, quality=4, roi=(20, 20, 64, 64), roi_levels=(1, -1))
    assert (
        neuralcodec.compress(rgb, quality=4, roi=(20, 20, 64, 64), roi_levels=(1, -1), tiling=Tiling(64))
        == data
    )
    np.testing.assert_array_equal(
        np.asarray(neuralcodec.decompress(data, tiling=Tiling(64, 64))),
        np.asarray(neuralcodec.decompress(data)),
    )


def test_only_canvases_over_the_threshold_are_tiled():
    assert codec.TILED_ABOVE_PIXELS == 1024 * 2048
    assert codec._tiling_for((1024, 2048), None) is None  # what small images compute is unchanged
    assert codec._tiling_for((1024, 2049), None) == codec.TILING
    assert codec._tiling_for((8, 8), Tiling(64)) == Tiling(64)


def test_hyper_synthesis_strips_give_the_whole_image_values():
    from neuralcodec.transforms.tiles import hyper_synthesis_strips

    net = load_model("face-hyperprior-v2")
    net._mean_scale(torch.zeros(1, 64, 1, 1), torch.tensor([0]))  # builds the float64 copy
    hyper64 = net._hyper_synthesis64
    z = torch.round(torch.randn(1, 64, 11, 7, generator=torch.Generator().manual_seed(2)) * 2).double()
    with torch.no_grad():
        whole, strips = hyper64(z), hyper_synthesis_strips(hyper64, z)
    for a, b in zip(whole, strips, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)


def test_bad_tiling_is_an_invalid_option(face):
    with pytest.raises(neuralcodec.InvalidOption, match="tiling"):
        neuralcodec.compress(face, tiling=256)


def test_running_out_of_memory_is_an_nfc_error(face, monkeypatch):
    """Out of memory (here: torch's CPU allocator failing inside the model) is OutOfMemory, an
    NfcError with a one-line message, not a RuntimeError traceback."""
    from neuralcodec.errors import NfcError, OutOfMemory

    data = neuralcodec.compress(face, quality=3)

    def fail(*args, **kwargs):
        raise RuntimeError("[enforce fail at alloc_cpu.cpp:121] DefaultCPUAllocator: can't allocate memory")

    monkeypatch.setattr(FaceHyperprior, "decode_latents", fail)
    with pytest.raises(OutOfMemory, match="out of memory while decoding") as info:
        neuralcodec.decompress(data)
    assert isinstance(info.value, NfcError) and "\n" not in str(info.value)
    monkeypatch.setattr(FaceHyperprior, "analyse_latents", lambda *a, **k: np.empty(1 << 62, np.uint8))
    with pytest.raises(OutOfMemory, match="out of memory while encoding"):
        neuralcodec.compress(face, quality=3)


def test_other_runtime_errors_are_not_called_out_of_memory(face, monkeypatch):
    def fail(*args, **kwargs):
        raise RuntimeError("something else")

    monkeypatch.setattr(FaceHyperprior, "analyse_latents", fail)
    with pytest.raises(RuntimeError, match="something else"):
        neuralcodec.compress(face, quality=3)


def test_calls_run_on_torchs_threads_unless_set(face, monkeypatch):
    """Coding calls run on torch's thread count; set_threads (batch and worker code) fixes
    another for every call, and torch's own count is back after each call."""
    seen = []
    real = FaceHyperprior.analyse_latents

    def spy(self, *args, **kwargs):
        seen.append(torch.get_num_threads())
        return real(self, *args, **kwargs)

    monkeypatch.setattr(FaceHyperprior, "analyse_latents", spy)
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        neuralcodec.compress(face, quality=3)
        codec.set_threads(1)
        neuralcodec.compress(face, quality=3)
        after_call = torch.get_num_threads()
    finally:
        codec.set_threads(None)
        torch.set_num_threads(before)
    assert seen == [2, 1]
    assert after_call == 2


@pytest.mark.parametrize("threads", [0, -1, True])
def test_set_threads_refuses_what_is_not_a_count(threads):
    with pytest.raises(InvalidOption, match="threads"):
        codec.set_threads(threads)
