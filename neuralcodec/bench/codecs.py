"""Every codec of the benchmark behind one interface.

    PIL RGB image --encode(img, quality)--> bytes (the whole file) --decode--> PIL RGB image

A codec names itself, lists its quality sweep (lowest quality first) and states the fixed
encoder settings it uses; the runner records those settings next to every result, so a
change of library version or option is never mixed into old numbers.

Baselines go through Pillow's own plugins with each encoder's default speed/effort and
chroma subsampling, spelled out explicitly so that results record them:

    name      library          fixed settings                 quality sweep
    jpeg      libjpeg-turbo    subsampling 4:2:0              1..95, dense below 10
    jpeg444   libjpeg-turbo    subsampling 4:4:4              same as jpeg
    webp      libwebp          method 4 (lossy)               0..95
    avif      libavif (aom)    speed 6, subsampling 4:2:0     0..90
    avif-s0   libavif (aom)    speed 0 (its best effort),     0..95
                               subsampling 4:2:0
    heic      pillow-heif (libheif: x265 / libde265), HEVC    0..95
              intra, chroma 4:2:0
    jxl       pillow-jxl-plugin (libjxl)  effort 7            0..95
    nfc       neuralcodec      model cvae                     neuralcodec.available_qualities()
    nfc-gan   neuralcodec      model gan (cvae's files, GAN   available_qualities(model="gan")
                               decoder)
    compressai-peer  CompressAI ScaleHyperprior (bmshj2018-hyperprior), one weights file
              per quality, from CodecConfig.peer_weights (`--peer-weights DIR`)

On 128x128 faces the sweeps span roughly 0.2-3.7 bpp; the floors (WebP ~400 B, AVIF
~520 B, JXL ~550 B, JPEG ~990 B) are the encoders' own minimum file sizes at their lowest
quality, not a choice of sweep. Qualities that give byte-identical files (AVIF 0-2) are left
out of the sweeps. The sweeps of avif-s0 and heic reach ~44-45 dB on 128x128 faces at their
top (~3-5 bpp) and their floor (~0.25 bpp) at quality 0; avif-s0 costs ~0.7 s of CPU per
128x128 encode, hence its sparser sweep.

Required and optional: the codecs whose libraries the bench extra installs (Pillow's
libjpeg-turbo, libwebp and libavif, pillow-jxl-plugin, pillow-heif) and nfc itself are
required: where one cannot run, get_codec raises BrokenCodec, so a broken install or a broken
nfc fails the benchmark and its tests instead of being skipped. Only the optional ones
(nfc-gan, whose model may not be shipped, and compressai-peer, whose weights are not) raise
CodecUnavailable, which the runner turns into a skip with the reason.

The learned peer, `compressai-peer`, is the textbook hyperprior (Ballé et al. 2018,
CompressAI's `bmshj2018-hyperprior` architecture) meant to be trained on the same faces with
the same compute as nfc. No pretrained weights exist offline and none are faked: without
`peer_weights` the codec is skipped with that reason. Its files are CompressAI's streams in
a minimal wrapper (bench.peer.CompressAIFile), whose few bytes are counted like nfc's header.

`nfc-gan` writes nfc's bitstream marked for the realistic (adversarially fine-tuned) decoder
and decodes it that way; it may cover fewer qualities than nfc. Where the installed
neuralcodec has no "gan" model, or its weights are missing, it is skipped with the reason.
"""

import importlib.metadata
import io
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

from PIL import Image, features

from neuralcodec.errors import InvalidOption

JPEG_QUALITIES = (1, 2, 3, 4, 5, 6, 8, 10, 12, 15, 20, 25, 30, 40, 50, 60, 70, 80, 90, 95)
WEBP_QUALITIES = (0, 1, 2, 3, 5, 7, 10, 15, 20, 30, 40, 50, 60, 70, 80, 90, 95)
AVIF_QUALITIES = (0, 5, 10, 15, 20, 25, 30, 35, 40, 50, 60, 70, 80, 90)
AVIF_S0_QUALITIES = (0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 95)
# Quality 100 gives the same files as 95.
HEIC_QUALITIES = (0, 5, 10, 15, 20, 25, 30, 35, 40, 50, 60, 70, 80, 90, 95)
JXL_QUALITIES = (0, 1, 2, 5, 10, 15, 20, 30, 40, 50, 60, 70, 80, 90, 95)
NFC_MODEL = "cvae"
NFC_GAN_MODEL = "gan"


class UnknownCodec(InvalidOption):
    """The name is not in the registry."""


class CodecUnavailable(RuntimeError):
    """An optional codec is known but cannot run here; the message says why."""


