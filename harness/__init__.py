"""Development helpers shared by tests/ and bench/ (not part of the installed package)."""
