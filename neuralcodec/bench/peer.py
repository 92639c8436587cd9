"""The learned peer, `compressai-peer`: CompressAI models behind the benchmark's interface.

    config.peer_weights/*.pt (one per quality) --load_peer--> CompressAICodec
    RGB --pad to 64 px--> model.compress --> streams --CompressAIFile.pack--> the file
    the file --CompressAIFile.unpack--> streams --model.decompress, crop--> RGB

CompressAI defines no file for its streams, so CompressAIFile is a minimal wrapper whose few
bytes are counted and reported like nfc's header. bench.speed times an untrained CompressAI
model through the same CompressAICodec.
"""

import hashlib
import importlib.metadata
import struct
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from neuralcodec.bench.codecs import CodecConfig, CodecUnavailable

PEER_STRIDE = 64


class CompressAIFile:
    """CompressAI's `compress` output as one file: what CompressAI itself never defines.

        u16 width, u16 height, u8 quality, u8 n_streams   (little-endian)
        per stream: u32 length, bytes                      (one image per file)

    The latent shape follows from width, height and the model's stride, so it is not
    stored: 6 + 4 * n_streams bytes of wrapper, reported as header.
    """

    FIXED = struct.Struct("<HHBB")
    LENGTH = struct.Struct("<I")

    @classmethod
    def pack(cls, width: int, height: int, quality: int, streams: Sequence[bytes]) -> bytes:
        parts = [cls.FIXED.pack(width, height, quality, len(streams))]
        parts += [cls.LENGTH.pack(len(s)) + s for s in streams]
        return b"".join(parts)

    @classmethod
    def unpack(cls, data: bytes) -> tuple[int, int, int, list[bytes]]:
        width, height, quality, n_streams = cls.FIXED.unpack_from(data)
        pos, streams = cls.FIXED.size, []
        for _ in range(n_streams):
            (length,) = cls.LENGTH.unpack_from(data, pos)
            streams.append(data[pos + cls.LENGTH.size : pos + cls.LENGTH.size + length])
            pos += cls.LENGTH.size + length
        if pos != len(data):
            raise ValueError("truncated or oversized CompressAI file")
        return width, height, quality, streams

    @classmethod
    def header_bytes(cls, data: bytes) -> int:
        return cls.FIXED.size + cls.LENGTH.size * cls.FIXED.unpack_from(data)[3]


class CompressAICodec:
    """CompressAI models (one per quality) behind the benchmark's interface.

    The image is padded (edge replication) to a multiple of 64 px, coded with the model's
    own `compress`/`decompress`, and cropped back. Runs on `device` (CPU by default).
    """

    def __init__(
        self, name: str, models: Mapping[int, Any], settings: Mapping[str, object], device: str = "cpu"
    ) -> None:
        import torch

        self._torch = torch
        self.name = name
        self.qualities = tuple(sorted(models))
        self.settings = {**settings, "compressai": importlib.metadata.version("compressai")}
        self.device = device
        self._models = {q: m.to(device).eval() for q, m in models.items()}
        for model in self._models.values():
            model.update(force=True)

    def _to_tensor(self, img: Image.Image):
        pixels = np.asarray(img, dtype=np.float32) / 255
        height, width = pixels.shape[:2]
        pad = ((0, -height % PEER_STRIDE), (0, -width % PEER_STRIDE), (0, 0))
        padded = np.pad(pixels, pad, mode="edge")
        return self._torch.from_numpy(padded).permute(2, 0, 1).unsqueeze(0).to(self.device)

    def encode(self, img: Image.Image, quality: int) -> bytes:
        with self._torch.inference_mode():
            out = self._models[quality].compress(self._to_tensor(img))
        streams = [strings[0] for strings in out["strings"]]
        return CompressAIFile.pack(img.width, img.height, quality, streams)

    def decode(self, data: bytes) -> Image.Image:
        width, height, quality, streams = CompressAIFile.unpack(data)
        model = self._models[quality]
        shape = (-(-height // PEER_STRIDE), -(-width // PEER_STRIDE))
        with self._torch.inference_mode():
            x_hat = model.decompress([[s] for s in streams], shape)["x_hat"]
        pixels = x_hat[0, :, :height, :width].clamp(0, 1).mul(255).round().byte()
        return Image.fromarray(pixels.permute(1, 2, 0).cpu().numpy())

    def header_bytes(self, data: bytes) -> int:
        return CompressAIFile.header_bytes(data)


def load_peer(config: CodecConfig) -> CompressAICodec:
    """compressai-peer from the weights files in config.peer_weights; CodecUnavailable without."""
    if config.peer_weights is None:
        raise CodecUnavailable(
            "no weights for the learned peer (CompressAI bmshj2018-hyperprior trained with our "
            "tools/train.py, tools/configs/study/peer.toml); pass --peer-weights DIR"
        )
    files = sorted(Path(config.peer_weights).glob("*.pt"))
    if not files:
        raise CodecUnavailable(f"no *.pt peer weights files in {config.peer_weights}")
    import torch
    from compressai.models import ScaleHyperprior

    models, digests, steps = {}, {}, set()
    for quality, path in enumerate(files, start=1):
        state = torch.load(path, map_location="cpu", weights_only=True)
        models[quality] = ScaleHyperprior.from_state_dict(state.get("state_dict", state))
        digests[path.name] = hashlib.sha256(path.read_bytes()).hexdigest()
        steps.add(state.get("trained_steps"))
    settings = {"architecture": "compressai.models.ScaleHyperprior", "weights_sha256": digests}
    if steps != {None}:
        # tools/export.py records the run's steps (all lambdas together): the compute to read
        # the peer's results against.
        settings["trained_steps"] = sorted(steps, key=str)
    return CompressAICodec("compressai-peer", models, settings)
