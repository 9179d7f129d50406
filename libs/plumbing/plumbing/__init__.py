"""Plumbing shared by the four services. Nothing here knows about markets, hours or people."""
