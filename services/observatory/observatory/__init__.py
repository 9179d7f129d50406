"""The observatory: statistics across the region from the other services ' events."""
