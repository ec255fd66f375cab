"""aira_eval.analysis."""
