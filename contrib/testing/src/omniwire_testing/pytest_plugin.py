"""pytest plugin entry (import-light)."""