class BrokenCodec(InvalidOption):
    """A required codec cannot run here: a broken install or a broken codec, never a skip.

    An InvalidOption like UnknownCodec, so that `nfc bench` reports it in one line."""


class Codec(Protocol):
    """What the runner needs from a codec."""

    @property
    def name(self) -> str:
        """The codec's name in results."""

    @property
    def qualities(self) -> Sequence[int]:
        """The quality sweep, lowest first."""

    @property
    def settings(self) -> Mapping[str, object]:
        """The fixed encoder settings recorded next to every result."""

    def encode(self, img: Image.Image, quality: int) -> bytes:
        """RGB image -> the complete file, every byte a decoder needs."""

    def decode(self, data: bytes) -> Image.Image:
        """The complete file -> RGB image of the original size."""


@runtime_checkable
class HasHeader(Protocol):
    """A codec whose files have a container header worth reporting on its own."""

    def header_bytes(self, data: bytes) -> int:
        """How many bytes of the file `data` are container, not entropy-coded payload."""


@dataclass(frozen=True)
class CodecConfig:
    """Options some codecs need from the command line; the others ignore them.

    peer_weights: folder of CompressAI ScaleHyperprior weights files for compressai-peer,
        one per quality (`*.pt`, sorted by name = quality 1, 2, ...), each a state dict
        or a dict holding one under "state_dict".
    """

    peer_weights: Path | None = None


DEFAULT_CONFIG = CodecConfig()


@dataclass(frozen=True)
class PillowCodec:
    """A format that Pillow (or a Pillow plugin) reads and writes.

    `options` are passed to `Image.save` on every encode, beside `quality`.
    """

    name: str
    format: str
    library: str
    qualities: tuple[int, ...]
    options: Mapping[str, object]

    @property
    def settings(self) -> dict[str, object]:
        return {"format": self.format, "library": self.library, **self.options}

    def encode(self, img: Image.Image, quality: int) -> bytes:
        buf = io.BytesIO()
        img.save(buf, format=self.format, quality=quality, **self.options)
        return buf.getvalue()

    def decode(self, data: bytes) -> Image.Image:
        with Image.open(io.BytesIO(data), formats=[self.format]) as im:
            return im.convert("RGB")


class NeuralCodec:
    """neuralcodec's public API: `compress(image, quality=q, model=m)` and `decompress(data)`.

    Its settings name the model, the package version and the SHA-256 of the weights, so
    results of other weights are never mixed in on resume. A model this installation does
    not know, or cannot load, makes the codec unavailable (CodecUnavailable), not a crash
    in the middle of a run.
    """

    def __init__(self, model: str = NFC_MODEL, name: str = "nfc") -> None:
        try:
            import neuralcodec
        except ImportError as exc:
            raise CodecUnavailable(f"neuralcodec cannot be imported: {exc}") from exc
        missing = [
            fn for fn in ("compress", "decompress", "available_qualities") if not hasattr(neuralcodec, fn)
        ]
        if missing:
            raise CodecUnavailable(f"neuralcodec has no {', '.join(missing)} yet")
        from neuralcodec.errors import NfcError
        from neuralcodec.models.registry import load_model, weights_sha256

        self.name = name
        self._api = neuralcodec
        self._model = model
        try:
            # spec_for raises ValueError for an unknown model, load_model UnknownModel for
            # missing or mismatched weights, weights_sha256 OSError for a missing file.
            self.qualities = tuple(neuralcodec.available_qualities(model=model))
            load_model(model)
            weights = weights_sha256(model)
        except (ValueError, OSError, NfcError) as exc:
            raise CodecUnavailable(f"neuralcodec cannot run model {model!r}: {exc}") from exc
        if not self.qualities:
            raise CodecUnavailable(f"neuralcodec has no qualities for model {model!r}")
        self.settings = {
            "model": model,
            "neuralcodec": getattr(neuralcodec, "__version__", "unknown"),
            "weights_sha256": weights,
        }

    def encode(self, img: Image.Image, quality: int) -> bytes:
        return self._api.compress(img, quality=quality, model=self._model)

    def decode(self, data: bytes) -> Image.Image:
        return self._api.decompress(data).convert("RGB")

    def header_bytes(self, data: bytes) -> int:
        return self._api.inspect(data).header_bytes


def _peer(config: CodecConfig) -> Codec:
    # Imported when built: bench.peer needs this module's interface, and torch and
    # CompressAI load only for the learned peer.
    from neuralcodec.bench.peer import load_peer

    return load_peer(config)


def _require_feature(feature: str, codec: str) -> str:
    if not features.check(feature):
        raise CodecUnavailable(f"this Pillow build has no {feature} support, needed by {codec}")
    return features.version(feature) or "unknown"


