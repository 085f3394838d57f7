"""Studies: one YAML file that names the corpus, the coverage conditions and the evaluation sets."""
