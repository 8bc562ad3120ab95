"""Only for the optional C speedups; everything else is in pyproject.toml.

``optional=True``: without a C compiler or Python's headers the build goes on and graphmetrics runs
in pure Python (see graphmetrics/_native.py).
"""

from setuptools import Extension, setup

setup(ext_modules=[Extension("graphmetrics._speedups", ["src/graphmetrics/_speedups.c"], optional=True)])
