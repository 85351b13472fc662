#!/usr/bin/env bash
# converge as installed: the Debian package CPack makes from this build directory
#   - holds exactly the binary, converge(1), bash and zsh completion, the type library, the
#     schemas and the example manifests with their lab (no test, benchmark or fuzz target),
#     root-owned, in the usual places, with the version and the Depends the binary needs;
#   - runs from its installed files alone (extracted into a temporary root): --version, the
#     man page, the showcase on the emulated lab (violations: none, then a no-op), validate
#     of the installed type library and manifests, the default state directory outside the
#     installed tree; the installed tree is left untouched; the completion scripts load.
# CONVERGE_TEST_DPKG_INSTALL=1, as root: also `dpkg -i` the package, run it, `dpkg -r` it
# (off by default: it changes the machine). Skips (exit 0) when cpack or dpkg-deb is missing.
set -euo pipefail
source "$(dirname "$0")/lib.sh" "$@"

BUILD=$(dirname "$CONVERGE")
for tool in cpack dpkg-deb; do
  command -v "$tool" >/dev/null || { echo "SKIP [$SCENARIO]: $tool is not installed"; exit 0; }
done
[[ -f $BUILD/CPackConfig.cmake ]] || fail "no CPackConfig.cmake in $BUILD: configure it with CMake first"
VERSION=$(sed -n 's/^set(CPACK_PACKAGE_VERSION "\(.*\)")$/\1/p' "$BUILD/CPackConfig.cmake")
[[ -n $VERSION ]] || fail "no CPACK_PACKAGE_VERSION in $BUILD/CPackConfig.cmake"

# --- the package -------------------------------------------------------------------------------
# cpack packages what the build directory holds (with Ninja it builds nothing): run it after
# the build, as ctest is.
cpack --config "$BUILD/CPackConfig.cmake" -G DEB -B "$WORK/pkg" >"$WORK/cpack.log" 2>&1 ||
  fail "cpack failed:
$(tail -30 "$WORK/cpack.log")"
shopt -s nullglob
debs=("$WORK"/pkg/converge_*.deb)
shopt -u nullglob
((${#debs[@]} == 1)) || fail "cpack made ${#debs[@]} converge_*.deb, expected one: $(ls "$WORK/pkg")"
DEB=${debs[0]}

field() { dpkg-deb --field "$DEB" "$1"; }
[[ $(field Package) == converge ]] || fail "Package: $(field Package)"
[[ $(field Version) == "$VERSION" ]] || fail "Version: $(field Version), expected $VERSION"
[[ $(field Section) == admin ]] || fail "Section: $(field Section)"
[[ -n $(field Maintainer) && -n $(field Description) ]] || fail "no Maintainer or Description: $(dpkg-deb --info "$DEB")"
if command -v dpkg >/dev/null; then
  [[ $(field Architecture) == "$(dpkg --print-architecture)" ]] || fail "Architecture: $(field Architecture)"
fi
depends=$(field Depends)
for lib in libc6 libstdc++6 libyaml-cpp libfmt libsqlite3 libpq5; do
  grep -q "\b$lib" <<<"$depends" || fail "Depends lacks $lib: $depends"
done

# Exactly these files: what the source tree ships, nothing built for the tests.
expected() {
  echo ./usr/bin/converge
  echo ./usr/share/man/man1/converge.1.gz
  echo ./usr/share/bash-completion/completions/converge
  echo ./usr/share/zsh/vendor-completions/_converge
  (cd "$SOURCE_DIR" && for f in resources/*.yaml schemas/*.schema.json; do echo "./usr/share/converge/$f"; done)
  (cd "$SOURCE_DIR" && find manifests -name '*.yaml' -not -path '*/.*' -printf './usr/share/converge/%p\n')
}
dpkg-deb --contents "$DEB" >contents.txt
awk '$1 ~ /^-/ {print $6}' contents.txt | sort >files.txt
expected | sort >expected.txt
cmp -s files.txt expected.txt || fail "the package's files differ from what converge ships (< package, > expected):
$(diff files.txt expected.txt)"
awk '$2 != "root/root" || ($1 ~ /^-/ && $1 != "-rw-r--r--" && $1 != "-rwxr-xr-x")' contents.txt >odd.txt
[[ ! -s odd.txt ]] || fail "entries not root-owned 0644/0755: $(cat odd.txt)"
grep -q -- '-rwxr-xr-x .* ./usr/bin/converge$' contents.txt || fail "usr/bin/converge is not executable"

# --- run from the installed files --------------------------------------------------------------
ROOT=$WORK/root
dpkg-deb -x "$DEB" "$ROOT"
SHARE=$ROOT/usr/share/converge
CONVERGE=$ROOT/usr/bin/converge   # expect and run (lib.sh) use the installed binary from here on
snapshot() { find "$ROOT" -printf '%y %m %s %T@ %P\n' | sort; }
snapshot >tree.before

expect 0 --version
[[ $OUT == "$VERSION" ]] || fail "--version printed '$OUT', expected $VERSION"

MAN=$ROOT/usr/share/man/man1/converge.1.gz
zcat "$MAN" | cmp -s - "$SOURCE_DIR/engine/cli/man/converge.1" ||
  fail "the packaged converge.1 is not engine/cli/man/converge.1: is $BUILD built since it changed?"
zcat "$MAN" | grep -q "^\.TH CONVERGE 1 .*\"converge $VERSION\"" || fail "converge.1's .TH does not name version $VERSION"
if command -v groff >/dev/null; then
  warnings=$(zcat "$MAN" | groff -man -Tutf8 -ww -z 2>&1) || true
  [[ -z $warnings ]] || fail "groff warns about converge.1: $warnings"
fi
# Every option --help lists is in the man page and both completions.
expect 0 --help
zcat "$MAN" | sed 's/\\-/-/g' >man.txt
for option in $(grep -o -- '--[a-z][a-z-]*' <<<"$OUT" | sort -u); do
  grep -qE -- "$option([^a-z-]|$)" man.txt || fail "converge(1) does not document $option"
  for completion in bash-completion/completions/converge zsh/vendor-completions/_converge; do
    grep -qE -- "$option([^a-z-]|$)" "$ROOT/usr/share/$completion" || fail "$completion does not offer $option"
  done
done
if command -v man >/dev/null; then
  page=$(MANWIDTH=80 man -l "$MAN" 2>&1) || fail "man -l converge.1 failed: $page"
  for heading in NAME SYNOPSIS DESCRIPTION COMMANDS OPTIONS ENVIRONMENT FILES "EXIT STATUS" EXAMPLES "SEE ALSO"; do
    grep -q "^$heading\$" <<<"$page" || fail "converge(1) has no $heading section"
  done
fi

# The showcase, as the man page and the README run it, from /usr/share/converge.
SHOWCASE=$SHARE/manifests/exchange2007-ccr-sp1.yaml
expect 0 --lab-speed 0 --state-dir "$WORK/state" "$SHOWCASE"
grep -q "violations: none" <<<"$OUT" || fail "the installed showcase did not end with 'violations: none': $OUT"
grep -q ": converged$" <<<"$OUT" || fail "the installed showcase did not converge: $OUT"
lab_judge "$WORK/state" 1
expect 0 --lab-speed 0 --state-dir "$WORK/state" "$SHOWCASE"
grep -q "0 changed, 0 failed.*: in_sync$" <<<"$OUT" || fail "the rerun is not a no-op: $OUT"
grep -q "violations: none" <<<"$OUT" || fail "the rerun's lab reports violations: $OUT"

# With no --state-dir the state goes outside the installed tree (here under XDG_STATE_HOME).
XDG_STATE_HOME=$WORK/xdg expect 2 --lab-speed 0 check "$SHOWCASE"
compgen -G "$WORK/xdg/converge/*/journal.db" >/dev/null || fail "check kept no journal under \$XDG_STATE_HOME/converge"

expect 0 validate "$SHARE/resources/linux.yaml"
grep -q "linux.yaml: valid type file" <<<"$OUT" || fail "validate of the installed linux.yaml: $OUT"
expect 0 validate "$SHARE/resources/windows.yaml" "$SHARE/resources/exchange2007.yaml"
for m in "$SHARE"/manifests/*.yaml; do
  expect 0 validate "$m"   # the includes resolve in the installed layout
done

snapshot >tree.after
cmp -s tree.before tree.after || fail "running from the installed files changed them:
$(diff tree.before tree.after)"

# --- completion ----------------------------------------------------------------------------------
words=$(bash -c 'source "$1" && complete -p converge >/dev/null &&
  COMP_WORDS=(converge ch) COMP_CWORD=1 && _converge && echo "${COMPREPLY[*]}" &&
  COMP_WORDS=(converge check --format "") COMP_CWORD=3 && _converge && echo "${COMPREPLY[*]}"' \
  _ "$ROOT/usr/share/bash-completion/completions/converge" 2>&1) || fail "the bash completion does not load: $words"
[[ $words == $'check\ntext json prometheus junit nagios' ]] || fail "bash completion offered: $words"
if command -v zsh >/dev/null; then
  zsh -n "$ROOT/usr/share/zsh/vendor-completions/_converge" || fail "the zsh completion does not parse"
fi

# --- dpkg -i (optional: changes the machine) ------------------------------------------------
if [[ ${CONVERGE_TEST_DPKG_INSTALL:-} == 1 ]]; then
  if [[ $(id -u) != 0 ]] || ! command -v dpkg >/dev/null; then
    echo "note [$SCENARIO]: CONVERGE_TEST_DPKG_INSTALL=1 needs root and dpkg; not installed"
  elif dpkg-query -W -f='${Status}' converge 2>/dev/null | grep -q "install ok installed"; then
    echo "note [$SCENARIO]: a converge package is installed already; left alone, not installed"
  else
    trap 'dpkg -r converge >/dev/null 2>&1 || true; rm -rf "$WORK"' EXIT
    dpkg -i "$DEB" >dpkg.log 2>&1 || fail "dpkg -i failed: $(cat dpkg.log)"
    [[ $(/usr/bin/converge --version) == "$VERSION" ]] || fail "the dpkg-installed converge --version"
    CONVERGE=/usr/bin/converge
    expect 0 --lab-speed 0 --state-dir "$WORK/dpkg-state" /usr/share/converge/manifests/exchange2007-ccr-sp1.yaml
    grep -q "violations: none" <<<"$OUT" || fail "the dpkg-installed showcase: $OUT"
    if command -v man >/dev/null; then
      man -w converge >/dev/null || fail "man does not find the dpkg-installed converge(1)"
    fi
    dpkg -r converge >>dpkg.log 2>&1 || fail "dpkg -r failed: $(cat dpkg.log)"
    [[ ! -e /usr/bin/converge ]] || fail "dpkg -r left /usr/bin/converge"
    trap 'rm -rf "$WORK"' EXIT
  fi
fi

pass "$(basename "$DEB"), $(du -k "$DEB" | cut -f1) KiB"
