"""The central server: serves the signed repository, takes admins' uploads, re-signs online roles.

It never imports booth hardware code.
"""
