"""The build step pyproject.toml cannot say: compile the hot paths with mypyc.

Everything about the package is in pyproject.toml; this only adds extension modules.
Where mypy (a build requirement) can compile and a C compiler with Python's headers is
at hand, the modules listed in ``services/compiled.py`` are compiled with
mypyc into extension modules beside their sources, which Python then imports instead
of them. Otherwise, or with ``KITESTREAM_PURE_PYTHON=1`` at install time, the install
is pure Python: the same modules, the same outputs. The extensions are optional, so a
compiler that fails leaves a pure install too, not a failed one.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import sys
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = Path(__file__).parent
LIST = HERE / "services" / "compiled.py"


def _say(message: str) -> None:
    sys.stderr.write(f"kitestream setup: {message}\n")


def _listed() -> tuple[str, tuple[str, ...], bool, bool]:
    """(package, module names under it, pure requested, can compile) from compiled.py, read
    without importing the package (its dependencies need not be installed here)."""
    spec = importlib.util.spec_from_file_location("_kitestream_compiled", LIST)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.PACKAGE, module.COMPILED, module.pure_python_requested(), module.can_compile()


@functools.cache
def _mypyc_extensions(package: str, names: tuple[str, ...]) -> list[Extension]:
    """The extension modules of the compiled modules, or [] when mypyc cannot make them."""
    from mypyc.build import mypycify

    paths = [f"{package}.{name}".replace(".", "/") + ".py" for name in names]
    # Own mypy options, not pyproject's: the build environment has mypy but not the
    # project's dependencies, so only the compiled modules are read and whatever they
    # import from elsewhere is taken as Any (`make check` type-checks all of it), the
    # third-party libraries (orjson, msgspec, pydantic) included: they are not in the
    # build environment, and without --ignore-missing-imports a clean build fails.
    options = [
        "--config-file", os.devnull, "--follow-imports=skip", "--ignore-missing-imports",
        "--python-version=3.11",
    ]  # fmt: skip
    try:
        extensions: list[Extension] = mypycify(
            [*options, *paths],
            opt_level="3",
            debug_level="0",
            group_name=f"{package}.core",  # its library: {package}.core__mypyc
            target_dir="build/mypyc",
        )
    except (Exception, SystemExit) as exc:  # a mypyc that cannot compile: build pure
        _say(f"mypyc failed ({exc!r}): pure-Python install")
        return []
    for extension in extensions:
        extension.optional = True  # a failing C compiler leaves the pure modules
    _say(f"compiled {', '.join(names)} of {package} with mypyc")
    return extensions


class build_mypyc(build_ext):  # named as setuptools' commands are
    """``build_ext`` that asks mypyc for the extensions when the build is set up, so
    that only a build (not every metadata query pip makes) pays for the compilation."""

    def finalize_options(self) -> None:
        if self.distribution.ext_modules:  # the placeholder: compiling is worth trying
            package, names, _, _ = _listed()
            self.distribution.ext_modules = _mypyc_extensions(package, names)
        super().finalize_options()


def ext_modules() -> list[Extension]:
    """A placeholder that marks the distribution as having extension modules (its
    wheel is then platform-specific) when compiling is worth trying; ``build_mypyc``
    replaces it with the real ones."""
    package, _, pure, can_compile = _listed()
    if pure:
        _say("KITESTREAM_PURE_PYTHON is set: pure-Python install")
        return []
    if not can_compile:
        _say("no mypyc, C compiler or Python headers: pure-Python install")
        return []
    return [Extension(f"{package}.core__mypyc", sources=[], optional=True)]


setup(ext_modules=ext_modules(), cmdclass={"build_ext": build_mypyc})
