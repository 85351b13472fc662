#!/usr/bin/env python3
# Usage: validate_schema.py SCHEMA < DOC.json. Exits non-zero, listing the errors, when DOC
# does not match SCHEMA. Used by the scenario tests (lib.sh: schema_ok).
# A small JSON Schema (draft-07 subset) validator, stdlib only.
import json, re, sys
schema = json.load(open(sys.argv[1]))
doc = json.load(sys.stdin)
errors = []
TYPES = {"object": dict, "array": list, "string": str, "boolean": bool, "null": type(None)}
def is_type(v, t):
    if t == "integer": return isinstance(v, int) and not isinstance(v, bool)
    if t == "number": return isinstance(v, (int, float)) and not isinstance(v, bool)
    return isinstance(v, TYPES[t])
def resolve(ref):
    node = schema
    for part in ref.lstrip("#/").split("/"):
        if part: node = node[part]
    return node
def check(s, v, path):
    if s is True or s == {}: return True
    if s is False: return False
    if "$ref" in s: return check(resolve(s["$ref"]), v, path)
    ok = True
    def bad(msg):
        nonlocal ok
        ok = False
        errors.append(f"{path or '/'}: {msg}")
    t = s.get("type")
    if t is not None and not any(is_type(v, x) for x in (t if isinstance(t, list) else [t])):
        bad(f"{json.dumps(v)[:60]} is not of type {t}"); return False
    if "const" in s and v != s["const"]: bad(f"{v!r} != const {s['const']!r}")
    if "enum" in s and v not in s["enum"]: bad(f"{v!r} not in {s['enum']}")
    if isinstance(v, str) and "pattern" in s and not re.search(s["pattern"], v): bad(f"{v!r} !~ {s['pattern']}")
    if is_type(v, "number"):
        if "minimum" in s and v < s["minimum"]: bad(f"{v} < {s['minimum']}")
        if "maximum" in s and v > s["maximum"]: bad(f"{v} > {s['maximum']}")
    if isinstance(v, dict):
        for k in s.get("required", []):
            if k not in v: bad(f"missing required {k!r}")
        props = s.get("properties", {})
        for k, x in v.items():
            if k in props: ok = check(props[k], x, f"{path}/{k}") and ok
            elif any(re.search(p, k) for p in s.get("patternProperties", {})):
                for p, ps in s["patternProperties"].items():
                    if re.search(p, k): ok = check(ps, x, f"{path}/{k}") and ok
            elif s.get("additionalProperties") is False:
                bad(f"unexpected property {k!r}")
            elif "additionalProperties" in s:
                ok = check(s["additionalProperties"], x, f"{path}/{k}") and ok
    if isinstance(v, list) and "items" in s:
        for i, x in enumerate(v): ok = check(s["items"], x, f"{path}/{i}") and ok
    for sub in s.get("allOf", []): ok = check(sub, v, path) and ok
    for key, need in (("anyOf", lambda n: n >= 1), ("oneOf", lambda n: n == 1)):
        if key in s:
            saved = list(errors)
            n = sum(1 for sub in s[key] if check(sub, v, path))
            errors[:] = saved
            if not need(n): bad(f"{key}: {n} alternatives match")
    return ok
check(schema, doc, "")
if errors:
    print("\n".join(errors[:20]), file=sys.stderr)
    sys.exit(1)
