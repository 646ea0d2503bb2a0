"""Content sync: signed clip sets from the hub into the booth's atomic set store."""
