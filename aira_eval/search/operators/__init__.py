"""Operators: draft, improve, debug, crossover and analyze, in two families (procedural, llm)."""
