#!/usr/bin/env bash
# The README's manifest example is a manifest: `converge validate` accepts it (with the
# fragment it includes): site.conf, /srv/www and two pages on each web node, the exec on all three.
set -euo pipefail
source "$(dirname "$0")/lib.sh" "$@"

python3 - "$SOURCE_DIR/README.md" > m.yaml <<'PY'
import re, sys
text = open(sys.argv[1]).read()
section = text[text.index("## The manifest language"):]
print(re.search(r"```yaml\n(.*?)```", section, re.S).group(1), end="")
PY
grep -q '^apiVersion: converge/v1' m.yaml || fail "no manifest example found in the README"
printf 'apiVersion: converge/v1\nkind: Fragment\n' > common.yaml
expect 0 validate m.yaml
grep -qF "valid (11 resources on 3 nodes, 3 constraints)" <<<"$OUT" || fail "unexpected: $OUT"
pass
