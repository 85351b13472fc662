# A private sshd for the ssh scenarios; source it after lib.sh. CMake runs every *.sh here as
# a test, so executed directly this file does nothing.
#
# start_sshd ADDRESS...: an sshd of this test's own (its host key $WORK/hostkey, the client
# key $WORK/clientkey authorized for the current user), listening on ADDRESS:$PORT for each
# address given, and only there. $SSHD_MATCH, when set, ends each configuration (Match
# blocks: a ForceCommand per address).
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
  # sshd listens on 16 sockets at most: one instance per 16 addresses, the first one's files
  # sshd_config and sshd.pid, the next ones' sshd_config.K and sshd.K.pid.
  local k=0 i conf pidf
  for ((i = 0; i < ${#SSHD_ADDRESSES[@]}; i += 16)); do
    k=$((k + 1))
    conf=$WORK/sshd_config pidf=$WORK/sshd.pid
    ((k == 1)) || conf=$WORK/sshd_config.$k pidf=$WORK/sshd.$k.pid
    {
      for a in "${SSHD_ADDRESSES[@]:i:16}"; do echo "ListenAddress $a:$PORT"; done
      cat <<CFG
HostKey $WORK/hostkey
AuthorizedKeysFile $WORK/authorized_keys
PidFile $pidf
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
      printf '%s\n' "${SSHD_MATCH:-}"
    } >"$conf"
    "$SSHD" -f "$conf" -E "$WORK/sshd.log"
    for _ in $(seq 100); do [[ -s $pidf ]] && break; sleep 0.05; done
    [[ -s $pidf ]] || fail "sshd did not start: $(cat "$WORK/sshd.log")"
  done
}
# Stops the listeners and the sessions they started (their connections drop).
stop_sshd() {
  local pid f
  for f in "$WORK"/sshd.pid "$WORK"/sshd.*.pid; do
    pid=$(cat "$f" 2>/dev/null) || continue
    pkill -KILL -P "$pid" 2>/dev/null || true
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
    rm -f "$f"
  done
}
trap 'stop_sshd; rm -rf "$WORK"' EXIT
