"""aira_eval.search."""
