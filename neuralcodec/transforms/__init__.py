"""Analysis / synthesis networks: the learned transforms of the codec."""

from neuralcodec.transforms.networks import (
    AnalysisTransform,
    HyperAnalysis,
    HyperSynthesis,
    SynthesisTransform,
)

__all__ = ["AnalysisTransform", "HyperAnalysis", "HyperSynthesis", "SynthesisTransform"]
