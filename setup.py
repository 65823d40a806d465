"""Build the compiled core of fastdl.

Every ``fastdl/_*.pyx`` becomes an extension module ``fastdl._*``; C helpers live in
``csrc/`` and are included by the Cython sources.

Environment switches (read at build time):

``FASTDL_NO_OPENMP=1``
    build without OpenMP (serial kernels; ``fastdl.show_config()`` reports it). OpenMP is
    also left out automatically when the compiler cannot build a test program with it.
``FASTDL_DEBUG=1``
    turn Cython's bounds / wraparound / initialized checks back on and compile with ``-O0 -g``.
``FASTDL_ONLY=_pool,_conv``
    development: build only these extension modules (so that engineers working on different
    families do not compile each other's half-written sources).
``FASTDL_EXTRA_CFLAGS`` / ``FASTDL_EXTRA_LDFLAGS``
    extra flags appended verbatim (e.g. ``-fsanitize=address,undefined``).

No ``-march=native``: wheels must run on any x86-64; hot paths use runtime CPU dispatch.
"""
import glob
import os
import shutil
import subprocess
import sys
import tempfile

import numpy
from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext


def _env_flag(name):
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def _compiler_has_openmp():
    """Compile and link a tiny OpenMP program with the default C compiler."""
    cc = os.environ.get("CC", "cc").split()[0]
    if shutil.which(cc) is None:
        return False
    src = "#include <omp.h>\nint main(void){return omp_get_max_threads() > 0 ? 0 : 1;}\n"
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "t.c")
        with open(path, "w") as f:
            f.write(src)
        try:
            res = subprocess.run([cc, "-fopenmp", path, "-o", os.path.join(tmp, "t")],
                                 capture_output=True, timeout=60)
        except (OSError, subprocess.SubprocessError):
            return False
        return res.returncode == 0


DEBUG = _env_flag("FASTDL_DEBUG")
USE_OPENMP = not _env_flag("FASTDL_NO_OPENMP") and sys.platform != "win32" and _compiler_has_openmp()

compile_args = ["-O0", "-g"] if DEBUG else ["-O3"]
compile_args += ["-std=c99", "-fno-strict-aliasing", "-fno-math-errno"]
link_args = []
if USE_OPENMP:
    compile_args.append("-fopenmp")
    link_args.append("-fopenmp")
compile_args += os.environ.get("FASTDL_EXTRA_CFLAGS", "").split()
link_args += os.environ.get("FASTDL_EXTRA_LDFLAGS", "").split()

directives = {
    "language_level": 3,
    "boundscheck": DEBUG,
    "wraparound": DEBUG,
    "initializedcheck": DEBUG,
    "cdivision": True,
    "embedsignature": True,
}

extensions = [
    Extension(
        "fastdl." + os.path.splitext(os.path.basename(pyx))[0],
        [pyx],
        include_dirs=[numpy.get_include(), "csrc"],
        # Rebuild when a C header changes (the kernels live in csrc/*.h).
        depends=sorted(glob.glob(os.path.join("csrc", "*.h"))),
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION"),
                       ("FASTDL_BUILD_DEBUG", "1" if DEBUG else "0")],
        extra_compile_args=compile_args,
        extra_link_args=link_args,
    )
    for pyx in sorted(glob.glob(os.path.join("fastdl", "_*.pyx")))
]
ONLY = [m.strip() for m in os.environ.get("FASTDL_ONLY", "").split(",") if m.strip()]
if ONLY:
    extensions = [e for e in extensions if e.name.split(".")[-1] in ONLY]

setup(
    ext_modules=cythonize(
        extensions,
        compiler_directives=directives,
        compile_time_env={"FASTDL_OPENMP": USE_OPENMP, "FASTDL_DEBUG": DEBUG},
        quiet=True,
    ),
)
