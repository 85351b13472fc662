#!/usr/bin/env python3
"""The source layout's rules, checked: which layer may include which, and how long a
function may be. Run by ctest ("layout"); prints every breach and exits 1 on any.

Layers (engine/README-style header comments in each folder say the same):
  engine/model  the model: values, manifests, types, loading          includes model
  engine/plan   grounding and planning (pure)                          + plan
  engine/state  journal and lock                                       + state, resources
  resources     built-in types, the data-type provider, transports, lab  model, resources
  engine/run    executor, planned run, session                         + plan, state, run, resources
  engine/cli    the commands of the CLI contract                       anything
No header outside engine/cli includes engine/cli. No function is longer than 120 lines, and
cmd_converge no longer than 80.
"""
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ALLOWED = {
    "engine/model": {"engine/model"},
    "engine/plan": {"engine/model", "engine/plan"},
    "engine/state": {"engine/model", "engine/state", "resources"},
    "resources": {"engine/model", "resources"},
    "engine/run": {"engine/model", "engine/plan", "engine/state", "engine/run", "resources"},
    "engine/cli": {"engine/model", "engine/plan", "engine/state", "engine/run", "engine/cli", "resources"},
}
MAX_LINES = 120
LIMITS = {"cmd_converge": 80}


def layer(path):
    for name in sorted(ALLOWED, key=len, reverse=True):
        if path == name or path.startswith(name + "/"):
            return name
    return None


def sources():
    for top in ("engine", "resources"):
        for d, _, files in os.walk(os.path.join(ROOT, top)):
            for f in sorted(files):
                if f.endswith((".h", ".cpp")):
                    yield os.path.relpath(os.path.join(d, f), ROOT)


def strip(text):
    """Comments and string or char literals blanked, newlines kept."""
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append("\n" * text.count("\n", i, j))
            i = j
        elif text.startswith('R"', i):
            m = re.match(r'R"([^(]*)\(', text[i:])
            end = text.find(")" + m.group(1) + '"', i) if m else -1
            j = n if end < 0 else end + len(m.group(1)) + 2
            out.append('""' + "\n" * text.count("\n", i, j))
            i = j
        elif c in "\"'":
            j = i + 1
            while j < n and text[j] != c:
                j += 2 if text[j] == "\\" else 1
            out.append(c + c)
            i = j + 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


CONTROL = re.compile(r"\b(if|for|while|switch|catch|do|else|try|return|case)\b[^;{}]*$")


def functions(text):
    """(name, first line, line count) of every function body in `text` (stripped)."""
    found, stack = [], []
    line = 1
    start_of_stmt = 0
    for i, c in enumerate(text):
        if c == "\n":
            line += 1
        elif c == "{":
            head = text[start_of_stmt:i]
            flat = " ".join(head.split())
            m = re.search(r"([~\w:]+)\s*\([^()]*(\([^()]*\)[^()]*)*\)\s*(const|override|noexcept|final|mutable|\s|->\s*[\w:<>,\s&*]+)*$", flat)
            is_fn = bool(m) and not CONTROL.search(flat) and not re.search(r"\]\s*(\([^)]*\))?\s*(mutable\s*)?(->[^{]*)?$", flat) \
                and not flat.rstrip().endswith("=")
            stack.append((m.group(1) if is_fn else None, line))
            start_of_stmt = i + 1
        elif c == "}":
            if stack:
                name, first = stack.pop()
                if name:
                    found.append((name, first, line - first + 1))
            start_of_stmt = i + 1
        elif c == ";":
            start_of_stmt = i + 1
    return found


def main():
    problems = []
    for path in sources():
        text = open(os.path.join(ROOT, path), encoding="utf-8").read()
        me = layer(path)
        for m in re.finditer(r'^#include "([^"]+)"', text, re.M):
            inc = m.group(1)
            other = layer(os.path.dirname(inc)) or layer(inc)
            if other is None:
                continue
            if other not in ALLOWED[me]:
                problems.append(f"{path}: {me} may not include {inc}")
            if path.endswith(".h") and other == "engine/cli" and me != "engine/cli":
                problems.append(f"{path}: a header outside engine/cli includes {inc}")
        for name, first, count in functions(strip(text)):
            limit = LIMITS.get(name.split("::")[-1], MAX_LINES)
            if count > limit:
                problems.append(f"{path}:{first}: {name} is {count} lines (at most {limit})")
    for p in problems:
        print(p)
    print(f"layout: {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
