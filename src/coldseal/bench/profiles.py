"""Profiles: how much of the scaling curves and baselines a ``coldseal bench`` run does.

``short`` finishes in under two minutes on two cores (corpora cached); ``full``
takes the issue's ranges to the end (archives up to 1 GiB, the real
site-packages tree, every chunk size and compression level); ``tiny`` exists
for the tests and for a quick look (a few seconds). Budgets are measured on
top of the profile, at the sizes they name.
"""

from __future__ import annotations

from dataclasses import dataclass

KIB = 1 << 10
MIB = 1 << 20


@dataclass(frozen=True)
class Profile:
    """The sizes and repetitions of one run."""

    name: str
    rounds: int  # each timed figure is the best of this many rounds (after one warm-up)
    limit_mib: int  # bytes for the one-thread AES-GCM and BLAKE3 rates
    baseline_mib: int  # the random archive the verify baselines and the threads curve use
    code_corpus: str  # "code" (generated) or "site-packages" (real)
    code_mib: int  # size of the generated code tree when code_corpus is "code"
    sizes_mib: tuple[int, ...]  # archive-size curve
    chunk_sizes: tuple[int, ...]  # chunk-size curve (bytes)
    chunk_mib: int  # archive for the chunk-size curve
    levels: tuple[int, ...]  # compression-level curve, on the code corpus
    level_mib: int  # code tree for the level curve
    import_rounds: int  # fresh interpreters for the import figure


PROFILES: dict[str, Profile] = {
    "tiny": Profile(
        name="tiny",
        rounds=1,
        limit_mib=4,
        baseline_mib=4,
        code_corpus="code",
        code_mib=1,
        sizes_mib=(1, 4),
        chunk_sizes=(64 * KIB, MIB),
        chunk_mib=2,
        levels=(1, 3),
        level_mib=1,
        import_rounds=2,
    ),
    "short": Profile(
        name="short",
        rounds=3,
        limit_mib=64,
        baseline_mib=64,
        code_corpus="code",
        code_mib=8,
        # 250 MiB, not 256: the same archive the shipped budgets verify, sealed and published once.
        sizes_mib=(1, 4, 16, 64, 250),
        chunk_sizes=(64 * KIB, 256 * KIB, MIB, 4 * MIB, 8 * MIB),
        chunk_mib=32,
        levels=(1, 3, 9),
        level_mib=8,
        import_rounds=7,
    ),
    "full": Profile(
        name="full",
        rounds=5,
        limit_mib=256,
        baseline_mib=256,
        code_corpus="site-packages",
        code_mib=0,
        sizes_mib=(1, 4, 16, 64, 256, 1024),
        chunk_sizes=(64 * KIB, 256 * KIB, MIB, 2 * MIB, 4 * MIB, 8 * MIB),
        chunk_mib=128,
        levels=(1, 3, 6, 9, 19),
        level_mib=16,
        import_rounds=15,
    ),
}
