"""Builds the native extension ``neuralcodec._C`` from csrc/ (metadata lives in pyproject.toml).

    nice -n 19 python setup.py build_ext --inplace

Build knob: ``WITH_CUDA=1`` / ``WITH_CUDA=0`` forces CUDA kernels on or off; unset, they are
built when a CUDA toolkit is found (``CUDA_HOME``). No GPU is ever needed to build.
"""

import glob
import os

from setuptools import setup
from torch.utils.cpp_extension import CUDA_HOME, BuildExtension, CppExtension, CUDAExtension

CXX_FLAGS = ["-O3", "-std=c++17"]
NVCC_FLAGS = ["-O3", "-std=c++17"]

CPP_SOURCES = sorted(glob.glob("csrc/**/*.cpp", recursive=True))
CUDA_SOURCES = sorted(glob.glob("csrc/**/*.cu", recursive=True))


def cuda_enabled() -> bool:
    requested = os.environ.get("WITH_CUDA")
    if requested is not None:
        return requested == "1"
    return CUDA_HOME is not None


def native_extension():
    if CUDA_SOURCES and cuda_enabled():
        return CUDAExtension(
            "neuralcodec._C",
            CPP_SOURCES + CUDA_SOURCES,
            define_macros=[("WITH_CUDA", None)],
            extra_compile_args={"cxx": CXX_FLAGS, "nvcc": NVCC_FLAGS},
        )
    return CppExtension("neuralcodec._C", CPP_SOURCES, extra_compile_args={"cxx": CXX_FLAGS})


setup(
    ext_modules=[native_extension()],
    cmdclass={"build_ext": BuildExtension.with_options(use_ninja=True)},
)
