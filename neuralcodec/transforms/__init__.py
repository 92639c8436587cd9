"""Analysis / synthesis networks: the learned transforms of the codec.

The networks load torch on first use (module ``__getattr__``), so that the torch-free
:mod:`neuralcodec.transforms.strides` can be imported on its own.
"""

_NETWORKS = ("AnalysisTransform", "HyperAnalysis", "HyperSynthesis", "SynthesisTransform")

__all__ = list(_NETWORKS)


def __getattr__(name: str):
    if name in _NETWORKS:
        from neuralcodec.transforms import networks

        return getattr(networks, name)
    raise AttributeError(f"module 'neuralcodec.transforms' has no attribute {name!r}")
