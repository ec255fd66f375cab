"""aira_eval.selection."""
