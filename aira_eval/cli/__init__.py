"""aira_eval.cli."""
