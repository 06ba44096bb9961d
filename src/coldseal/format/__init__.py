"""The sealed archive format: canonical encodings and strict, bounded parsers.

Byte-level tables are in ``docs/FORMAT.md``. Every parser here bounds each
length before using it and rejects unknown versions, suites and fields.
"""
