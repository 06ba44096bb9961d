"""setuptools cannot take ``cffi_modules`` from pyproject.toml; this is its only job."""

from setuptools import setup

setup(cffi_modules=["build_ext.py:ffibuilder"])
