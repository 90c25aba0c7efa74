"""Yunite: the Discord to Epic account mapping (PROTOCOLS.md section 1)."""
