"""Face masks for the face-region metrics: the hook a face detector plugs into.

    original RGB image --MaskProvider--> HxW bool array (True on the face) | None

A mask provider is any function `provider(img: PIL.Image.Image) -> np.ndarray | None`: it
gets the 8-bit RGB original (never a decoded image, so every codec is scored on the same
region) and returns a boolean mask of the image's height and width, or None when it finds
no face. The runner calls it once per image and adds face-region metrics (bench.metrics)
to every result of that image; images without a mask get none, and the summaries say how
many images the face means cover.

Providers are named on the command line as `module:function`, e.g.

    nfc bench DATA -o OUT --face-mask neuralcodec.faces:face_mask

which imports `neuralcodec.faces` and calls its `face_mask`. No detector ships with the
benchmark: the default, `none`, gives no masks. A detector written for neuralcodec (e.g.
a Haar cascade returning the union of its face boxes as a mask) plugs in as above without
a change here. The provider's name is recorded with every result, so a resumed run never
mixes face metrics of two detectors.
"""

import importlib
from collections.abc import Callable

import numpy as np
from PIL import Image

from neuralcodec.errors import InvalidOption

MaskProvider = Callable[[Image.Image], np.ndarray | None]
NO_MASKS = "none"


class UnknownMaskProvider(InvalidOption):
    """The `module:function` named cannot be imported or is not callable."""


def load_mask_provider(name: str) -> MaskProvider | None:
    """The provider named `module:function`, or None for `none`."""
    if name == NO_MASKS:
        return None
    module_name, sep, function_name = name.partition(":")
    if not sep or not module_name or not function_name:
        raise UnknownMaskProvider(
            f"face mask provider {name!r} is not of the form module:function (or {NO_MASKS!r})"
        )
    try:
        provider = getattr(importlib.import_module(module_name), function_name)
    except (ImportError, AttributeError) as exc:
        raise UnknownMaskProvider(f"cannot load face mask provider {name!r}: {exc}") from exc
    if not callable(provider):
        raise UnknownMaskProvider(f"face mask provider {name!r} is not callable")
    return provider
