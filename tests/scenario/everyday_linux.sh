#!/usr/bin/env bash
# A day's work with the shipped Linux type library (resources/linux-system.yaml), on this
# machine for what needs the real system and on a node root for the rest:
#   - a group and a user owning a directory tree (built-in directories after the user);
#   - a package (a .deb built here, installed with apt-get from its file) that ships an
#     init script; the service enabled and running; its configuration file from a template
#     (after the package), validated by an exec and reloaded through it (subscribe, two hops);
#   - a cron entry in /etc/cron.d; an archive fetched over http from a loopback server,
#     checked and unpacked once; a line in the node root's /etc/hosts; a sysctl in the
#     node root's /proc/sys and /etc/sysctl.d; a symlink.
# Everything converges; a rerun is a no-op; a config change reloads the service exactly
# once; a run killed between the change and the reload leaves the reload to the rerun;
# `check` finds drift in every kind; removing (ensure: absent) cleans up. The test undoes
# what it did to the machine on exit.
set -euo pipefail
source "$(dirname "$0")/lib.sh" "$@"
[[ $(id -u) == 0 ]] || { echo "SKIP [$SCENARIO]: needs root (useradd, apt-get, init scripts)"; exit 0; }
for tool in apt-get dpkg-deb useradd update-rc.d; do
  command -v "$tool" >/dev/null || { echo "SKIP [$SCENARIO]: $tool not installed"; exit 0; }
done
[[ ! -d /run/systemd/system ]] || { echo "SKIP [$SCENARIO]: systemd runs here; the test's service is an init script"; exit 0; }

# Names unique to this run, so that nothing of the machine's is touched.
TAG=cv$$
PKG=converge-test-$TAG SVC=convsvc-$TAG USR=convu$$ GRP=convg$$
free_id() { local id=$1; while getent passwd "$id" >/dev/null || getent group "$id" >/dev/null; do id=$((id + 1)); done; echo "$id"; }
GID=$(free_id $((40000 + $$ % 20000)))
UID_=$(free_id $((GID + 1)))
SVCLOG=$WORK/svc.log
HTTP_PID=
cleanup() {
  set +e
  [[ -n $HTTP_PID ]] && kill "$HTTP_PID" 2>/dev/null
  [[ -x /etc/init.d/$SVC ]] && "/etc/init.d/$SVC" stop >/dev/null 2>&1
  update-rc.d -f "$SVC" remove >/dev/null 2>&1
  dpkg --purge "$PKG" >/dev/null 2>&1
  rm -f "/etc/cron.d/$TAG" "/etc/init.d/$SVC"
  userdel "$USR" >/dev/null 2>&1
  groupdel "$GRP" >/dev/null 2>&1
  rm -rf "$WORK"
}
trap cleanup EXIT

# The package: an init script whose daemon is a sleep, logging start/stop/reload.
mkdir -p pkg/DEBIAN pkg/etc/init.d pkg/etc/$SVC
cat >pkg/DEBIAN/control <<EOF
Package: $PKG
Version: 1.0
Architecture: all
Maintainer: converge tests <tests@converge.invalid>
Description: converge scenario test package
EOF
cat >pkg/etc/init.d/$SVC <<EOF
#!/bin/sh
### BEGIN INIT INFO
# Provides:          $SVC
# Required-Start:    \$local_fs
# Required-Stop:     \$local_fs
# Default-Start:     2 3 4 5
# Default-Stop:      0 1 6
# Short-Description: converge test service
### END INIT INFO
P=/run/$SVC.pid
running() { [ -e \$P ] && kill -0 "\$(cat \$P)" 2>/dev/null; }
case "\$1" in
  start) running && exit 0; setsid sleep 100000 >/dev/null 2>&1 </dev/null & echo \$! >\$P; echo start >>$SVCLOG ;;
  stop) running && kill "\$(cat \$P)"; rm -f \$P; echo stop >>$SVCLOG ;;
  reload|force-reload) running || exit 7; echo "reload \$(head -n1 /etc/$SVC/$SVC.conf)" >>$SVCLOG ;;
  restart) "\$0" stop; "\$0" start ;;
  status) running ;;
  *) exit 2 ;;
