"""Frozen training text of the content compressor, one file per dictionary version.

A file here never changes once a version has shipped: boxes in the field decode with it. A new or edited
text is a new version (`nl_v2.txt`, ...) next to the old one (docs/content-encoding.md).
"""
