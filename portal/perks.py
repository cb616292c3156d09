"""perks pages of the advocate portal (M2)."""
