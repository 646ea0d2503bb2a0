"""The signed content repository's formats, shared by the admin's tools and the booth."""
