"""Verified imports: run Python code straight from a sealed archive.

``install(archive)`` puts a meta-path finder in front of ``sys.meta_path``
that resolves ``import a.b`` to ``a/b.py`` or ``a/b/__init__.py`` inside the
archive (optionally below a ``root`` folder, like one ``sys.path`` entry).
Every module's bytes are read through :class:`coldseal.reader.Archive`, so
they are verified against the signed Merkle root before ``exec``; nothing is
extracted to disk. Modules get ``__file__`` and ``__spec__.origin`` of the
form ``coldseal://NAME/PATH``, tracebacks show source lines, and
``importlib.resources`` reads package data from the archive. Only pure
Python modules can load this way: extension modules (``.so``) need a real
file and are left to the normal finders.

A Lambda handler, for instance::

    import coldseal, coldseal.importer
    ARCHIVE = coldseal.open("s3://bucket/apps/app", trust=[PUB], kek=KEK, name="app")
    coldseal.importer.install(ARCHIVE)
    from handler import handler   # verified, imported from the archive
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import io
import os
import sys
from importlib.machinery import ModuleSpec
from importlib.resources.abc import Traversable, TraversableResources
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence
    from types import ModuleType

    from coldseal.reader import Archive


def _join(*parts: str) -> str:
    return "/".join(p.strip("/") for p in parts if p.strip("/"))


class ArchiveTraversable(Traversable):
    """A path inside the archive, for ``importlib.resources``."""

    def __init__(self, archive: Archive, path: str) -> None:
        """``path`` inside ``archive``."""
        self._archive = archive
        self._path = path.strip("/")

    @property
    def name(self) -> str:
        """The last path component."""
        return self._path.rpartition("/")[2]

    def iterdir(self) -> Iterator[ArchiveTraversable]:
        """Children of this folder."""
        for child in self._archive.iterdir(self._path):
            yield ArchiveTraversable(self._archive, child)

    def is_dir(self) -> bool:
        """Whether this is a folder of the archive."""
        return self._archive.is_dir(self._path)

    def is_file(self) -> bool:
        """Whether this is a file of the archive."""
        return self._archive.is_file(self._path)

    def joinpath(self, *descendants: str | os.PathLike[str]) -> ArchiveTraversable:
        """A path below this one."""
        parts = [os.fspath(d) for d in descendants]
        return ArchiveTraversable(self._archive, _join(self._path, *parts))

    def __truediv__(self, child: str | os.PathLike[str]) -> ArchiveTraversable:
        """``self / child``."""
        return self.joinpath(child)

    def read_bytes(self) -> bytes:
        """The verified bytes."""
        return self._archive.read(self._path)

    def read_text(self, encoding: str | None = None) -> str:
        """The verified bytes, decoded."""
        return self.read_bytes().decode(encoding or "utf-8")

    def open(self, mode: str = "r", *args: Any, **kwargs: Any) -> Any:  # noqa: ANN401
        """A read-only file object (text unless ``mode`` has ``b``)."""
        if "w" in mode or "a" in mode or "+" in mode:
            raise PermissionError("sealed archives are read-only")
        raw = self._archive.open(self._path)
        return raw if "b" in mode else io.TextIOWrapper(raw, *args, **kwargs)


class _Resources(TraversableResources):
    """The resource reader of one package in the archive."""

    def __init__(self, archive: Archive, folder: str) -> None:
        self._archive = archive
        self._folder = folder

    def files(self) -> ArchiveTraversable:
        """The package's folder."""
        return ArchiveTraversable(self._archive, self._folder)


class ArchiveLoader(importlib.abc.InspectLoader):
    """Loads one module's verified source from the archive."""

    def __init__(self, archive: Archive, path: str, *, package: bool) -> None:
        """``path`` is the module's file inside the archive."""
        self.archive = archive
        self.path = path
        self.package = package

    def create_module(self, spec: ModuleSpec) -> ModuleType | None:
        """Default module creation."""
        return None

    def exec_module(self, module: ModuleType) -> None:
        """Verify, compile and run the module's source."""
        code = self.get_code(module.__name__)
        exec(code, module.__dict__)  # noqa: S102 - running verified code is the point

    def get_code(self, fullname: str) -> Any:  # noqa: ANN401 - a code object
        """The module compiled from its verified source."""
        source = self.archive.read(self.path)
        return compile(
            source, f"coldseal://{self.archive.name}/{self.path}", "exec", dont_inherit=True
        )

    def get_source(self, fullname: str) -> str:
        """The verified source (used by tracebacks)."""
        return importlib.util.decode_source(self.archive.read(self.path))

    def is_package(self, fullname: str) -> bool:
        """Whether the module is a package."""
        return self.package

    def get_resource_reader(self, fullname: str) -> _Resources | None:
        """Package data from the archive, for ``importlib.resources``."""
        if not self.package:
            return None
        return _Resources(self.archive, self.path.rpartition("/")[0])


class ArchiveFinder(importlib.abc.MetaPathFinder):
    """Finds modules and packages inside one archive."""

    def __init__(self, archive: Archive, root: str = "") -> None:
        """Serve modules found below ``root`` in ``archive``."""
        self.archive = archive
        self.root = root.strip("/")

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None = None,
        target: ModuleType | None = None,
    ) -> ModuleSpec | None:
        """A spec for ``fullname`` if the archive has it, else None (normal lookup goes on)."""
        base = _join(self.root, fullname.replace(".", "/"))
        uri = f"coldseal://{self.archive.name}"
        init = f"{base}/__init__.py"
        if self.archive.is_file(init):
            loader = ArchiveLoader(self.archive, init, package=True)
            spec = ModuleSpec(fullname, loader, origin=f"{uri}/{init}", is_package=True)
            spec.submodule_search_locations = [f"{uri}/{base}"]
        elif self.archive.is_file(f"{base}.py"):
            loader = ArchiveLoader(self.archive, f"{base}.py", package=False)
            spec = ModuleSpec(fullname, loader, origin=f"{uri}/{base}.py", is_package=False)
        else:
            return None
        spec.has_location = True
        return spec


def install(archive: Archive, root: str = "") -> ArchiveFinder:
    """Import from ``archive`` (below ``root``) before anything else; returns the finder."""
    finder = ArchiveFinder(archive, root)
    sys.meta_path.insert(0, finder)
    return finder


def uninstall(finder: ArchiveFinder) -> None:
    """Stop importing from the finder's archive (modules already imported stay)."""
    if finder in sys.meta_path:
        sys.meta_path.remove(finder)
