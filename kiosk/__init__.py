"""The customer phone booth: lift the handset, hear a customer."""

from importlib.metadata import PackageNotFoundError, version

try:
    # The installed distribution's: what the heartbeat reports and releases compare against.
    __version__ = version("kiosk")
except PackageNotFoundError:  # a checkout that was never installed
    __version__ = "0+unknown"
