"""Search policies: greedy (AIDE), MCTS and evolutionary (AIRA-dojo), random."""