esac
EOF
chmod 0755 pkg/etc/init.d/$SVC
# A conffile: removed, the package stays in dpkg's "rc" state (its configuration kept),
# which must read as absent.
echo "# defaults" >pkg/etc/$SVC/defaults
echo "/etc/$SVC/defaults" >pkg/DEBIAN/conffiles
dpkg-deb --root-owner-group --build pkg "$WORK/$PKG.deb" >/dev/null

# The archive, served over http on loopback.
mkdir -p src/app-1.0/bin
echo "v1" >src/app-1.0/VERSION
printf '#!/bin/sh\necho app\n' >src/app-1.0/bin/app
chmod 0755 src/app-1.0/bin/app
mkdir -p www && tar -czf www/app.tar.gz -C src app-1.0
SUM=$(sha256sum www/app.tar.gz | cut -d' ' -f1)
PORT=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
(cd www && exec /usr/bin/python3 -m http.server --bind 127.0.0.1 "$PORT" >/dev/null 2>&1) &
HTTP_PID=$!
wait_for "the http server" 10 curl -fsS -o /dev/null "http://127.0.0.1:$PORT/app.tar.gz"

# The node root: /etc/hosts and a kernel parameter as files.
SITE=$WORK/site
mkdir -p "$SITE/etc" "$SITE/proc/sys/net/ipv4"
printf '127.0.0.1\tlocalhost\n127.0.1.1\told-name\n' >"$SITE/etc/hosts"
echo 0 >"$SITE/proc/sys/net/ipv4/ip_forward"

