"""The shipped models by stable id: what each is, its qualities and its decoders (no torch).

A model id is a versioned string (``face-hyperprior-v2``) that never changes meaning: new
weights or a new architecture get a new id. The .nfc header stores a 16-bit hash of the id
(:func:`model_id_hash`), checked for collisions when this module is imported.

A model can share another's bitstream: ``face-hyperprior-v2-gan`` is only a second decoder
(synthesis transform) for ``face-hyperprior-v2``'s encoder, entropy model and files. Such a
family has one ``faithful`` decoder (the rate-distortion trained one) and may have a
``realistic`` one (adversarially fine-tuned); any file of the family decodes with either.
The id in a file's header says which decoder its writer meant.

This module imports no torch, so that ``nfc --help`` can list the models and their
qualities instantly; :mod:`neuralcodec.models.registry` loads the weights.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

from neuralcodec.errors import InvalidOption, UnknownModel

#: The quality a file gets when the caller names none (or the model's highest below it).
DEFAULT_QUALITY = 6


@dataclass(frozen=True)
class ModelSpec:
    """One shipped model: its stable id, the CLI/API alias and the weights file in the package."""

    model_id: str
    alias: str
    weights: str
    description: str
    #: The model whose encoder, entropy model and bitstream this one shares (None: its own).
    base: str | None = None
    #: "faithful" (trained for rate + MSE) or "realistic" (GAN fine-tuned decoder).
    decoder: str = "faithful"
    #: The qualities (1-based) a file of this model may have, lowest (smallest files)
    #: first: the base model's levels, or those a second decoder was trained for.
    qualities: tuple[int, ...] = ()

    @property
    def default_quality(self) -> int:
        """:data:`DEFAULT_QUALITY`, or the highest quality below it where the model has fewer."""
        return max(q for q in self.qualities if q <= DEFAULT_QUALITY)

    @property
    def range_text(self) -> str:
        """The qualities as the help texts show them, e.g. ``1..11``."""
        return f"{self.qualities[0]}..{self.qualities[-1]}"

    @property
    def family(self) -> str:
        """The id of the model that defines the bitstream."""
        return self.base or self.model_id


MODELS: tuple[ModelSpec, ...] = (
    ModelSpec(
        model_id="face-hyperprior-v2",
        alias="cvae",
        weights="face-hyperprior-v2.pt",
        description="CVAE: variable-rate mean-scale hyperprior trained for MSE + rate on faces",
        qualities=tuple(range(1, 12)),
    ),
    ModelSpec(
        model_id="face-hyperprior-v2-gan",
        alias="gan",
        weights="face-hyperprior-v2-gan.pt",
        description="GAN: face-hyperprior-v2's files, decoded by an adversarially fine-tuned "
        "decoder (sharper, realistic texture at low rates; lower PSNR)",
        base="face-hyperprior-v2",
        decoder="realistic",
        qualities=(1, 2, 3, 4, 5),
    ),
)

DECODERS = ("faithful", "realistic")

DEFAULT_MODEL = "cvae"


def model_id_hash(model_id: str) -> int:
    """The 16-bit id stored in .nfc headers: the low 16 bits of CRC32(id)."""
    return zlib.crc32(model_id.encode("ascii")) & 0xFFFF


_BY_HASH = {model_id_hash(s.model_id): s for s in MODELS}
if any(not s.qualities or min(s.qualities) > DEFAULT_QUALITY for s in MODELS):
    raise RuntimeError("every shipped model needs qualities, the lowest at most DEFAULT_QUALITY")
if len(_BY_HASH) != len(MODELS):
    raise RuntimeError("two shipped model ids share a 16-bit hash; rename one")


def spec_for(name: str) -> ModelSpec:
    """Look a model up by alias (``cvae``) or stable id (``face-hyperprior-v2``)."""
    for spec in MODELS:
        if name in (spec.alias, spec.model_id):
            return spec
    known = ", ".join(f"{s.alias} ({s.model_id})" for s in MODELS)
    raise InvalidOption(f"unknown model {name!r}; available: {known}", option="model")


def spec_for_hash(id_hash: int) -> ModelSpec:
    try:
        return _BY_HASH[id_hash]
    except KeyError:
        raise UnknownModel(
            f"file was made by model 0x{id_hash:04x}, which this installation does not ship"
        ) from None


def decoder_spec(spec: ModelSpec, decoder: str) -> ModelSpec:
    """The member of ``spec``'s family with the given decoder; ValueError when it has none."""
    if decoder not in DECODERS:
        raise InvalidOption(
            f"unknown decoder {decoder!r}; choose from {', '.join(DECODERS)}", option="decoder"
        )
    for other in MODELS:
        if other.family == spec.family and other.decoder == decoder:
            return other
    raise InvalidOption(f"model {spec.family} has no {decoder} decoder", option="decoder")
