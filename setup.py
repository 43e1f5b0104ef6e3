"""Build embsim and its Cython kernels.

Every ``.pyx`` under ``embsim/`` becomes an extension module of the same
dotted name (``embsim/sim/_replay.pyx`` -> ``embsim.sim._replay``), compiled
against numpy's headers with bounds checks left to each kernel's own
directives.
"""
from pathlib import Path

import numpy as np
from Cython.Build import cythonize
from setuptools import Extension, find_packages, setup

ROOT = Path(__file__).parent

extensions = [
    Extension(
        ".".join(p.with_suffix("").parts),
        [str(p)],
        include_dirs=[np.get_include()],
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
        extra_compile_args=["-O3"],
    )
    for p in sorted(Path("embsim").rglob("*.pyx"))
]

setup(
    name="embsim",
    version="0.1.0",
    description="Simulator and design-space explorer for the embedding layers of DLRM-style recommendation models",
    long_description=(ROOT / "README.md").read_text() if (ROOT / "README.md").exists() else "",
    long_description_content_type="text/markdown",
    license="MIT",
    python_requires=">=3.10",
    packages=find_packages(include=["embsim", "embsim.*"]),
    package_data={"embsim": ["**/*.yaml", "**/*.txt", "**/*LICENSE*", "**/*.pyx", "**/*.pxd"]},
    ext_modules=cythonize(extensions, language_level=3, quiet=True),
    install_requires=[
        "numpy>=1.24",
        "simpy>=4.0",
        "pulp>=3.3,<5",
        "highspy>=1.7",
        "networkx>=3.0",
        "plotly>=5.18",
        "pyyaml>=6.0",
        "pydantic>=2.5",
        "click>=8.1",
        "tqdm>=4.66",
        "pandas>=2.0",
        "scipy>=1.11",
        "dask[distributed]>=2024.1",
    ],
    extras_require={
        "test": ["pytest>=7.4", "hypothesis>=6.90", "pytest-timeout>=2.2", "pytest-xdist>=3.5",
                 "nbclient>=0.9", "nbformat>=5.9", "ipykernel>=6.25",
                 # make lint (configured in pyproject.toml)
                 "ruff>=0.6", "mypy>=1.10"],
        "torch": ["torch>=2.0"],
        # TorchRec's planner as a baseline (cost_model/torchrec_planner.py).  torchrec 1.8.0 declares the CUDA
        # fbgemm-gpu; the CPU build fbgemm-gpu-cpu serves it, so the tested recipe (.ci/run) installs these two
        # with --no-deps beside torch 2.13.0 (CPU) and the rest normally.
        "torchrec": ["torch==2.13.0", "torchrec==1.8.0", "fbgemm-gpu-cpu==1.8.0", "tensordict", "torchmetrics==1.0.3",
                     "pyre-extensions"],
        # ISA-L's CRC-32 (zlib's value, about 7x faster): chunked traces are checked as they are read
        "fast": ["isal>=1.6"],
    },
    entry_points={"console_scripts": ["embsim=embsim.cli:run"]},
    zip_safe=False,
)
