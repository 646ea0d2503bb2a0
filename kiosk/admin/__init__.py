"""The admin side: keys, publishing clip sets into the signed repository."""
