"""Build fastinit: a pure-C99 core (src_c/) wrapped by one Cython module.

Build-time switches (environment variables):
  FASTINIT_NO_OPENMP=1   build without OpenMP (fills run serially; show_config() says so)
  FASTINIT_NO_SIMD=1     build only the portable kernels (no AVX2 / AVX-512 units)

The default build uses no -march, -mavx2 or -ffast-math: only the translation units
src_c/kernels_avx2.c and src_c/kernels_avx512.c get target flags, and the core chooses
among them at run time from CPUID.  Every unit is compiled with -ffp-contract=off so the
compiler never fuses a*b+c on its own: all fused multiply-adds are explicit fma() calls,
which is what makes every path give the same bits.
"""
import os
import platform
import sys
import tempfile
import textwrap

import numpy
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = "src_c"

CORE_SOURCES = [f"{SRC}/{name}.c" for name in
                ("fill", "plan", "region", "dispatch", "dtype", "special", "kernels_generic")]
SIMD_UNITS = {
    # file: (flags, macro defined when the unit is linked in)
    f"{SRC}/kernels_avx2.c": (["-mavx2", "-mfma", "-mf16c"], "FI_HAVE_AVX2"),
    f"{SRC}/kernels_avx512.c": (
        ["-mavx512f", "-mavx512dq", "-mavx512bw", "-mavx512vl", "-mfma", "-mf16c"],
        "FI_HAVE_AVX512",
    ),
}
SIMD_SCHED_FLAGS = ["-fschedule-insns", "-fsched-pressure"]
COMMON_FLAGS = ["-std=c99", "-O3", "-ffp-contract=off", "-fno-math-errno",
                "-fno-trapping-math", "-Wall", "-Wno-unknown-pragmas"]


def _is_x86():
    m = platform.machine().lower()
    return m in ("x86_64", "amd64", "i686", "i386", "x86")


def _env_flag(name):
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def _try_compile(compiler, code, extra_args, link_args=()):
    """True when `code` compiles and links with the given flags."""
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "probe.c")
        with open(src, "w") as f:
            f.write(code)
        try:
            objs = compiler.compile([src], output_dir=tmp, extra_postargs=list(extra_args))
            compiler.link_executable(objs, os.path.join(tmp, "probe"),
                                     extra_postargs=list(link_args))
        except Exception:
            return False
    return True


OPENMP_PROBE = textwrap.dedent("""
    #include <omp.h>
    int main(void) {
        int n = 0;
        #pragma omp parallel reduction(+:n)
        n += 1;
        return n > 0 ? 0 : 1;
    }
""")


class BuildExt(build_ext):
    def build_extension(self, ext):
        cc = self.compiler
        macros = []
        compile_args = list(COMMON_FLAGS)
        link_args = []

        if _env_flag("FASTINIT_NO_OPENMP"):
            print("fastinit: OpenMP disabled by FASTINIT_NO_OPENMP")
        elif _try_compile(cc, OPENMP_PROBE, ["-fopenmp"], ["-fopenmp"]):
            compile_args.append("-fopenmp")
            link_args.append("-fopenmp")
            macros.append(("FI_HAVE_OPENMP", "1"))
        else:
            print("fastinit: WARNING: the compiler does not support OpenMP; "
                  "building serial fills", file=sys.stderr)

        objects = []
        if _is_x86() and not _env_flag("FASTINIT_NO_SIMD"):
            tmp_dir = os.path.join(self.build_temp, "simd")
            # The SIMD kernels interleave independent batches in one basic block; GCC's
            # pre-register-allocation scheduler (off by default on x86) is what turns that
            # into overlapping dependency chains (about 1.3x).  Scheduling reorders
            # instructions, never changes them, so results are the same without it.
            sched = SIMD_SCHED_FLAGS if _try_compile(
                cc, "int main(void){return 0;}\n", SIMD_SCHED_FLAGS + ["-Werror"]) else []
            for src, (flags, macro) in SIMD_UNITS.items():
                if not _try_compile(cc, "int main(void){return 0;}\n", flags):
                    print(f"fastinit: compiler lacks {flags}; skipping {src}", file=sys.stderr)
                    continue
                # a fresh object every build: setuptools does not track header changes
                for old in cc.object_filenames([src], output_dir=tmp_dir):
                    if os.path.exists(old):
                        os.remove(old)
                objects += cc.compile([src], output_dir=tmp_dir, include_dirs=[SRC],
                                      extra_postargs=COMMON_FLAGS + flags + sched + ["-fPIC"])
                macros.append((macro, "1"))

        ext.define_macros = list(ext.define_macros or []) + macros
        ext.extra_compile_args = list(ext.extra_compile_args or []) + compile_args
        ext.extra_link_args = list(ext.extra_link_args or []) + link_args
        ext.extra_objects = list(ext.extra_objects or []) + objects
        super().build_extension(ext)


def extensions():
    from Cython.Build import cythonize

    core = Extension(
        "fastinit._core",
        sources=["fastinit/_core.pyx"] + CORE_SOURCES,
        include_dirs=[SRC, numpy.get_include()],
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_2_0_API_VERSION")],
    )
    return cythonize([core], language_level=3,
                     compiler_directives={"boundscheck": False, "wraparound": False,
                                          "cdivision": True, "embedsignature": True})


setup(ext_modules=extensions(), cmdclass={"build_ext": BuildExt})
