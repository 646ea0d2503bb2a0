"""Booth software updates: the daemon finds, downloads, verifies and stages a release; the root
helper (kiosk.update.apply) verifies it again and applies it."""
