"""The file index codec and the path rules it enforces."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from coldseal.errors import IntegrityError, UsageError
from coldseal.format import index as ix
from coldseal.format.paths import DIR, FILE, SYMLINK, check_tree, path_problem

components = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="/\\"),
    min_size=1,
    max_size=12,
).filter(lambda c: c not in (".", ".."))


@st.composite
def trees(draw: st.DrawFn) -> list[ix.Entry]:
    paths = draw(
        st.lists(
            st.lists(components, min_size=1, max_size=4).map("/".join), max_size=25, unique=True
        )
    )
    # A path that is a prefix folder of another must be a folder.
    parents = {"/".join(p.split("/")[:i]) for p in paths for i in range(1, p.count("/") + 1)}
    entries = []
    for path in paths:
        if path in parents:
            entries.append(ix.Entry(path, DIR, draw(st.integers(0, 0o777))))
        else:
            entries.append(
                ix.Entry(path, FILE, draw(st.integers(0, 0o777)), size=draw(st.integers(0, 5000)))
            )
    return entries


@given(trees())
def test_round_trip(entries: list[ix.Entry]) -> None:
    laid = ix.layout(entries)
    content = sum(e.size for e in laid if e.kind == FILE)
    assert ix.decode(ix.encode(laid), content) == laid


@given(trees(), st.data())
def test_corrupted_index_fails_cleanly(entries: list[ix.Entry], data: st.DataObject) -> None:
    laid = ix.layout(entries)
    raw = bytearray(ix.encode(laid))
    content = sum(e.size for e in laid if e.kind == FILE)
    pos = data.draw(st.integers(0, len(raw) - 1))
    raw[pos] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(raw)))
    try:
        ix.decode(bytes(raw[:cut]), content)
    except IntegrityError:
        pass


@given(st.binary(max_size=500), st.integers(0, 1000))
def test_fuzzed_bytes_fail_cleanly(raw: bytes, content: int) -> None:
    try:
        ix.decode(raw, content)
    except IntegrityError:
        pass


@pytest.mark.parametrize(
    "path",
    [
        "/etc/passwd",
        "../x",
        "a/../../x",
        "a//b",
        "a/./b",
        "a/",
        "",
        "a\\b",
        "a\x00b",
        "a\nb",
        "x" * 256,
        "/".join(["d"] * 300),
    ],
)
def test_unsafe_paths(path: str) -> None:
    assert path_problem(path) is not None


@pytest.mark.parametrize("path", ["a", "a/b/c.py", "ünïcödé/файл.txt", "x" * 255, "a b/c d"])
def test_safe_paths(path: str) -> None:
    assert path_problem(path) is None


@pytest.mark.parametrize(
    ("links", "ok"),
    [
        ({"l": "target"}, True),
        ({"d/l": "../target"}, True),
        ({"l": "../outside"}, False),
        ({"l": "/etc/passwd"}, False),
        ({"d/l": "../../x"}, False),
        # q points at the root itself, so q/.. is the root's parent.
        ({"q": ".", "p": "q/.."}, False),
        ({"q": "d", "p": "q/.."}, True),
        ({"a": "b", "b": "a"}, False),  # a loop never resolves
    ],
)
def test_symlink_targets(links: dict[str, str], ok: bool) -> None:
    entries = [("d", DIR, None), ("target", FILE, None)]
    entries += [(p, SYMLINK, t) for p, t in links.items()]
    if ok:
        check_tree(entries, sealing=True)
    else:
        with pytest.raises(UsageError):
            check_tree(entries, sealing=True)


def test_entries_below_a_file_are_refused() -> None:
    with pytest.raises(UsageError, match="not a folder"):
        check_tree([("a", FILE, None), ("a/b", FILE, None)], sealing=True)


def test_entries_below_a_symlink_are_refused() -> None:
    with pytest.raises(IntegrityError, match="not a folder"):
        check_tree([("l", SYMLINK, "d"), ("d", DIR, None), ("l/x", FILE, None)], sealing=False)
