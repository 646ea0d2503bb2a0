"""Booth software updates, the daemon's side: find, download, verify and stage a release."""
