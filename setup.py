"""Builds the native extension ``neuralcodec._C`` from csrc/ (metadata lives in pyproject.toml).

    nice -n 19 python setup.py build_ext --inplace

Build knob: ``WITH_CUDA=1`` / ``WITH_CUDA=0`` forces the CUDA kernels (csrc/**/*.cu) on or off;
unset, they are built only when a CUDA toolkit is found (``CUDA_HOME``) *and* torch sees a GPU,
so CPU-only machines and CI never spend minutes in nvcc. ``WITH_CUDA=1`` needs no GPU; without
one, the kernels are compiled for ``TORCH_CUDA_ARCH_LIST`` (default below: A100 and H100, plus
PTX for newer GPUs), since torch cannot ask a device.

The wheel also carries the model card: docs/models.md, copied in as
``neuralcodec/weights/MODEL_CARD.md`` (one source, next to the weights it describes).
"""

import glob
import os
from pathlib import Path

import torch
from setuptools import setup
from setuptools.command.build_py import build_py
from torch.utils.cpp_extension import CUDA_HOME, BuildExtension, CppExtension, CUDAExtension

# C++20: torch's headers need it (csrc/fused includes them). -fopenmp: at::parallel_for in
# csrc/fused runs on torch's OpenMP threads (torch's bundled libgomp.so.1 is already loaded,
# so no second runtime). -fno-math-errno: lets sqrt vectorise.
CXX_FLAGS = ["-O3", "-std=c++20", "-fopenmp", "-fno-math-errno"]
LINK_FLAGS = ["-fopenmp"]
NVCC_FLAGS = ["-O3", "-std=c++20"]

CPP_SOURCES = sorted(glob.glob("csrc/**/*.cpp", recursive=True))
CUDA_SOURCES = sorted(glob.glob("csrc/**/*.cu", recursive=True))


def cuda_enabled() -> bool:
    requested = os.environ.get("WITH_CUDA")
    if requested is not None:
        return requested == "1"
    return CUDA_HOME is not None and torch.cuda.is_available()


DEFAULT_CUDA_ARCHS = "8.0;9.0+PTX"


def native_extension():
    if CUDA_SOURCES and cuda_enabled():
        if not torch.cuda.is_available():
            os.environ.setdefault("TORCH_CUDA_ARCH_LIST", DEFAULT_CUDA_ARCHS)
        return CUDAExtension(
            "neuralcodec._C",
            CPP_SOURCES + CUDA_SOURCES,
            define_macros=[("WITH_CUDA", None)],
            extra_compile_args={"cxx": CXX_FLAGS, "nvcc": NVCC_FLAGS},
            extra_link_args=LINK_FLAGS,
        )
    return CppExtension(
        "neuralcodec._C", CPP_SOURCES, extra_compile_args={"cxx": CXX_FLAGS}, extra_link_args=LINK_FLAGS
    )


MODEL_CARD = Path("docs/models.md")


class BuildPyWithModelCard(build_py):
    """build_py, plus the model card next to the weights."""

    def run(self):
        super().run()
        target = Path(self.build_lib, "neuralcodec", "weights", "MODEL_CARD.md")
        self.mkpath(str(target.parent))
        self.copy_file(str(MODEL_CARD), str(target))


setup(
    ext_modules=[native_extension()],
    cmdclass={
        "build_ext": BuildExtension.with_options(use_ninja=True),
        "build_py": BuildPyWithModelCard,
    },
)
