"""Network commands started as processes, read from the script's ``ast``.

``subprocess.run(["curl", url])``, ``Popen([shutil.which("wget"), url])``,
``os.execvp("curl", [...])``, ``os.system("curl -s " + url)``, ``["bash", "-c", "wget …"]``:
the program of every process-starting call is resolved from literals, simple assignments
(``cmd = ["curl", url]``; ``exe = shutil.which("curl")``), ``shlex.split``, string joins and
f-strings; a network program there is a ``network`` finding. The words ``curl``/``wget``
elsewhere (a comment, a message, a list of tool names) are not.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator

NETWORK_PROGRAMS = frozenset({"curl", "wget", "aria2c", "axel", "gdown", "kaggle", "ftp", "scp"})
_SHELLS = frozenset({"sh", "bash", "zsh", "dash", "ksh", "cmd", "powershell", "pwsh"})
_WRAPPERS = frozenset({"sudo", "env", "nohup", "exec", "command", "nice", "stdbuf"})
#: calls whose first argument is an argv list or a command string
_COMMAND_CALLS = frozenset({
    "run", "call", "check_call", "check_output", "Popen", "getoutput", "getstatusoutput",
    "system", "popen", "create_subprocess_exec", "create_subprocess_shell", "spawn",
})
_UNKNOWN = "\x00"
_SEPARATORS = re.compile(r"&&|\|\||[;|`\n]|\$\(")
#: os.execv, os.execlp, os.spawnvpe, os.posix_spawnp ... (group 1: ``l`` or ``v``)
_EXEC = re.compile(r"^(?:exec|spawn)([lv])p?e?$|^posix_spawnp?$")
_MAX_DEPTH = 6

Env = dict[str, list[ast.expr]]


def assignments(tree: ast.AST) -> Env:
    """``name -> values`` of every simple assignment (``=``, ``: T =``, ``+=``)."""
    env: Env = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    env.setdefault(target.id, []).append(node.value)
        elif (isinstance(node, ast.AnnAssign | ast.AugAssign) and node.value is not None
              and isinstance(node.target, ast.Name)):
            env.setdefault(node.target.id, []).append(node.value)
    return env


def _call_name(node: ast.Call) -> str:
    func = node.func
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return ""


def strings(expr: ast.AST, env: Env, depth: int = 0) -> list[str]:
    """Possible values of a string expression (unknown parts as ``\\x00``)."""
    if depth > _MAX_DEPTH:
        return []
    if isinstance(expr, ast.Constant) and isinstance(expr.value, str):
        return [expr.value]
    if isinstance(expr, ast.Name):
        return [s for v in env.get(expr.id, []) for s in strings(v, env, depth + 1)] or [_UNKNOWN]
    if isinstance(expr, ast.JoinedStr):
        parts = [strings(v.value if isinstance(v, ast.FormattedValue) else v, env, depth + 1)
                 for v in expr.values]
        return ["".join(p[0] if p else _UNKNOWN for p in parts)]
    if isinstance(expr, ast.BinOp) and isinstance(expr.op, ast.Add):
        right = strings(expr.right, env, depth + 1) or [_UNKNOWN]
        return [left + right[0] for left in strings(expr.left, env, depth + 1)]
    if isinstance(expr, ast.Call):
        name = _call_name(expr)
        if name == "which" and expr.args:  # shutil.which("curl") -> the program's path
            return strings(expr.args[0], env, depth + 1)
        if name == "join" and isinstance(expr.func, ast.Attribute) and expr.args:
            sep = expr.func.value
            if isinstance(sep, ast.Constant) and isinstance(sep.value, str):
                return [" ".join(a) for a in argvs(expr.args[0], env, depth + 1)]
    return [_UNKNOWN]


def argvs(expr: ast.AST, env: Env, depth: int = 0) -> list[list[str]]:
    """Possible argv lists of an expression that is a list, ``shlex.split(...)`` or a name."""
    if depth > _MAX_DEPTH:
        return []
    if isinstance(expr, ast.List | ast.Tuple):
        return [[(strings(e, env, depth + 1) or [_UNKNOWN])[0] for e in expr.elts]]
    if isinstance(expr, ast.Name):
        return [a for v in env.get(expr.id, []) for a in argvs(v, env, depth + 1)]
    if isinstance(expr, ast.BinOp) and isinstance(expr.op, ast.Add):
        return argvs(expr.left, env, depth + 1)
    if isinstance(expr, ast.Call) and _call_name(expr) == "split" and expr.args:
        return [s.split() for s in strings(expr.args[0], env, depth + 1)]
    return []


def program_name(word: str) -> str:
    """``/usr/bin/curl.exe`` -> ``curl``."""
    base = re.split(r"[\\/]", word.strip().strip("'\""))[-1].lower()
    return base.removesuffix(".exe")


def _argv_programs(argv: list[str]) -> Iterator[str]:
    words = list(argv)
    while words and (program_name(words[0]) in _WRAPPERS or "=" in words[0]):
        words.pop(0)
    if not words:
        return
    program = program_name(words[0])
    yield program
    if program in _SHELLS:
        for i, word in enumerate(words[1:-1], start=1):
            if word.lower() in ("-c", "/c", "-command"):
                yield from shell_programs(words[i + 1])


def shell_programs(command: str) -> Iterator[str]:
    """The program of every command in a shell command line."""
    for part in _SEPARATORS.split(command):
        yield from _argv_programs(part.replace("'", " ").replace('"', " ").split())


def _command_programs(arg: ast.AST, env: Env) -> set[str]:
    found = {p for argv in argvs(arg, env) for p in _argv_programs(argv)}
    for text in strings(arg, env):
        if text != _UNKNOWN:
            found.update(shell_programs(text))
    return found


def _exec_programs(call: ast.Call, name: str, env: Env) -> set[str]:
    """``os.exec*``/``os.spawn*``/``os.posix_spawn*``: the path argument and the argv."""
    match = _EXEC.match(name)
    if match is None:
        return set()
    args = list(call.args)
    if name.startswith("spawn"):
        args = args[1:]  # the mode comes first
    if not args:
        return set()
    found = {program_name(s) for s in strings(args[0], env) if s != _UNKNOWN}
    rest = args[1:]
    if match.group(1) != "l":  # execv*, spawnv*, posix_spawn*: one argv argument
        argv_lists = argvs(rest[0], env) if rest else []
    else:  # execl*: the argv comes as separate arguments
        argv_lists = [[(strings(a, env) or [_UNKNOWN])[0] for a in rest]]
    found.update(p for argv in argv_lists for p in _argv_programs(argv))
    return found


def scan_process_calls(tree: ast.AST) -> Iterator[tuple[int, str, str]]:
    """``(line, "network", detail)`` for every process started with a network program."""
    env = assignments(tree)
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = _call_name(node)
        if _EXEC.match(name):
            programs = _exec_programs(node, name, env)
        elif name in _COMMAND_CALLS and node.args:
            programs = _command_programs(node.args[0], env)
        else:
            continue
        for program in sorted(programs & NETWORK_PROGRAMS):
            yield node.lineno, "network", f"runs {program} ({name})"


def scan_argv_literals(tree: ast.AST) -> Iterator[tuple[int, str, str]]:
    """An argv literal ``["curl", "-s", url]`` built for a later call: a network program
    followed by an option, a URL or a computed argument (not a list of tool names)."""
    for node in ast.walk(tree):
        if not isinstance(node, ast.List | ast.Tuple) or len(node.elts) < 2:
            continue
        first = node.elts[0]
        if not (isinstance(first, ast.Constant) and isinstance(first.value, str)):
            continue
        program = program_name(first.value)
        if program not in NETWORK_PROGRAMS or first.value.strip() != first.value:
            continue
        if any(_argument_like(e) for e in node.elts[1:]):
            yield node.lineno, "network", f"an argv list running {program}"


def _argument_like(expr: ast.expr) -> bool:
    if isinstance(expr, ast.Constant) and isinstance(expr.value, str):
        return expr.value.startswith("-") or "://" in expr.value
    return not isinstance(expr, ast.Constant)