# The service's configuration, from a template: a value, a loop and a conditional.
cat >"$WORK/svc.conf.mustache" <<'EOF'
port={{vars.port}}
{{#vars.upstreams}}
upstream {{.}}
{{/vars.upstreams}}
{{#vars.tls}}tls on{{/vars.tls}}{{^vars.tls}}tls off{{/vars.tls}}
EOF
PORTVAL=8080
write_manifest() {
  cat >day.yaml <<YAML
apiVersion: converge/v1
kind: Manifest
metadata: {name: day-$TAG}
include: [$SOURCE_DIR/resources/linux-system.yaml]
vars:
  port: $PORTVAL
  upstreams: [10.0.0.1:9000, 10.0.0.2:9000]
  tls: false
inventory:
  nodes:
    host: {transport: {local: {}}}
    site: {transport: {local: {root: $SITE}}}
resources:
  - {type: group, name: $GRP, on: host, properties: {gid: $GID}}
  - {type: user, name: $USR, on: host, depends_on: ["group[$GRP]"],
     properties: {uid: $UID_, group: $GRP, home: $WORK/home/$USR, shell: /bin/sh}}
  - {type: directory, name: $WORK/srv, on: host, depends_on: ["user[$USR]"],
     properties: {owner: $USR, group: $GRP, mode: "0750"}}
  - {type: directory, name: $WORK/srv/data, on: host, depends_on: ["user[$USR]"],
     properties: {owner: $USR, group: $GRP, mode: "0750"}}
  - {type: package, name: $PKG, on: host, properties: {source: $WORK/$PKG.deb, version: "1.0"}}
  - {type: file, name: /etc/$SVC/$SVC.conf, on: host, depends_on: ["package[$PKG]"],
     properties: {template: svc.conf.mustache, mode: "0644"}}
  - type: exec
    name: validate-$SVC
    on: host
    subscribe: ["file[/etc/$SVC/$SVC.conf]"]
    properties:
      check: ["true"]
      apply: ["true"]
      refresh: [sh, -c, 'grep -q "^port=[0-9]*$" /etc/$SVC/$SVC.conf && echo validated >>$WORK/validate.log; [ ! -e $WORK/kill-once ] || { rm $WORK/kill-once; kill -9 \$PPID; }']
  - {type: service, name: $SVC, on: host, depends_on: ["package[$PKG]"], subscribe: ["exec[validate-$SVC]"],
     properties: {running: true, enabled: true}}
  - {type: cron, name: $TAG, on: host, properties: {schedule: "*/5 * * * *", user: $USR, command: "echo tick >/dev/null"}}
  - {type: archive, name: $WORK/srv/app, on: host, depends_on: ["directory[$WORK/srv]"],
     properties: {source: "http://127.0.0.1:$PORT/app.tar.gz", sha256: $SUM, strip: 1}}
  - {type: symlink, name: $WORK/srv/current, on: host, depends_on: ["archive[$WORK/srv/app]"], properties: {target: app}}
  - {type: line, name: hostname, on: site, properties: {path: /etc/hosts, line: "127.0.1.1	web1.example.org web1", match: '^127\\.0\\.1\\.1[ 	]'}}
  - {type: sysctl, name: net.ipv4.ip_forward, on: site, properties: {value: 1}}
YAML
}
write_manifest
expect 0 validate day.yaml

# 1. Everything converges.
expect 0 apply day.yaml --json
py 'assert doc["status"] == "converged", doc["status"]; assert doc["summary"]["failed"] == 0, doc["summary"]'
[[ $(getent group "$GRP" | cut -d: -f3) == "$GID" ]] || fail "group $GRP has not gid $GID"
IFS=: read -r _ _ uid gid _ home shell < <(getent passwd "$USR")
[[ $uid == "$UID_" && $gid == "$GID" && $home == "$WORK/home/$USR" && $shell == /bin/sh ]] ||
  fail "user $USR is $uid:$gid $home $shell"
[[ -d $WORK/home/$USR ]] || fail "the home directory was not made"
[[ $(stat -c '%U:%G %a' "$WORK/srv/data") == "$USR:$GRP 750" ]] || fail "the tree is $(stat -c '%U:%G %a' "$WORK/srv/data")"
dpkg-query -W -f='${Status}' "$PKG" | grep -q "install ok installed" || fail "the package is not installed"
"/etc/init.d/$SVC" status || fail "the service does not run"
ls /etc/rc2.d/S[0-9][0-9]"$SVC" >/dev/null || fail "the service is not enabled"
assert_content "/etc/$SVC/$SVC.conf" "port=8080
upstream 10.0.0.1:9000
upstream 10.0.0.2:9000
tls off
"
assert_content "/etc/cron.d/$TAG" "# Managed by converge: cron[$TAG]
*/5 * * * * $USR echo tick >/dev/null
"
assert_content "$WORK/srv/app/VERSION" "v1
"
[[ -x $WORK/srv/app/bin/app ]] || fail "the archive was not unpacked with its modes"
[[ $(readlink "$WORK/srv/current") == app ]] || fail "the symlink points at $(readlink "$WORK/srv/current")"
assert_content "$SITE/etc/hosts" "127.0.0.1	localhost
127.0.1.1	web1.example.org web1
"
assert_content "$SITE/proc/sys/net/ipv4/ip_forward" "1
"
assert_content "$SITE/etc/sysctl.d/60-converge-net.ipv4.ip_forward.conf" "net.ipv4.ip_forward = 1
"

# 2. A rerun is a no-op: nothing changes, nothing is refreshed, the service is not reloaded.
reloads() { grep -c '^reload' "$SVCLOG" || true; }
before=$(reloads)
expect 0 apply day.yaml --json
py 'assert doc["status"] == "in_sync", doc["status"]; assert not doc["resources"], doc["resources"]'
[[ $(reloads) == "$before" ]] || fail "a no-op reloaded the service"
expect 0 check day.yaml

# 3. A config change reloads the service exactly once, through the exec in the middle,
#    and the reload reads the new file.
PORTVAL=8081 write_manifest
expect 2 plan day.yaml --json
py '
by = {r["id"]: r for r in doc["resources"]}
assert by["service['"$SVC"']@host"]["refresh_by"] == "exec[validate-'"$SVC"']@host", by
'
expect 0 apply day.yaml --json
py '
by = {r["id"]: r for r in doc["resources"]}
assert by["exec[validate-'"$SVC"']@host"]["refresh_by"] == "file[/etc/'"$SVC"'/'"$SVC"'.conf]@host", by
assert by["service['"$SVC"']@host"]["refresh_by"] == "exec[validate-'"$SVC"']@host", by
'
[[ $(reloads) == $((before + 1)) ]] || fail "the service was reloaded $(($(reloads) - before)) times, not once"
[[ $(tail -n1 "$SVCLOG") == "reload port=8081" ]] || fail "the reload did not read the new file: $(tail -n1 "$SVCLOG")"
expect 0 apply day.yaml
[[ $(reloads) == $((before + 1)) ]] || fail "a no-op after the change reloaded again"

# 4. Killed between the change and the reload: the rerun reloads, once.
before=$(reloads)
PORTVAL=8082 write_manifest
touch "$WORK/kill-once"
run apply day.yaml
[[ $RC == 137 || $RC == 9 ]] || [[ ! -e $WORK/kill-once ]] || fail "the run was not killed (exit $RC)"
[[ ! -e $WORK/kill-once ]] || fail "the refresh before the kill did not run"
[[ $(reloads) == "$before" ]] || fail "the killed run reloaded"
expect 2 check day.yaml --json
py '
by = {r["id"]: r for r in doc["resources"]}
assert by["service['"$SVC"']@host"]["refresh_by"] == "an earlier run", by
'
expect 0 apply day.yaml
[[ $(reloads) == $((before + 1)) ]] || fail "the rerun reloaded $(($(reloads) - before)) times, not once"
[[ $(tail -n1 "$SVCLOG") == "reload port=8082" ]] || fail "the rerun's reload: $(tail -n1 "$SVCLOG")"
expect 0 apply day.yaml --json
py 'assert doc["status"] == "in_sync", doc["status"]'

# 5. check finds drift in every kind.
groupmod -g $((GID + 100)) "$GRP" 2>/dev/null || true
usermod -s /bin/bash "$USR"
"/etc/init.d/$SVC" stop >/dev/null
sed -i 's/\*\/5/*\/7/' "/etc/cron.d/$TAG"
rm "$WORK/srv/app/.converge-archive"
printf '127.0.0.1\tlocalhost\n' >"$SITE/etc/hosts"
echo 0 >"$SITE/proc/sys/net/ipv4/ip_forward"
rm "$WORK/srv/current" && echo "a file where the link was" >"$WORK/srv/current"
chmod 0755 "$WORK/srv/data"
expect 2 check day.yaml --json
py '
kinds = {r["type"] for r in doc["resources"] if r["outcome"] == "pending"}
want = {"group", "user", "service", "cron", "archive", "line", "sysctl", "symlink", "directory"}
assert want <= kinds, sorted(want - kinds)
'
dpkg --purge "$PKG" >/dev/null 2>&1 || true
expect 2 check day.yaml --json
py 'assert "package" in {r["type"] for r in doc["resources"] if r["outcome"] == "pending"}, doc["resources"]'
expect 0 apply day.yaml
expect 0 apply day.yaml --json
py 'assert doc["status"] == "in_sync", doc["status"]'
assert_content "$SITE/proc/sys/net/ipv4/ip_forward" "1
"
[[ $(readlink "$WORK/srv/current") == app ]] || fail "the file was not replaced by the link"

# 6. Removal: the package, the cron entry, the user and the group go (ensure: absent).
cat >gone.yaml <<YAML
apiVersion: converge/v1
kind: Manifest
metadata: {name: gone-$TAG}
include: [$SOURCE_DIR/resources/linux-system.yaml]
inventory:
  nodes:
    host: {transport: {local: {}}}
resources:
  - {type: service, name: $SVC, properties: {running: false, enabled: false}}
  - {type: package, name: $PKG, depends_on: ["service[$SVC]"], properties: {ensure: absent}}
  - {type: cron, name: $TAG, properties: {ensure: absent}}
  - {type: user, name: $USR, properties: {ensure: absent}}
  - {type: group, name: $GRP, depends_on: ["user[$USR]"], properties: {ensure: absent}}
YAML
expect 0 apply gone.yaml
! getent passwd "$USR" >/dev/null || fail "the user is still there"
! getent group "$GRP" >/dev/null || fail "the group is still there"
[[ ! -e /etc/cron.d/$TAG ]] || fail "the cron entry is still there"
[[ $(dpkg-query -W -f='${db:Status-Abbrev}' "$PKG" 2>/dev/null) == "rc " ]] || fail "the package is not removed with its configuration kept"
expect 0 apply gone.yaml --json
py 'assert doc["status"] == "in_sync", doc["status"]'
pass
