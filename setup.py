"""Packaging for recurrent_sim: learned recurrent simulators of Atari games."""
from setuptools import find_packages, setup

setup(
    name="recurrent_sim",
    version="0.1.0",
    description=(
        "Action-conditioned recurrent environment simulators of Atari games "
        "(Chiappa et al., ICLR 2017) in Chainer and ChainerRL"
    ),
    packages=find_packages(include=["recurrent_sim", "recurrent_sim.*"]),
    # the shipped simulators (checkpoint, evaluation and the commands that made them), the recipes, the play page
    package_data={"recurrent_sim": ["pretrained/*/*.npz", "pretrained/*/*.json", "pretrained/*/*.md",
                                    "recipes/*.json", "play/static/*.html", "play/static/*.js", "play/static/*.css"]},
    python_requires=">=3.11,<3.12",
    install_requires=[
        "chainer==7.8.1",
        "chainerrl==0.8.0",
        "gym==0.22.0",
        # the gymnasium API of the simulated game (recurrent_sim.envs.gymnasium_game), for agents outside chainerrl
        "gymnasium>=1.0,<2",
        "numpy>=1.24,<2",
        "ale-py>=0.12,<0.13",
        "opencv-python-headless>=4.8",
        # the object measure's connected components (recurrent_sim.evaluation.objects)
        "scipy>=1.10",
        "matplotlib>=3.7",
        "imageio>=2.30",
        "Pillow>=9",
        "tensorboardX>=2.6",
        "aiohttp>=3.9,<4",
        # the BLAS numpy calls: its kernels named (`system.blas_core`), its threads held on the fast path
        "threadpoolctl>=3.5,<4",
    ],
    extras_require={
        # selenium drives the system's Chromium (Debian's chromium and chromium-driver) in the browser
        # test of `recurrent-sim play`; mpi4py (with an MPI: Open MPI from Debian's packages) serves
        # `mpiexec -n N recurrent-sim train` and its tests; scripts/setup_venv.sh installs both.
        "test": ["pytest>=7", "hypothesis>=6", "selenium>=4.20,<5", "mpi4py>=3.1"],
        # CuPy 13 (the last with the cuDNN that chainer 7 uses, and numpy 1) and,
        # as NVIDIA's wheels, the CUDA 12 libraries it loads: a CUDA 12 machine
        # needs only its driver (recurrent_sim.utils.cuda loads them).
        "gpu": [
            "cupy-cuda12x>=13.6,<14",
            "nvidia-cuda-runtime-cu12>=12.1,<13",
            "nvidia-cuda-nvrtc-cu12>=12.1,<13",
            "nvidia-nvjitlink-cu12>=12.1,<13",
            "nvidia-cublas-cu12>=12.1,<13",
            "nvidia-cufft-cu12>=11,<12",
            "nvidia-curand-cu12>=10.3,<11",
            "nvidia-cusparse-cu12>=12,<13",
            "nvidia-cusolver-cu12>=11.4,<12",
            "nvidia-cudnn-cu12>=8.9,<9",
        ],
        "mpi": ["mpi4py>=3.1"],
    },
    entry_points={"console_scripts": ["recurrent-sim=recurrent_sim.cli:main"]},
)
