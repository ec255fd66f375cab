"""Check 5 (optional): does the LLM know the task by heart? A memorisation probe via litellm.

Two probes per task, each one completion call at temperature 0:

- ``description``: the first half of the task description (its first ``max_chars``
  characters, cut at a word boundary) is given; the model is asked to continue it verbatim;
  the continuation is compared with the true second half;
- ``data``: the train file's header and its first ``n_rows`` rows, each cut after half of its
  characters; the model is asked to complete every row; its lines are compared with the true
  row endings. Rows are probed individually because prepared splits are shuffled, so only
  rows (not their order) can have been memorised.

Overlap is the ROUGE-L recall on word tokens — the longest common subsequence of the model's
output and the truth over the truth's length (both capped at 400 tokens) — reported beside the
character 5-gram containment (share of the truth's 5-grams the output contains).
Status per task: ``fail`` when a probe's ROUGE-L reaches ``fail_at`` (0.6), ``warn`` at
``warn_at`` (0.3), else ``pass``; the check is ``skip`` ("skipped: no model configured")
without a model and ``error`` when every call failed. These thresholds are heuristics: a
paraphrase scores ~0.1–0.3, a memorised text close to 1.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

SKIPPED = "skipped: no model configured"
_WORD = re.compile(r"\w+|[^\w\s]")
MAX_TOKENS = 400

DESCRIPTION_PROMPT = (
    "Below is the beginning of a document. Continue it exactly as it appears in its original "
    "source, word for word. Output only the continuation, nothing else.\n\n{prefix}"
)
DATA_PROMPT = (
    "Below is the header of a CSV file followed by the beginnings of some of its rows. For "
    "every row, output the rest of that row exactly as it appears in the original file, one "
    "row per line, in the same order. Output only those row endings, nothing else.\n\n{prefix}"
)


def word_tokens(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def lcs_length(a: list[str], b: list[str]) -> int:
    """Length of the longest common subsequence (O(len(a)·len(b)) dynamic programme)."""
    if not a or not b:
        return 0
    prev = [0] * (len(b) + 1)
    for x in a:
        cur = [0]
        for j, y in enumerate(b, start=1):
            cur.append(prev[j - 1] + 1 if x == y else max(prev[j], cur[j - 1]))
        prev = cur
    return prev[-1]


def rouge_l_recall(output: str, truth: str) -> float:
    """LCS of word tokens over the truth's token count (both capped at 400 tokens)."""
    ref = word_tokens(truth)[:MAX_TOKENS]
    hyp = word_tokens(output)[:MAX_TOKENS]
    return lcs_length(hyp, ref) / len(ref) if ref else 0.0


def char_ngram_containment(output: str, truth: str, n: int = 5) -> float:
    """Share of the truth's character n-grams that occur in the output."""
    def grams(text: str) -> set[str]:
        text = " ".join(text.lower().split())
        return {text[i:i + n] for i in range(len(text) - n + 1)}

    ref = grams(truth)
    return len(ref & grams(output)) / len(ref) if ref else 0.0


def split_description(text: str, max_chars: int = 3000) -> tuple[str, str]:
    """(prefix, continuation): the first ``max_chars`` characters halved at a word boundary."""
    text = text[:max_chars]
    cut = len(text) // 2
    space = text.rfind(" ", 0, cut)
    cut = space if space > cut // 2 else cut
    return text[:cut], text[cut:].lstrip()


def split_rows(csv_text: str, n_rows: int = 10) -> tuple[str, str]:
    """(prompt prefix, truth): header plus each row's first half; truth is the row endings."""
    lines = [ln for ln in csv_text.splitlines() if ln.strip()][: n_rows + 1]
    if len(lines) < 2:
        return "", ""
    heads, tails = [lines[0]], []
    for row in lines[1:]:
        cut = len(row) // 2
        heads.append(row[:cut])
        tails.append(row[cut:])
    return "\n".join(heads), "\n".join(tails)


@dataclass
class ProbeResult:
    """One probe of one task."""

    task: str
    probe: str
    rouge_l: float | None = None
    char5: float | None = None
    prefix_chars: int = 0
    output_preview: str = ""
    error: str | None = None


@dataclass
class FamiliarityResult:
    """Every probe of every task, or the reason the check did not run."""

    model: str | None
    probes: list[ProbeResult] = field(default_factory=list)
    skipped: str | None = None
    warn_at: float = 0.3
    fail_at: float = 0.6

    def status(self) -> str:
        if self.skipped:
            return "skip"
        scores = [p.rouge_l for p in self.probes if p.rouge_l is not None]
        if not scores:
            return "error" if self.probes else "skip"
        top = max(scores)
        return "fail" if top >= self.fail_at else "warn" if top >= self.warn_at else "pass"

    def to_dict(self) -> dict[str, Any]:
        return {"model": self.model, "skipped": self.skipped, "warn_at": self.warn_at,
                "fail_at": self.fail_at, "probes": [asdict(p) for p in self.probes]}


def _complete(model: str, prompt: str, llm_kwargs: dict[str, Any]) -> str:
    import litellm

    response = litellm.completion(
        model=model,
        messages=[{"role": "user", "content": prompt}],
        **{"temperature": 0.0, "max_tokens": 1024, **llm_kwargs},
    )
    content = response.choices[0].message.content
    return str(content or "")


def run_probe(
    task: str, probe: str, prompt: str, truth: str, model: str, llm_kwargs: dict[str, Any]
) -> ProbeResult:
    """One completion call scored against ``truth``; an LLM error is recorded, not raised."""
    result = ProbeResult(task=task, probe=probe, prefix_chars=len(prompt))
    try:
        output = _complete(model, prompt, llm_kwargs)
    except Exception as err:  # provider down, bad key, unknown model: a finding, not a crash
        result.error = f"{type(err).__name__}: {err}"[:500]
        return result
    result.rouge_l = rouge_l_recall(output, truth)
    result.char5 = char_ngram_containment(output, truth)
    result.output_preview = output[:200]
    return result


def familiarity_probe(
    tasks: dict[str, tuple[str | None, str | None]],
    model: str | None,
    *,
    max_chars: int = 3000,
    n_rows: int = 10,
    llm_kwargs: dict[str, Any] | None = None,
) -> FamiliarityResult:
    """Probe ``model`` on every task: ``task -> (description text, train CSV head text)``.

    ``llm_kwargs`` go to ``litellm.completion`` (e.g. ``api_base``, or ``mock_response`` in
    tests). Without a model the result is skipped with :data:`SKIPPED`.
    """
    if not model:
        return FamiliarityResult(model=None, skipped=SKIPPED)
    kwargs = dict(llm_kwargs or {})
    result = FamiliarityResult(model=model)
    for task, (description, csv_head) in sorted(tasks.items()):
        if description:
            prefix, truth = split_description(description, max_chars)
            result.probes.append(run_probe(task, "description",
                                           DESCRIPTION_PROMPT.format(prefix=prefix), truth,
                                           model, kwargs))
        if csv_head:
            prefix, truth = split_rows(csv_head, n_rows)
            if prefix:
                result.probes.append(run_probe(task, "data", DATA_PROMPT.format(prefix=prefix),
                                               truth, model, kwargs))
    if not result.probes:
        result.skipped = "skipped: no task description or train file found"
    return result