def _jpeg(name: str, subsampling: str) -> PillowCodec:
    if not features.check("libjpeg_turbo"):
        raise CodecUnavailable(f"{name} is defined as libjpeg-turbo, which this Pillow lacks")
    return PillowCodec(
        name=name,
        format="JPEG",
        library=f"libjpeg-turbo {features.version('libjpeg_turbo')}",
        qualities=JPEG_QUALITIES,
        options={"subsampling": subsampling},
    )


def _webp() -> PillowCodec:
    version = _require_feature("webp", "webp")
    return PillowCodec(
        name="webp",
        format="WEBP",
        library=f"libwebp {version}",
        qualities=WEBP_QUALITIES,
        options={"method": 4},
    )


def avif_codec_versions() -> str | None:
    """The AV1 coders inside Pillow's libavif, e.g. 'dav1d [dec]:1.5.3, aom [enc]:3.14.1'.

    Pillow exposes them only in its private `_avif` module, hence the guarded import.
    """
    try:
        from PIL import _avif
    except ImportError:
        return None
    return _avif.codec_versions()


def _avif(name: str, speed: int, qualities: tuple[int, ...]) -> PillowCodec:
    version = _require_feature("avif", name)
    return PillowCodec(
        name=name,
        format="AVIF",
        library=f"libavif {version} ({avif_codec_versions()})",
        qualities=qualities,
        options={"speed": speed, "subsampling": "4:2:0"},
    )


def _heic() -> PillowCodec:
    try:
        import pillow_heif
    except ImportError as exc:
        raise CodecUnavailable("no HEIF plugin for Pillow is installed (pip install pillow-heif)") from exc
    pillow_heif.register_heif_opener()
    info = pillow_heif.libheif_info()
    return PillowCodec(
        name="heic",
        format="HEIF",
        library=(
            f"pillow-heif {pillow_heif.__version__}, libheif {info['libheif']} "
            f"(encoder {info['HEIF']}; decoders {', '.join(info['decoders'].values())})"
        ),
        qualities=HEIC_QUALITIES,
        options={"chroma": 420},
    )


def _jxl() -> PillowCodec:
    try:
        import pillow_jxl  # noqa: F401  (registers the JXL format with Pillow)
    except ImportError as exc:
        raise CodecUnavailable(
            "no JPEG XL plugin for Pillow is installed (pip install pillow-jxl-plugin)"
        ) from exc
    version = importlib.metadata.version("pillow-jxl-plugin")
    return PillowCodec(
        name="jxl",
        format="JXL",
        library=f"pillow-jxl-plugin {version}",
        qualities=JXL_QUALITIES,
        options={"effort": 7},
    )


@dataclass(frozen=True)
class Registration:
    """How to build a codec, and whether it must run everywhere (see the module docstring)."""

    build: Callable[[CodecConfig], Codec]
    required: bool


_REGISTRY: dict[str, Registration] = {
    "jpeg": Registration(lambda config: _jpeg("jpeg", "4:2:0"), required=True),
    "jpeg444": Registration(lambda config: _jpeg("jpeg444", "4:4:4"), required=True),
    "webp": Registration(lambda config: _webp(), required=True),
    "avif": Registration(lambda config: _avif("avif", 6, AVIF_QUALITIES), required=True),
    "avif-s0": Registration(lambda config: _avif("avif-s0", 0, AVIF_S0_QUALITIES), required=True),
    "heic": Registration(lambda config: _heic(), required=True),
    "jxl": Registration(lambda config: _jxl(), required=True),
    "nfc": Registration(lambda config: NeuralCodec(), required=True),
    "nfc-gan": Registration(lambda config: NeuralCodec(NFC_GAN_MODEL, name="nfc-gan"), required=False),
    "compressai-peer": Registration(_peer, required=False),
}


def codec_names() -> list[str]:
    """Every registered codec name, available here or not."""
    return list(_REGISTRY)


def required_codec_names() -> list[str]:
    """The codecs that must run wherever the bench extra is installed."""
    return [name for name, entry in _REGISTRY.items() if entry.required]


def get_codec(name: str, config: CodecConfig = DEFAULT_CONFIG) -> Codec:
    """The codec registered as `name`, built with the options in `config`.

    Raises UnknownCodec for a name not in the registry, CodecUnavailable (with the reason)
    for an optional codec that cannot run in this environment and BrokenCodec for a
    required one.
    """
    try:
        entry = _REGISTRY[name]
    except KeyError:
        raise UnknownCodec(f"unknown codec {name!r}; known codecs: {', '.join(_REGISTRY)}") from None
    try:
        return entry.build(config)
    except CodecUnavailable as exc:
        if entry.required:
            raise BrokenCodec(
                f"{name} must run here (the bench extra installs what it needs) but cannot: {exc}"
            ) from exc
        raise
