"""Procedural operators: no LLM, real scikit-learn solution scripts from a space of pipelines.

- :mod:`.schema`: column roles inferred from the public files (cached per public dir);
- :mod:`.config`: :class:`PipelineConfig`, the JSON-serialisable record of one pipeline;
- :mod:`.space`: which knobs, families and hyperparameters apply to a task; sampling;
- :mod:`.cost`: a rough run-time estimate of a pipeline;
- :mod:`.moves` / :mod:`.repair`: improve, crossover and debug edits;
- :mod:`.render` (+ ``templates/``): the config rendered into a standalone script;
- :mod:`.operators`: :class:`ProceduralOperators`, the ``procedural`` operator family.
"""

from aira_eval.search.operators.procedural.config import FAMILIES, PipelineConfig, diff
from aira_eval.search.operators.procedural.operators import ProceduralOperators
from aira_eval.search.operators.procedural.render import render
from aira_eval.search.operators.procedural.schema import DataSchema, SchemaCache, infer_schema
from aira_eval.search.operators.procedural.space import Space

__all__ = [
    "FAMILIES",
    "DataSchema",
    "PipelineConfig",
    "ProceduralOperators",
    "SchemaCache",
    "Space",
    "diff",
    "infer_schema",
    "render",
]
