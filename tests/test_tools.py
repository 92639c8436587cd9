"""The training tools on a tiny model: train, resume, export, warm start, GAN fine-tuning."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import skip_module_without
from PIL import Image

skip_module_without("train")

from neuralcodec.models.hyperprior import resample_log_gains
from neuralcodec.models.registry import build_model, load_weights_file
from tools import bd_against, export, train, train_gan, training

ROOT = Path(__file__).resolve().parent.parent

TINY_CONFIG = """
[model]
channels = 8
latent_channels = 12
lambdas = [0.001, 0.01]

[train]
seed = 0
aux_lr = 1e-3
clip_grad_norm = 1.0
checkpoint_minutes = 5
log_every = 1
{extra}

[[train.phases]]
crop = 64
batch_size = 2
steps = 2
lr = 1e-4

[[train.phases]]
crop = 64
batch_size = 2
steps = 1
lr = 1e-5
"""


@pytest.fixture(scope="module")
def image_folder(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("images")
    rng = np.random.default_rng(0)
    for i in range(4):
        smooth = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
        Image.fromarray(smooth).resize((64, 64), Image.BILINEAR).save(folder / f"{i}.png")
    return folder


def write_config(path: Path, extra: str = "") -> Path:
    path.write_text(TINY_CONFIG.format(extra=extra))
    return path


@pytest.fixture(scope="module")
def trained(tmp_path_factory, image_folder) -> tuple[Path, Path]:
    """(config, run folder) of a finished 3-step run."""
    tmp = tmp_path_factory.mktemp("train")
    config = write_config(tmp / "tiny.toml")
    args = [
        str(config),
        "--data",
        str(image_folder),
        "--run",
        str(tmp / "run"),
        "--cache-dir",
        str(tmp / "cache"),
    ]
    assert train.main(args) == 0
    return config, tmp / "run"


def test_resample_log_gains_interpolates_and_extrapolates():
    log_gains = torch.tensor([[0.0, 1.0], [1.0, 3.0], [3.0, 4.0]])
    out = resample_log_gains(log_gains, [-1.0, 0.0, 0.5, 2.0, 3.0])
    expected = torch.tensor([[-1.0, -1.0], [0.0, 1.0], [0.5, 2.0], [3.0, 4.0], [5.0, 5.0]])
    torch.testing.assert_close(out, expected)


def test_rate_warmup_ramps_to_one(tmp_path):
    cfg = train.TrainConfig.from_toml(write_config(tmp_path / "c.toml", "rate_warmup_steps = 10"))
    assert cfg.rate_weight(0) == pytest.approx(0.1)
    assert cfg.rate_weight(5) == pytest.approx(0.55)
    assert cfg.rate_weight(10) == 1.0
    plain = train.TrainConfig.from_toml(write_config(tmp_path / "d.toml"))
    assert plain.rate_weight(0) == 1.0


def test_training_logs_rate_and_distortion_and_resumes(trained, image_folder):
    config, run = trained
    records = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [1, 2, 3]
    assert all(r["bpp"] > 0 and np.isfinite(r["psnr"]) for r in records)
    assert torch.load(run / "checkpoint.pt", weights_only=False)["step"] == 3
    # Running the same command again finds the run complete and trains no further.
    args = [
        str(config),
        "--data",
        str(image_folder),
        "--run",
        str(run),
        "--cache-dir",
        str(run.parent / "cache"),
    ]
    assert train.main(args) == 0
    assert len((run / "log.jsonl").read_text().splitlines()) == 3


def test_training_resumes_from_a_model_only_checkpoint(trained, image_folder, tmp_path):
    """A committed checkpoint (tools/checkpoints/) drops the Adam states to stay small; the
    run continues from its step and weights with a fresh optimizer."""
    config, run = trained
    state = torch.load(run / "checkpoint.pt", weights_only=False)
    slim = {k: state[k] for k in ("model", "generator", "config")} | {"step": 2}
    (tmp_path / "run").mkdir()
    torch.save(slim, tmp_path / "run" / "checkpoint.pt")
    args = [str(config), "--data", str(image_folder), "--run", str(tmp_path / "run")]
    assert train.main([*args, "--cache-dir", str(tmp_path / "cache")]) == 0
    records = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [3]
    resumed = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=False)
    assert resumed["step"] == 3 and "optimizer" in resumed


def test_exported_weights_code_an_image(trained, tmp_path):
    config, run = trained
    out = tmp_path / "tiny.pt"
    assert (
        export.main(
            [
                str(run / "checkpoint.pt"),
                str(config),
                "-o",
                str(out),
                "--model-id",
                "tiny-test",
                "--level-positions=-0.5,0,1",
            ]
        )
        == 0
    )
    payload = load_weights_file(out)
    assert payload["model_id"] == "tiny-test" and payload["config"]["levels"] == 3
    model = build_model(payload["config"], payload["state_dict"])
    x = torch.rand(1, 3, 64, 64)
    for level_index in range(3):
        x_hat = model.decompress(model.compress(x, level_index), level_index)
        assert x_hat.shape == x.shape and torch.isfinite(x_hat).all()
    assert model.compress(x, 2).latent_stream == model.compress(x, 2).latent_stream


def test_warm_start_resamples_levels(trained, tmp_path):
    config, run = trained
    out = tmp_path / "tiny.pt"
    export.main([str(run / "checkpoint.pt"), str(config), "-o", str(out), "--model-id", "tiny-test"])
    state = train.warm_start_weights(out, [0.5, 1.0], levels=2)
    source = load_weights_file(out)["state_dict"]["gains.log_gain"]
    torch.testing.assert_close(state["gains.log_gain"][0], (source[0] + source[1]) / 2)
    with pytest.raises(SystemExit, match="--init-levels"):
        train.warm_start_weights(out, None, levels=3)
    with pytest.raises(SystemExit, match="positions"):
        train.warm_start_weights(out, [0.0], levels=2)


def test_gan_fine_tuning_trains_only_the_decoder(trained, image_folder, tmp_path):
    config, run = trained
    base = tmp_path / "base.pt"
    export.main([str(run / "checkpoint.pt"), str(config), "-o", str(base), "--model-id", "tiny-test"])
    gan_config = tmp_path / "gan.toml"
    gan_config.write_text(
        (ROOT / "tools" / "configs" / "gan.toml")
        .read_text()
        .replace('base = "neuralcodec/weights/face-hyperprior-v2.pt"', f'base = "{base.as_posix()}"')
        .replace("levels = [0, 1, 2, 3, 4]", "levels = [0, 1]")
        .replace("steps = 6000", "steps = 2")
        .replace("log_every = 50", "log_every = 1")
    )
    gan_run = tmp_path / "gan"
    assert (
        train_gan.main(
            [
                str(gan_config),
                "--data",
                str(image_folder),
                "--run",
                str(gan_run),
                "--cache-dir",
                str(tmp_path / "cache"),
            ]
        )
        == 0
    )
    records = [json.loads(line) for line in (gan_run / "log.jsonl").read_text().splitlines()]
    assert len(records) == 2 and all(0 < r["d_real"] < 1 and 0 < r["d_fake"] < 1 for r in records)
    out = tmp_path / "decoder.pt"
    assert train_gan.main([str(gan_config), "--run", str(gan_run), "--export", str(out)]) == 0
    payload = torch.load(out, weights_only=True)
    base_model = build_model(load_weights_file(base)["config"], load_weights_file(base)["state_dict"])
    assert payload["base_model_id"] == "tiny-test"
    assert payload["synthesis"].keys() == base_model.synthesis.state_dict().keys()
    changed = [
        k for k, v in payload["synthesis"].items() if not torch.equal(v, base_model.synthesis.state_dict()[k])
    ]
    assert changed, "two generator steps changed no decoder weight"


def test_discriminator_scores_patches():
    disc = train_gan.Discriminator(latent_channels=12, condition_channels=4, width=8)
    logits = disc(torch.rand(2, 3, 128, 128), torch.randn(2, 12, 8, 8))
    assert logits.shape == (2, 1, 8, 8)


def test_masked_loss_ignores_zero_weight_pixels():
    model = train.TrainableFaceHyperprior(train.HyperpriorConfig(8, 12, levels=2))
    x = torch.rand(2, 3, 64, 64)
    level = torch.tensor([0, 1])
    lambdas = torch.tensor([0.001, 0.01])
    weights = torch.zeros(2, 64, 64)
    weights[:, 16:48, 16:48] = 1.0
    torch.manual_seed(0)
    _, _, masked = train.rd_loss(model, x, level, lambdas, weights=weights)
    torch.manual_seed(0)
    _, _, plain = train.rd_loss(model, x, level, lambdas)
    torch.manual_seed(0)
    out = model(x, level).x_hat
    expected = (out - x)[:, :, 16:48, 16:48].pow(2).flatten(1).mean(1)
    torch.testing.assert_close(masked, expected)
    assert not torch.allclose(masked, plain)


def test_masked_training_needs_masks_and_uses_them(image_folder, tmp_path):
    config = write_config(tmp_path / "m.toml", "face_weight = 1.0\nbackground_weight = 0.1")
    base = [
        str(config),
        "--data",
        str(image_folder),
        "--run",
        str(tmp_path / "run"),
        "--cache-dir",
        str(tmp_path / "cache"),
    ]
    with pytest.raises(SystemExit, match="--masks"):
        train.main(base)
    masks = tmp_path / "masks"
    masks.mkdir()
    for f in sorted(image_folder.glob("*.png")):
        m = np.zeros((64, 64), np.uint8)
        m[16:48, 16:48] = 255
        Image.fromarray(m).save(masks / f.name)
    weights = train.pixel_weights(image_folder, masks, 1.0, 0.1)
    assert (
        weights.shape == (4, 64, 64) and weights[0, 32, 32] == 1.0 and weights[0, 0, 0] == pytest.approx(0.1)
    )
    assert train.main(base + ["--masks", str(masks)]) == 0
    assert len((tmp_path / "run" / "log.jsonl").read_text().splitlines()) == 3


def test_peer_architecture_trains_one_model_per_lambda_and_exports_for_the_bench(image_folder, tmp_path):
    config = tmp_path / "peer.toml"
    config.write_text(
        TINY_CONFIG.format(extra="").replace("[model]\n", '[model]\narchitecture = "bmshj2018-hyperprior"\n')
    )
    cfg = train.TrainConfig.from_toml(config)
    gen = torch.Generator().manual_seed(0)
    # Every batch has one level, and the models take turns.
    assert [cfg.batch_levels(step, 3, gen).tolist() for step in range(3)] == [[0] * 3, [1] * 3, [0] * 3]
    run = tmp_path / "run"
    before = cfg.build_model().state_dict()
    args = [
        str(config),
        "--data",
        str(image_folder),
        "--run",
        str(run),
        "--cache-dir",
        str(tmp_path / "cache"),
    ]
    assert train.main(args) == 0
    after = torch.load(run / "checkpoint.pt", weights_only=False)["model"]
    for level in range(2):
        key = f"models.{level}.g_a.0.weight"
        assert not torch.equal(before[key], after[key]), f"model {level} did not train"

    out = tmp_path / "peer-weights"
    assert export.main([str(run / "checkpoint.pt"), str(config), "-o", str(out), "--model-id", "peer"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["peer-q01.pt", "peer-q02.pt"]
    from neuralcodec.bench.codecs import CodecConfig, get_codec

    codec = get_codec("compressai-peer", CodecConfig(peer_weights=out))
    assert codec.qualities == (1, 2) and codec.settings["trained_steps"] == [3]
    img = Image.open(next(image_folder.iterdir())).convert("RGB")
    for quality in codec.qualities:
        assert codec.decode(codec.encode(img, quality)).size == img.size


def test_unknown_architecture_is_refused(tmp_path):
    config = tmp_path / "bad.toml"
    config.write_text(TINY_CONFIG.format(extra="").replace("[model]\n", '[model]\narchitecture = "resnet"\n'))
    with pytest.raises(SystemExit, match="unknown architecture 'resnet'"):
        train.TrainConfig.from_toml(config)


def test_eval_study_codes_every_run_and_compares_at_equal_rate(trained, image_folder, tmp_path):
    from tools import eval_study

    config, run = trained
    masks = tmp_path / "masks"
    masks.mkdir()
    for p in image_folder.iterdir():
        mask = np.zeros((64, 64), np.uint8)
        mask[16:48, 20:44] = 255
        Image.fromarray(mask).save(masks / p.name)
    out = tmp_path / "out"
    spec = f"{run}:{config}"
    assert (
        eval_study.main(
            [
                str(image_folder),
                "-o",
                str(out),
                "--masks",
                str(masks),
                "--run",
                f"a={spec}",
                "--run",
                f"b={spec}",
                "--compare",
                "b:a",
            ]
        )
        == 0
    )
    results = json.loads((out / "results.json").read_text())
    assert results["images"] == 4 and results["training"]["a"]["steps"] == 3
    points = results["curves"]["a"]
    assert [p["level"] for p in points] == [1, 2] and all(p["face_psnr"] is not None for p in points)
    # Real files: at least the container's header, and the same run twice codes identically.
    assert all(p["bpp"] * 64 * 64 / 8 > 16 for p in points) and results["curves"]["b"] == points
    bd = results["comparisons"][0]["bd_rate"]
    assert set(bd) == set(eval_study.METRICS)
    for cell in bd.values():
        assert cell["percent"] is None or abs(cell["percent"]) < 1e-6
    assert (out / "summary.md").read_text().startswith("## ")


def test_eval_study_rejects_unknown_comparisons(trained, image_folder, tmp_path):
    from tools import eval_study

    config, run = trained
    with pytest.raises(SystemExit):
        eval_study.main(
            [str(image_folder), "-o", str(tmp_path), "--run", f"a={run}:{config}", "--compare", "x:a"]
        )


def test_config_extends_another_table_by_table(tmp_path):
    base = write_config(tmp_path / "base.toml")
    child = tmp_path / "child.toml"
    child.write_text('extends = "base.toml"\n\n[train]\nseed = 7\nface_weight = 2.0\n')
    parent, cfg = train.TrainConfig.from_toml(base), train.TrainConfig.from_toml(child)
    assert (cfg.seed, cfg.face_weight) == (7, 2.0)
    assert (cfg.phases, cfg.lambdas, cfg.aux_lr) == (parent.phases, parent.lambdas, parent.aux_lr)
    loop = tmp_path / "loop.toml"
    loop.write_text('extends = "loop.toml"\n')
    with pytest.raises(SystemExit, match="loops back"):
        training.read_config(loop)


def test_image_cache_reloads_an_edited_image(tmp_path):
    """Same names, same count, new pixels: the cache must not serve the old ones."""
    folder = tmp_path / "data"
    folder.mkdir()
    for i in range(2):
        Image.fromarray(np.full((8, 8, 3), 10 * i, np.uint8)).save(folder / f"{i}.png")
    first = training.load_images(folder, tmp_path / "cache")
    Image.fromarray(np.full((8, 8, 3), 200, np.uint8)).save(folder / "1.png")
    second = training.load_images(folder, tmp_path / "cache")
    assert int(first[1, 0, 0, 0]) == 10 and int(second[1, 0, 0, 0]) == 200


def test_widened_model_computes_what_the_narrow_one_did(tmp_path):
    """widen_state: wider feature maps at some scales, same reconstruction and likelihoods."""
    from neuralcodec.models.hyperprior import HyperpriorConfig
    from neuralcodec.models.trainable import TrainableFaceHyperprior

    torch.manual_seed(0)
    narrow = TrainableFaceHyperprior(HyperpriorConfig(8, 12, levels=2))
    wide = TrainableFaceHyperprior(HyperpriorConfig((8, 12, 20), 12, levels=2, hyper_channels=8))
    wide.load_state_dict(train.widen_state(narrow.state_dict(), wide))
    assert wide.synthesis[2].weight.shape == (20, 12, 5, 5)
    narrow.eval(), wide.eval()
    x, level = torch.rand(1, 3, 64, 64), torch.tensor([1])
    with torch.no_grad():
        a, b = narrow(x, level), wide(x, level)
    torch.testing.assert_close(b.x_hat, a.x_hat, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(b.likelihoods["y"], a.likelihoods["y"], atol=1e-5, rtol=1e-5)
    # The new channels do carry signal: the widened transform is not a no-op copy.
    features = torch.nn.Sequential(*list(wide.analysis)[:6])(x)
    assert features[:, 8:].abs().sum() > 0


def test_widening_refuses_to_shrink():
    from neuralcodec.models.hyperprior import HyperpriorConfig
    from neuralcodec.models.trainable import TrainableFaceHyperprior

    wide = TrainableFaceHyperprior(HyperpriorConfig(16, 12, levels=2))
    narrow = TrainableFaceHyperprior(HyperpriorConfig(8, 12, levels=2))
    with pytest.raises(SystemExit, match="cannot widen"):
        train.widen_state(wide.state_dict(), narrow)


def test_multi_scale_batches_mix_sources_and_sizes():
    small = torch.zeros(3, 64, 64, 3, dtype=torch.uint8)
    large = torch.full((2, 256, 256, 3), 255, dtype=torch.uint8)
    buckets = training.build_buckets([small, large], scales=(64, 128), min_size=64)
    assert sorted((b.source, b.images.shape[1]) for b in buckets) == [(0, 64), (1, 64), (1, 128), (1, 256)]
    gen = torch.Generator().manual_seed(0)
    x = training.sample_batch(buckets, torch.tensor([0.5, 0.5]), 64, 64, gen)
    assert x.shape == (64, 3, 64, 64)
    from_large = x.flatten(1).mean(1) > 0.5
    assert 10 < int(from_large.sum()) < 54  # both sources appear at about half each


def test_a_crop_larger_than_a_source_gives_whole_batches_of_one_size():
    small = torch.zeros(3, 64, 64, 3, dtype=torch.uint8)
    large = torch.full((2, 256, 256, 3), 255, dtype=torch.uint8)
    buckets = training.build_buckets([small, large], scales=(64,), min_size=64)
    gen = torch.Generator().manual_seed(0)
    batches = []
    for _ in range(80):
        x = training.sample_batch(buckets, torch.tensor([0.5, 0.5]), 2, 128, gen)
        from_large = x.flatten(1).mean(1) > 0.5
        assert bool(from_large.all()) or not bool(from_large.any())  # one source per batch
        # 128² crops of the large images' native size; their 64² size and the small source
        # give 64² crops, four times as many: the same pixels.
        assert x.shape in {(2, 3, 128, 128), (8, 3, 64, 64)}
        batches.append((bool(from_large[0]), x.shape[0]))
    small_share = batches.count((False, 8)) / len(batches)
    large_native, large_scaled = batches.count((True, 2)), batches.count((True, 8))
    assert 0.3 < small_share < 0.7 and large_native > 10 and large_scaled > 10
    with pytest.raises(ValueError, match="no images"):
        training.sample_batch(buckets[1:], torch.tensor([1.0, 0.0]), 2, 128, gen)


def test_more_latent_channels_keep_the_rate_and_learn():
    """widen_state from M=12 to M=20 latent channels: the old channels' rate unchanged, x_hat
    nearly so, and the new channels get a gradient from the distortion."""
    from neuralcodec.models.hyperprior import HyperpriorConfig
    from neuralcodec.models.trainable import TrainableFaceHyperprior

    torch.manual_seed(0)
    narrow = TrainableFaceHyperprior(HyperpriorConfig(8, 12, levels=2))
    wide = TrainableFaceHyperprior(HyperpriorConfig((8, 12, 16), 20, levels=2, hyper_channels=8))
    wide.load_state_dict(train.widen_state(narrow.state_dict(), wide))
    narrow.eval(), wide.eval()
    x, level = torch.rand(1, 3, 64, 64), torch.tensor([1])
    with torch.no_grad():
        a, b = narrow(x, level), wide(x, level)
    assert (b.x_hat - a.x_hat).abs().max() < 0.05
    torch.testing.assert_close(b.likelihoods["y"][:, :12], a.likelihoods["y"], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(b.likelihoods["z"], a.likelihoods["z"])
    wide.train()
    top = torch.tensor([1])
    (wide(x * 4, top).x_hat - x).pow(2).mean().backward()
    # The distortion reaches the new channels' analysis weights (through the straight-through
    # rounding and their small synthesis weights): with zero synthesis weights it would not,
    # and the rate alone would pull the new channels to 0.
    assert wide.analysis[6].weight.grad[12:].abs().sum() > 0
    # The new analysis rows start as large as the old ones on average, so they do not all
    # round to 0 (a fresh row of a trained model is ~30x smaller than a trained one).
    norms = wide.analysis[6].weight.detach().flatten(1).norm(dim=1)
    torch.testing.assert_close(norms[12:], norms[:12].mean().expand(8))


def test_new_latent_channels_pay_their_rate_on_a_ramp(tmp_path):
    config = tmp_path / "ramp.toml"
    config.write_text(
        "[model]\nchannels = 8\nlatent_channels = 12\nlambdas = [0.01, 0.1]\n"
        "[train]\nseed = 0\naux_lr = 1e-3\nclip_grad_norm = 1.0\ncheckpoint_minutes = 5\n"
        "log_every = 1\nnew_latent_from = 8\nnew_latent_rate_steps = 10\n"
        "[[train.phases]]\ncrop = 64\nbatch_size = 1\nsteps = 20\nlr = 1e-4\n"
    )
    cfg = train.TrainConfig.from_toml(config)
    assert cfg.latent_rate_weights(0).tolist() == [1.0] * 8 + [0.0] * 4
    assert cfg.latent_rate_weights(5).tolist() == [1.0] * 8 + [0.5] * 4
    assert cfg.latent_rate_weights(10) is None
    torch.manual_seed(0)
    model = cfg.build_model().eval()
    with torch.no_grad():
        model.gains.log_gain += 4.0  # latents large enough that every channel costs bits
    x, level, lambdas = torch.rand(1, 3, 64, 64), torch.tensor([1]), torch.tensor(cfg.lambdas)
    with torch.no_grad():
        full, bpp, mse = train.rd_loss(model, x, level, lambdas)
        ramped, bpp_ramped, _ = train.rd_loss(
            model, x, level, lambdas, latent_rate_weights=cfg.latent_rate_weights(0)
        )
    # The loss leaves the new channels' bits out; the reported rate still counts them.
    new_bits = -torch.log2(model(x, level).likelihoods["y"][:, 8:]).sum() / (64 * 64)
    assert new_bits.item() > 0.01
    assert bpp_ramped.item() == pytest.approx(bpp.item())
    assert (full - ramped).item() == pytest.approx(new_bits.item() / lambdas[1].sqrt().item(), rel=1e-3)


def test_downscale_writes_smaller_pngs_and_refuses_to_upscale(image_folder, tmp_path):
    from tools import downscale

    assert downscale.main([str(image_folder), "--short-side", "32", "-o", str(tmp_path / "out")]) == 0
    sizes = {p.name: Image.open(p).size for p in (tmp_path / "out").iterdir()}
    assert sizes == {f"{i}.png": (32, 32) for i in range(4)}
    with pytest.raises(SystemExit, match="not larger than 64"):
        downscale.main([str(image_folder), "--short-side", "64", "-o", str(tmp_path / "same")])


def test_half_export_stores_float16_parameters_that_decode(trained, tmp_path):
    from neuralcodec.models.hyperprior import HyperpriorConfig
    from neuralcodec.models.trainable import TrainableFaceHyperprior

    config, run = trained
    half = tmp_path / "half.pt"
    export.main(
        [str(run / "checkpoint.pt"), str(config), "-o", str(half), "--model-id", "tiny-test", "--half"]
    )
    state = load_weights_file(half)["state_dict"]
    assert state["synthesis.0.weight"].dtype == torch.float16
    assert state["latent_entropy.scale_table"].dtype == torch.float32  # buffers stay as they are
    params = {
        name for name, _ in TrainableFaceHyperprior(HyperpriorConfig(8, 12, levels=2)).named_parameters()
    }
    assert {k for k, v in state.items() if v.dtype == torch.float16} == params
    payload = load_weights_file(half)
    model = build_model(payload["config"], payload["state_dict"])
    x = torch.rand(1, 3, 64, 64)
    x_hat = model.decompress(model.compress(x, 1), 1)
    assert x_hat.shape == x.shape and torch.isfinite(x_hat).all()


def _bd_inputs(tmp_path: Path, bench_images: int) -> tuple[Path, Path]:
    """A study whose run has 0.5 dB more at every rate than the bench's one codec."""
    rates = [0.25, 0.5, 1.0, 2.0]
    psnrs = [28.0, 31.0, 34.0, 37.0]
    study = {
        "data": "faces",
        "images": 2,
        "curves": {
            "run": [
                {"level": i + 1, "images": 2, "bpp": r, "psnr": p + 0.5}
                for i, (r, p) in enumerate(zip(rates, psnrs, strict=True))
            ]
        },
    }
    bench = {
        "provenance": {"command": "rd"},
        "rd": {
            "anchor": [
                {"quality": i, "n_images": bench_images, "bpp": r, "psnr": p}
                for i, (r, p) in enumerate(zip(rates, psnrs, strict=True))
            ]
        },
    }
    (tmp_path / "study.json").write_text(json.dumps(study))
    (tmp_path / "bench.json").write_text(json.dumps(bench))
    return tmp_path / "study.json", tmp_path / "bench.json"


