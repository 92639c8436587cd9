"""The run-time entropy models (neuralcodec.entropy.priors) and GDN layer against CompressAI's,
which trained the weights; and the coding path importing neither CompressAI nor OpenCV."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from neuralcodec.entropy.priors import FactorizedPrior, GaussianConditional
from neuralcodec.errors import UnknownModel
from neuralcodec.models.registry import build_model, load_weights_file
from neuralcodec.transforms.gdn import GDN

compressai_entropy = pytest.importorskip("compressai.entropy_models")


@pytest.fixture(scope="module")
def shipped_state() -> dict:
    from importlib import resources

    with resources.as_file(resources.files("neuralcodec.weights") / "face-hyperprior-v2.pt") as path:
        return load_weights_file(path)["state_dict"]


@pytest.fixture(scope="module")
def compressai_gaussian(shipped_state):
    """CompressAI's GaussianConditional holding the shipped tables."""
    scale_table = shipped_state["latent_entropy.scale_table"]
    model = compressai_entropy.GaussianConditional(scale_table.tolist())
    sub = {k.split(".", 1)[1]: v for k, v in shipped_state.items() if k.startswith("latent_entropy.")}
    for name in ("_quantized_cdf", "_offset", "_cdf_length"):
        getattr(model, name).resize_(sub[name].shape)
    model.load_state_dict(sub)
    return model


def test_scale_index_rule_is_compressais(shipped_state, compressai_gaussian):
    ours = GaussianConditional.from_state_dict(shipped_state, "latent_entropy")
    gen = torch.Generator().manual_seed(0)
    table = compressai_gaussian.scale_table.double()
    edges = torch.cat([table, torch.nextafter(table, table + 1), torch.nextafter(table, table - 1)])
    special = torch.tensor([0.0, -0.0, -1.0, 1e-30, float("inf"), -float("inf"), float("nan"), 1e300])
    scales = torch.cat([torch.rand(20000, generator=gen, dtype=torch.float64) ** 4 * 300, edges, special])
    scales = scales.reshape(1, -1, 1, 1)
    assert torch.equal(ours.indexes(scales), compressai_gaussian.build_indexes(scales))
    assert ours.indexes(scales).dtype == torch.int32


def test_factorized_prior_reads_compressais_medians_and_tables(shipped_state):
    prior = FactorizedPrior.from_state_dict(shipped_state, "hyper_entropy")
    bottleneck = compressai_entropy.EntropyBottleneck(prior.channels)
    sub = {k.split(".", 1)[1]: v for k, v in shipped_state.items() if k.startswith("hyper_entropy.")}
    for name in ("_quantized_cdf", "_offset", "_cdf_length"):
        getattr(bottleneck, name).resize_(sub[name].shape)
    bottleneck.load_state_dict(sub)
    assert torch.equal(prior.medians, bottleneck._get_medians().detach().reshape(-1))
    assert (prior.tables.cdfs == bottleneck._quantized_cdf.numpy()).all()
    assert (prior.tables.offsets == bottleneck._offset.numpy()).all()
    assert (prior.tables.lengths == bottleneck._cdf_length.numpy()).all()


@pytest.mark.parametrize("missing", ["latent_entropy.scale_table", "hyper_entropy.quantiles"])
def test_weights_without_entropy_tables_are_refused(shipped_state, missing):
    state = {k: v for k, v in shipped_state.items() if k != missing}
    with pytest.raises(UnknownModel, match=missing):
        build_model({"channels": 64, "latent_channels": 128, "levels": 11}, state)


@pytest.mark.parametrize("inverse", [False, True])
def test_gdn_is_compressais_forward_and_backward(inverse):
    layers = pytest.importorskip("compressai.layers")
    theirs = layers.GDN(12, inverse=inverse)
    ours = GDN(12, inverse=inverse)
    assert ours.state_dict().keys() == theirs.state_dict().keys()
    with torch.no_grad():
        theirs.gamma.uniform_(-0.1, 0.5)  # negative entries exercise the lower bound
        theirs.beta.uniform_(-0.1, 1.5)
    ours.load_state_dict(theirs.state_dict())
    x = torch.randn(2, 12, 7, 5, generator=torch.Generator().manual_seed(1))
    out_ours, out_theirs = ours(x), theirs(x)
    assert torch.equal(out_ours, out_theirs)
    (out_ours * x).sum().backward()
    (out_theirs * x).sum().backward()
    assert torch.equal(ours.gamma.grad, theirs.gamma.grad) and torch.equal(ours.beta.grad, theirs.beta.grad)
    with torch.no_grad():
        assert torch.equal(ours(x), out_theirs)


def test_trainable_and_coding_models_share_parameter_names():
    from neuralcodec.models.hyperprior import FaceHyperprior, HyperpriorConfig
    from neuralcodec.models.trainable import TrainableFaceHyperprior

    config = HyperpriorConfig(8, 12, levels=2)
    trainable = TrainableFaceHyperprior(config)
    trainable.update_tables()
    coding = FaceHyperprior(config)
    coding.load_state_dict(trainable.state_dict())
    assert set(coding.state_dict()) < set(trainable.state_dict())
    assert {k.split(".")[0] for k in set(trainable.state_dict()) - set(coding.state_dict())} == {
        "hyper_entropy",
        "latent_entropy",
    }
    x = torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(2))
    assert coding.compress(x, 1) == trainable.compress(x, 1)


def test_coding_imports_neither_compressai_nor_opencv(face_png, tmp_path):
    script = (
        "import sys, neuralcodec;"
        f"data = neuralcodec.compress({str(face_png)!r}, quality=3, roi=(32, 24, 64, 72));"
        "neuralcodec.decompress(neuralcodec.compress(data and neuralcodec.decompress(data), quality=1));"
        "neuralcodec.decompress(data, decoder='realistic'); neuralcodec.inspect(data);"
        "print(sorted(m for m in ('compressai', 'cv2', 'torchvision', 'pandas') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr


def test_gdn_reuses_parameters_without_autograd_until_they_change():
    gdn = GDN(6, inverse=True)
    x = torch.rand(1, 6, 3, 3)
    with torch.no_grad():
        first = gdn.effective_parameters()
        assert gdn.effective_parameters()[1] is first[1]  # cached
        gdn.gamma.add_(0.25)  # an in-place change, as an optimiser step makes
        assert not torch.equal(gdn.effective_parameters()[1], first[1])
        cached = gdn(x)
        gdn.load_state_dict(GDN(6, inverse=True).state_dict())
        reloaded = gdn(x)
    assert torch.equal(reloaded, GDN(6, inverse=True)(x)) and not torch.equal(cached, reloaded)
    assert gdn.effective_parameters()[1].requires_grad  # with autograd: computed, in the graph
