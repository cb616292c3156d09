"""profile pages of the advocate portal (M2)."""
