"""The report's figures: one matplotlib style (:mod:`.style`), one module per figure kind."""
