"""The performance benchmark (`make bench`): run.py drives it, seed.py and docs.py make its data."""
