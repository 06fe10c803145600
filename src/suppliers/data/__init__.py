"""Sample data: the deterministic generator, the CSV importer of the old demo, the demo users."""
