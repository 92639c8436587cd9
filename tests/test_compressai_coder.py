"""Our coder inside CompressAI's own models (neuralcodec/entropy/compressai_coder.py).

Freshly initialised ``bmshj2018-hyperprior`` (ScaleHyperprior) and ``mbt2018-mean``
(MeanScaleHyperprior), small N/M for speed: compress -> decompress through our coder gives the
same bytes and the same reconstruction as CompressAI's ``ans`` coder, and each coder reads the
other's streams.
"""

import pytest
import torch

pytest.importorskip("neuralcodec._C", reason="native extension not built")
models = pytest.importorskip("compressai.models")

from neuralcodec.entropy.compressai_coder import RansDecoder, RansEncoder, neuralcodec_coder

N, M = 32, 48


@pytest.fixture(scope="module", params=["ScaleHyperprior", "MeanScaleHyperprior"])
def model(request):
    torch.manual_seed(0)
    net = getattr(models, request.param)(N, M).eval()
    net.update(force=True)
    return net


@pytest.fixture(scope="module")
def image():
    # Smooth content plus noise, so that the latents are not all zeros and some values escape.
    torch.manual_seed(1)
    ramp = torch.linspace(0, 1, 128)
    x = 0.5 * (ramp[None, :] + ramp[:, None]) / 2 + 0.5 * torch.rand(2, 3, 128, 128)
    return x.clamp(0, 1)


@torch.no_grad()
def test_same_bytes_and_decodes_as_compressai(model, image):
    theirs = model.compress(image)
    with neuralcodec_coder(model):
        assert all(isinstance(m.entropy_coder._encoder, RansEncoder) for m in _entropy_models(model))
        ours = model.compress(image)
        ours_decoded = model.decompress(ours["strings"], ours["shape"])["x_hat"]
        theirs_by_ours = model.decompress(theirs["strings"], theirs["shape"])["x_hat"]
    assert ours["strings"] == theirs["strings"]
    assert sum(len(s) for group in ours["strings"] for s in group) > 100
    theirs_decoded = model.decompress(theirs["strings"], theirs["shape"])["x_hat"]
    ours_by_theirs = model.decompress(ours["strings"], ours["shape"])["x_hat"]
    assert torch.equal(ours_decoded, theirs_decoded)
    assert torch.equal(theirs_by_ours, theirs_decoded)
    assert torch.equal(ours_by_theirs, theirs_decoded)


def test_context_manager_restores_compressai_coder(model, image):
    before = [(m.entropy_coder._encoder, m.entropy_coder._decoder) for m in _entropy_models(model)]
    with pytest.raises(RuntimeError, match="inside"), neuralcodec_coder(model):
        raise RuntimeError("inside")
    assert [(m.entropy_coder._encoder, m.entropy_coder._decoder) for m in _entropy_models(model)] == before


@torch.no_grad()
def test_corrupt_stream_raises_instead_of_garbage(model, image):
    out = model.compress(image[:1])
    strings = [list(group) for group in out["strings"]]
    strings[0][0] = strings[0][0][:-1]  # CompressAI's own coder reads past the end here
    with neuralcodec_coder(model), pytest.raises(ValueError):
        model.decompress(strings, out["shape"])


def test_work_alike_classes_match_compressai_api():
    ans = pytest.importorskip("compressai.ans")
    args = ([0, 1, -7, 3], [0, 0, 0, 0], [[0, 30000, 65536]], [3], [0])
    data = RansEncoder().encode_with_indexes(*args)
    assert data == ans.RansEncoder().encode_with_indexes(*args)
    assert RansDecoder().decode_with_indexes(data, *args[1:]) == ans.RansDecoder().decode_with_indexes(
        data, *args[1:]
    )


def _entropy_models(model):
    from compressai.entropy_models import EntropyModel

    return [m for m in model.modules() if isinstance(m, EntropyModel)]
