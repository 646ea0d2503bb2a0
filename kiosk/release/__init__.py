"""Booth software releases: signed targets in the content repository (docs/updates.md)."""
