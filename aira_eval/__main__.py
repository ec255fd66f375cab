"""``python -m aira_eval`` runs the CLI."""

from aira_eval.cli.main import main

if __name__ == "__main__":
    main()
