"""The customer phone booth: lift the handset, hear a customer."""

__version__ = "0.1.0"
