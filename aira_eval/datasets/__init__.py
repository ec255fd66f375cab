"""aira_eval.datasets."""
