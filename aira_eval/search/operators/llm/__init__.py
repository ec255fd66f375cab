"""The ``llm`` operator family: AIDE's and AIRA's operator sets driven by any litellm model.

- :mod:`.operators`: :class:`~.operators.LLMOperators`, the operator protocol over an LLM;
- :mod:`.prompts` and ``templates/*.j2``: the prompts of each operator set;
- :mod:`.client`: every LLM call (litellm), with retries, a concurrency limit, usage and cost;
- :mod:`.cache`: the response cache behind ``--llm-cache`` and ``--replay``;
- :mod:`.parse`: code extraction from replies; :mod:`.review`: the ``analyze`` tool call;
- :mod:`.redact`: keeps API keys out of everything written to disk or logged.

litellm is imported inside the functions that call it, so importing this package is cheap.
"""