def test_bd_against_reports_fewer_bits_for_a_better_run(tmp_path, monkeypatch, capsys):
    study, bench = _bd_inputs(tmp_path, bench_images=2)
    monkeypatch.setattr("sys.argv", ["bd_against", str(study), str(bench)])
    bd_against.main()
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if line.startswith("| run | anchor |"))
    percent = float(row.split("|")[3].split("%")[0])
    assert -20 < percent < -5  # 0.5 dB at ~10 dB per decade of rate: about -11 %
    assert "| run | 34.50 | 37.50 | 37.50 (2.00) |" in out


def test_bd_against_refuses_other_images(tmp_path, monkeypatch):
    study, bench = _bd_inputs(tmp_path, bench_images=3)
    monkeypatch.setattr("sys.argv", ["bd_against", str(study), str(bench)])
    with pytest.raises(SystemExit, match="3"):
        bd_against.main()


def _table_rows(text: str, start: str) -> list[list[str]]:
    return [line.split("|")[1:-1] for line in text.splitlines() if line.startswith(start)]


def test_tile_gap_is_zero_when_the_tile_is_the_image(trained, image_folder, capsys):
    from tools import tile_gap

    config, run = trained
    spec = f"a={run}:{config}"
    assert tile_gap.main([str(image_folder), "--run", spec, "--tile", "64", "--levels", "1,2"]) == 0
    rows = _table_rows(capsys.readouterr().out, "| a |")
    assert len(rows) == 2
    for row in rows:
        whole_bpp, whole_psnr, tile_bpp, tile_psnr = row[2:6]
        assert whole_bpp == tile_bpp and whole_psnr == tile_psnr and row[6].strip() == "+0.0 %"
    # Four 32² tiles are four files: their headers alone make them dearer than the whole.
    assert tile_gap.main([str(image_folder), "--run", spec, "--tile", "32", "--levels", "1"]) == 0
    (row,) = _table_rows(capsys.readouterr().out, "| a |")
    assert float(row[6].strip().split()[0]) < 0
    with pytest.raises(SystemExit):
        tile_gap.main([str(image_folder), "--run", spec, "--tile", "48"])
