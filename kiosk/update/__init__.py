"""Booth software updates: staging (the daemon) and applying (the root helper)."""
