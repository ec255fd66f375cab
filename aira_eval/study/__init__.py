"""The on-disk study: manifest, node records, journal, node table, and :func:`load_study`.

Data flows one way: tasks (``aira_eval.datasets``) and searches (``aira_eval.search``) write
into a study; selection, checks, importers and analysis read it through :func:`load_study`.
"""

from aira_eval.study.journal import JournalFile
from aira_eval.study.load import Source, Study, load_study
from aira_eval.study.manifest import StudyManifest, TaskInfo, mlflow_experiment
from aira_eval.study.node import Node, Usage
from aira_eval.study.records import SearchMeta, node_record, rebuild_node_table
from aira_eval.study.searches import agent_labels, search_table
from aira_eval.study.status import STATUSES, final_status
from aira_eval.study.table import HELDOUT_SETS, NODE_SCHEMA, SCHEMA_VERSION, read_nodes, write_nodes

__all__ = [
    "HELDOUT_SETS",
    "NODE_SCHEMA",
    "SCHEMA_VERSION",
    "STATUSES",
    "JournalFile",
    "Node",
    "SearchMeta",
    "Source",
    "Study",
    "StudyManifest",
    "TaskInfo",
    "Usage",
    "agent_labels",
    "final_status",
    "load_study",
    "mlflow_experiment",
    "node_record",
    "read_nodes",
    "rebuild_node_table",
    "search_table",
    "write_nodes",
]
