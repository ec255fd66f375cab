"""Study configuration: what `aira-eval search` runs (tasks × policies × seeds) and how.

The same keys work on the command line and in a YAML file (``--config study.yaml``); the
command line wins where both say something.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from aira_eval.errors import UsageError, check_field_types, unknown_name
from aira_eval.search.operators.base import MEMORY_SCOPES
from aira_eval.search.sandbox import SANDBOX_NAMES

FITNESS_SIGNALS = ("val", "search", "test")
EXECUTORS = ("local", "ray")


def parse_seeds(spec: str | int | list[int]) -> list[int]:
    """``"0-4"`` -> [0, 1, 2, 3, 4]; ``"1,3,5"`` -> [1, 3, 5]; ``7`` -> [7]."""
    if isinstance(spec, int):
        return [spec]
    if isinstance(spec, list):
        if not all(isinstance(s, int) and not isinstance(s, bool) for s in spec):
            raise UsageError(f"seeds must be integers, got {spec!r}",
                             hint="Write seeds: [0, 1, 2] or seeds: 0-2.")
        return [int(s) for s in spec]
    seeds: list[int] = []
    for part in str(spec).split(","):
        part = part.strip()
        m = re.fullmatch(r"(\d+)\s*-\s*(\d+)", part)
        if m:
            lo, hi = int(m.group(1)), int(m.group(2))
            if hi < lo:
                raise UsageError(
                    f"seed range {part!r} runs backwards", hint="Write it as LOW-HIGH."
                )
            seeds.extend(range(lo, hi + 1))
        elif part.isdigit():
            seeds.append(int(part))
        else:
            raise UsageError(
                f"cannot read seeds {spec!r}", hint="Use a range like 0-4 or a list like 0,2,5."
            )
    if not seeds:
        raise UsageError("no seeds given", hint="Use --seeds 0-4.")
    return sorted(set(seeds))


@dataclass
class StudyConfig:
    """Everything that defines a study; recorded verbatim in ``study.json``.

    Attributes:
        tasks: task ids (``builtin:breast-cancer``, ``mlebench:spaceship-titanic``, a YAML path).
        policies: policy names (``greedy``, ``greedy-mlebench``, ``mcts``, ``evolutionary``,
            ``random``).
        policy_params: per-policy parameter overrides, ``{"mcts": {"uct_c": 0.5}}``.
        operators: operator family (``procedural``; ``aide``/``aira`` with the LLM issue).
        seeds: one search per (task, policy, seed); the seed drives every random choice.
        steps: nodes per search.
        time_budget_s: wall-clock budget per search (None: unlimited).
        node_timeout_s: per-node time limit; memory_mb: per-node memory limit.
        disk_mb: disk a node's working dir may use (killed beyond it; None: unbounded);
            max_submission_mb: a larger submission is invalid, never read by the harness.
        workers: nodes run at once across the study (shared slots; several searches run
            concurrently), and the largest batch a policy is offered. Results depend on it:
            resume with the same value to reproduce a run.
        fitness: steering signal: ``val`` (the script's own), ``search`` (hidden holdout) or
            ``test`` (an oracle run, marked as such everywhere).
        heldouts: build ``search``/``select`` sets (None: the task source's default).
        sandbox: ``local`` or ``docker``; docker_image: the image for ``docker``.
        sandbox_prefork: local sandbox only: fork each script from a pre-imported
            interpreter (numpy, pandas, scikit-learn) kept in the same jail (see
            ``docs/scale.md``); opt-in.
        mlflow: record to MLflow; mlflow_uri: tracking URI (default: STUDY/mlflow.db).
        memory_scope: operator memory (``none``/``simple``/``sibling``/``ancestral``); the
            LLM sets choose their own scopes (see ``docs/llm.md``).
        model, model_for: the LLM (any litellm model string) of the ``aide``/``aira``
            operators, with per-operator overrides ``{"debug": "gpt-4o-mini"}``.
        api_base: an OpenAI-compatible server (vLLM, Ollama, a proxy).
        api_key_env: the NAME of the environment variable holding the API key (never the
            key); unset: the provider's usual variable.
        temperature, top_p: sampling (None: the provider's default).
        request_timeout_s, max_retries, max_concurrent_calls: per-request timeout, retries
            with backoff on rate limits/timeouts/server errors, requests in flight at once.
        llm_cache: directory of recorded LLM responses; replay: serve from it alone.
        max_cost_usd: LLM spend limit of each search; when spent, the search stops ("cost").
        description: ``original`` or ``obfuscated`` (MLE-bench's ``description_obfuscated.md``,
            its contamination ablation) — what agents are given as the task description.
        executor: where nodes run: ``local`` (threads of this process) or ``ray`` (tasks on
            a Ray cluster; see ``docs/scale.md``). ray_address: ``auto``, ``HOST:PORT`` or
            None (start Ray on this machine). cpus_per_node: CPUs each node task requests;
            ray_resources: custom Ray resources each node task requests
            (``{"sandbox": 1}``). None of them changes results: all may change on resume.
    """

    tasks: list[str] = field(default_factory=lambda: ["builtin:breast-cancer"])
    policies: list[str] = field(default_factory=lambda: ["greedy"])
    policy_params: dict[str, dict[str, Any]] = field(default_factory=dict)
    operators: str = "procedural"
    operator_params: dict[str, Any] = field(default_factory=dict)
    seeds: list[int] = field(default_factory=lambda: [0])
    steps: int = 20
    time_budget_s: float | None = None
    node_timeout_s: float = 300.0
    memory_mb: int | None = 4096
    disk_mb: int | None = 8192
    max_submission_mb: int = 512
    workers: int = 1
    fitness: str = "val"
    heldouts: bool | None = None
    sandbox: str = "local"
    docker_image: str = "aira-eval-sandbox"
    sandbox_prefork: bool = False
    data_dir: str | None = None
    mlflow: bool = True
    mlflow_uri: str | None = None
    memory_scope: str = "simple"
    model: str | None = None
    model_for: dict[str, str] = field(default_factory=dict)
    api_base: str | None = None
    api_key_env: str | None = None
    temperature: float | None = None
    top_p: float | None = None
    request_timeout_s: float = 600.0
    max_retries: int = 5
    max_concurrent_calls: int = 4
    llm_cache: str | None = None
    replay: bool = False
    max_cost_usd: float | None = None
    description: str = "original"
    executor: str = "local"
    ray_address: str | None = None
    cpus_per_node: float = 1.0
    ray_resources: dict[str, float] = field(default_factory=dict)

    def validate(self) -> StudyConfig:
        check_types(self)
        if not self.tasks:
            raise UsageError("no task given", hint="Pass --task builtin:breast-cancer (or more).")
        if not self.policies:
            raise UsageError("no policy given", hint="Pass --policy greedy (or more).")
        if self.steps < 1:
            raise UsageError(f"{label('steps')} must be at least 1, got {self.steps}",
                             hint="Give each search at least one node, e.g. --steps 20.")
        if self.workers < 1:
            raise UsageError(f"{label('workers')} must be at least 1, got {self.workers}",
                             hint="Run at least one node at a time, e.g. --workers 1.")
        if self.node_timeout_s <= 0:
            raise UsageError(f"{label('node_timeout_s')} must be positive, got "
                             f"{self.node_timeout_s}",
                             hint="Give it in seconds, e.g. --node-timeout 300.")
        if self.memory_mb is not None and self.memory_mb < 64:
            raise UsageError(f"{label('memory_mb')} must be at least 64 (or null), got "
                             f"{self.memory_mb}",
                             hint="Give a node at least 64 MB, e.g. --memory-mb 4096.")
        if self.disk_mb is not None and self.disk_mb < 16:
            raise UsageError(f"disk_mb must be at least 16 (or null), got {self.disk_mb}")
        if self.max_submission_mb < 1:
            raise UsageError(f"max_submission_mb must be at least 1, got "
                             f"{self.max_submission_mb}")
        if self.fitness not in FITNESS_SIGNALS:
            raise unknown_name("fitness signal", self.fitness, FITNESS_SIGNALS)
        if self.sandbox not in SANDBOX_NAMES:
            raise unknown_name("sandbox", self.sandbox, SANDBOX_NAMES)
        if self.sandbox_prefork and self.sandbox != "local":
            raise UsageError(f"{label('sandbox_prefork')} needs the local sandbox",
                             hint="Drop --prefork, or use --sandbox local.")
        if self.executor not in EXECUTORS:
            raise unknown_name("executor", self.executor, EXECUTORS)
        if not self.cpus_per_node > 0:
            raise UsageError(f"{label('cpus_per_node')} must be positive, got "
                             f"{self.cpus_per_node}")
        if self.memory_scope not in MEMORY_SCOPES:
            raise unknown_name("memory scope", self.memory_scope, MEMORY_SCOPES)
        if self.description not in ("original", "obfuscated"):
            raise unknown_name(label("description"), self.description, ("original", "obfuscated"))
        if self.operators in ("aide", "aira"):
            self._validate_llm()
        return self

    def _validate_llm(self) -> None:
        from aira_eval.search.operators.llm.settings import check_llm_options

        check_llm_options(
            model=self.model or self.operator_params.get("model"), model_for=self.model_for,
            api_key_env=self.api_key_env,
            temperature=self.temperature, top_p=self.top_p,
            request_timeout_s=self.request_timeout_s, max_retries=self.max_retries,
            max_concurrent_calls=self.max_concurrent_calls, max_cost_usd=self.max_cost_usd,
            cache_dir=self.llm_cache, replay=self.replay,
        )

    @property
    def oracle_run(self) -> bool:
        return self.fitness == "test"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> StudyConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(raw) - known)
        if unknown:
            raise UsageError(f"unknown config key(s): {', '.join(unknown)}",
                             hint=_unknown_keys_hint(unknown, known))
        data = dict(raw)
        if "seeds" in data:
            data["seeds"] = parse_seeds(data["seeds"])
        for key in ("tasks", "policies"):
            if isinstance(data.get(key), str):
                data[key] = [data[key]]
        return cls(**data)

    @classmethod
    def from_yaml(cls, path: Path) -> StudyConfig:
        if not path.exists():
            raise UsageError(f"config file {path} does not exist")
        try:
            raw = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as err:
            raise UsageError(f"{path} is not valid YAML: {err}") from err
        if not isinstance(raw, dict):
            raise UsageError(f"{path} must hold a mapping of config keys")
        return cls.from_dict(raw)


OPERATOR_PARAM_KEYS = ("bug_rate", "debug_fail_rate", "n_folds", "sample_rows", "budget_share",
                       "draft_tries")


def _unknown_keys_hint(unknown: list[str], known: set[str]) -> str:
    """Operator parameters go under ``operator_params``; else the list of known keys."""
    misplaced = [k for k in unknown if k in OPERATOR_PARAM_KEYS]
    if misplaced:
        return (f"{', '.join(misplaced)} is an operator parameter: put it under "
                f"operator_params, e.g. operator_params: {{{misplaced[0]}: ...}}.")
    return f"Known keys: {', '.join(sorted(known))}."


#: Fields named by an ``aira-eval search`` flag of another name: messages name both.
FLAGS = {"node_timeout_s": "--node-timeout", "memory_mb": "--memory-mb",
         "time_budget_s": "--time-budget", "cpus_per_node": "--cpus-per-node",
         "policies": "--policy", "tasks": "--task", "mlflow_uri": "--tracking-uri",
         "request_timeout_s": "--request-timeout", "max_cost_usd": "--max-cost",
         "sandbox_prefork": "--prefork", "top_p": "--top-p", "api_base": "--api-base",
         "api_key_env": "--api-key-env", "llm_cache": "--llm-cache", "ray_address":
         "--ray-address", "model_for": "--model-for"}
_SAME_FLAG = ("seeds", "steps", "workers", "operators", "fitness", "sandbox", "data_dir",
              "model", "temperature", "replay", "description", "executor", "mlflow",
              "heldouts")


def label(key: str) -> str:
    """``steps (--steps)``, ``node_timeout_s (--node-timeout)``: the field (the Python keyword
    and YAML key) and its CLI flag, where it has one."""
    flag = FLAGS.get(key) or (f"--{key.replace('_', '-')}" if key in _SAME_FLAG else None)
    return f"{key} ({flag})" if flag else key


def check_types(config: StudyConfig) -> None:
    """Every field of ``config`` has its declared type (a YAML ``steps: two`` or
    ``workers: "2"``), else a usage error naming the key, the type and the value
    (:func:`aira_eval.errors.check_field_types`)."""
    check_field_types(
        config, {k: label(k) for k in FLAGS.keys() | set(_SAME_FLAG)},
        hint=lambda key: f"Fix {key} in the StudyConfig, the --config YAML or the option "
        "that sets it (in YAML, quotes make a value a string).")
