"""Stable model ids -> model definitions and shipped weights.

A model id is a versioned string (``face-hyperprior-v2``) that never changes meaning: new
weights or a new architecture get a new id. The .nfc header stores a 16-bit hash of the id
(:func:`model_id_hash`), checked for collisions when this module is imported.

A model can share another's bitstream: ``face-hyperprior-v2-gan`` is only a second decoder
(synthesis transform) for ``face-hyperprior-v2``'s encoder, entropy model and files. Such a
family has one ``faithful`` decoder (the rate-distortion trained one) and may have a
``realistic`` one (adversarially fine-tuned); any file of the family decodes with either.
The id in a file's header says which decoder its writer meant.
"""

from __future__ import annotations

import copy
import hashlib
import zlib
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

import torch

from neuralcodec.errors import InvalidOption, UnknownModel
from neuralcodec.models.hyperprior import FaceHyperprior, HyperpriorConfig


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
    #: The qualities the decoder was trained for (None: all of the family's).
    qualities: tuple[int, ...] | None = None

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
if len(_BY_HASH) != len(MODELS):
    raise RuntimeError("two shipped model ids share a 16-bit hash; rename one")


def spec_for(name: str) -> ModelSpec:
    """Look a model up by alias (``cvae``) or stable id (``face-hyperprior-v2``)."""
    for spec in MODELS:
        if name in (spec.alias, spec.model_id):
            return spec
    known = ", ".join(f"{s.alias} ({s.model_id})" for s in MODELS)
    raise InvalidOption(f"unknown model {name!r}; available: {known}")


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
        raise InvalidOption(f"unknown decoder {decoder!r}; choose from {', '.join(DECODERS)}")
    for other in MODELS:
        if other.family == spec.family and other.decoder == decoder:
            return other
    raise InvalidOption(f"model {spec.family} has no {decoder} decoder")


def load_weights_file(path: Path) -> dict:
    """A weights file: {'model_id', 'config': {...}, 'lambdas': [...], 'state_dict': {...}}."""
    return torch.load(path, map_location="cpu", weights_only=True)


def build_model(config: dict, state_dict: dict) -> FaceHyperprior:
    model = FaceHyperprior(HyperpriorConfig(**config))
    model.load_state_dict(state_dict)
    return model.eval()


def _weights_path(spec: ModelSpec):
    return resources.files("neuralcodec.weights") / spec.weights


def weights_sha256(name: str) -> str:
    """SHA-256 of the installed weights file of ``name``: what pins benchmark results to weights."""
    return hashlib.sha256(_weights_path(spec_for(name)).read_bytes()).hexdigest()


def _load_payload(spec: ModelSpec) -> dict:
    with resources.as_file(_weights_path(spec)) as path:
        if not path.exists():
            raise UnknownModel(f"weights for {spec.model_id} are not installed ({spec.weights})")
        return load_weights_file(path)


@cache
def load_model(name: str) -> FaceHyperprior:
    """The shipped model ``name`` (alias or id), ready to code; loaded once per process.

    A model with a ``base`` is the base model with its own synthesis transform; its weights
    file records the SHA-256 of the base weights it was trained against, checked here.
    """
    spec = spec_for(name)
    if spec.base is None:
        payload = _load_payload(spec)
        return build_model(payload["config"], payload["state_dict"])
    decoder = _load_payload(spec)
    base_spec = spec_for(spec.base)
    if decoder.get("base_sha256") != weights_sha256(base_spec.model_id):
        raise UnknownModel(
            f"the {spec.model_id} decoder was trained for other {base_spec.model_id} weights than "
            "the installed ones; reinstall neuralcodec"
        )
    model = copy.deepcopy(load_model(base_spec.alias))
    model.synthesis.load_state_dict(decoder["synthesis"])
    return model.eval()
