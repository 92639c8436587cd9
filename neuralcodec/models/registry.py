"""Shipped weights -> ready models, for the ids of :mod:`neuralcodec.models.catalog`.

Weights are loaded once per process; a model whose file does not match its catalog entry
(level count, or for a second decoder the base weights it was trained for) is refused with
:class:`~neuralcodec.errors.UnknownModel`.
"""

from __future__ import annotations

import copy
import hashlib
from functools import cache
from importlib import resources
from pathlib import Path

import torch

from neuralcodec.errors import UnknownModel
from neuralcodec.models.catalog import (
    DECODERS,
    DEFAULT_MODEL,
    MODELS,
    ModelSpec,
    decoder_spec,
    model_id_hash,
    spec_for,
    spec_for_hash,
)
from neuralcodec.models.hyperprior import FaceHyperprior, HyperpriorConfig

__all__ = [
    "DECODERS",
    "DEFAULT_MODEL",
    "MODELS",
    "ModelSpec",
    "build_model",
    "decoder_spec",
    "load_model",
    "load_weights_file",
    "model_id_hash",
    "spec_for",
    "spec_for_hash",
    "weights_sha256",
]


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
        model = build_model(payload["config"], payload["state_dict"])
        if model.levels != len(spec.qualities):
            raise UnknownModel(
                f"the installed {spec.model_id} weights have {model.levels} quality levels, "
                f"the catalog {len(spec.qualities)}; reinstall neuralcodec"
            )
        return model
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
