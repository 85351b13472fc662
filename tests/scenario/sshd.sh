# A private sshd for the ssh scenarios; source it after lib.sh. CMake runs every *.sh here as
# a test, so executed directly this file does nothing.
#
# start_sshd ADDRESS...: an sshd of this test's own (its host key $WORK/hostkey, the client
# key $WORK/clientkey authorized for the current user), listening on ADDRESS:$PORT for each
# address given, and only there.
# stop_sshd stops it and every session it serves.
if [[ ${BASH_SOURCE[0]} == "$0" ]]; then exit 0; fi
SSHD=$(command -v sshd || echo /usr/sbin/sshd)
[[ -x $SSHD ]] || fail "openssh-server is needed (.ci/deps installs it)"
[[ $(id -u) == 0 ]] && mkdir -p /run/sshd
ME=$(id -un)
[[ -e $WORK/hostkey ]] || ssh-keygen -q -t ed25519 -N '' -f "$WORK/hostkey"
ssh-keygen -q -t ed25519 -N '' -f "$WORK/clientkey"
# The sessions get a home of their own (an empty HOME): the machine's own rc files for the
# user (a pyenv hook in root's .bashrc costs half a second a session on a developer machine)
# stay out of every round trip.
mkdir -p "$WORK/home"
echo "environment=\"HOME=$WORK/home\" $(cat "$WORK/clientkey.pub")" >"$WORK/authorized_keys"
chmod 600 "$WORK/authorized_keys"
PORT=$((20000 + RANDOM % 20000))
SSHD_ADDRESSES=()
start_sshd() {
  (($#)) && SSHD_ADDRESSES=("$@")
  {
    for a in "${SSHD_ADDRESSES[@]}"; do echo "ListenAddress $a:$PORT"; done
    cat <<CFG
HostKey $WORK/hostkey
AuthorizedKeysFile $WORK/authorized_keys
PidFile $WORK/sshd.pid
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
UsePAM no
StrictModes no
PermitUserEnvironment yes
MaxStartups 100
MaxSessions 100
LogLevel ERROR
CFG
  } >"$WORK/sshd_config"
  "$SSHD" -f "$WORK/sshd_config" -E "$WORK/sshd.log"
  for _ in $(seq 100); do [[ -s $WORK/sshd.pid ]] && break; sleep 0.05; done
  [[ -s $WORK/sshd.pid ]] || fail "sshd did not start: $(cat "$WORK/sshd.log")"
}
# Stops the listener and the sessions it started (their connections drop).
stop_sshd() {
  local pid
  pid=$(cat "$WORK/sshd.pid" 2>/dev/null) || return 0
  pkill -KILL -P "$pid" 2>/dev/null || true
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
  rm -f "$WORK/sshd.pid"
}
trap 'stop_sshd; rm -rf "$WORK"' EXIT
