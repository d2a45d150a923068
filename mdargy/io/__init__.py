"""File input and output: trajectory readers, atomic writers, run metadata."""
