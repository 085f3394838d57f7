"""Corpus: sources -> candidate items -> validated clips -> manifest, splits, coverage conditions."""
