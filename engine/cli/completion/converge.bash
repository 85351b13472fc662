# bash completion for converge(1): its commands, options and their values, and manifests
# (*.yaml, *.yml) where a file is expected. Installed as
# share/bash-completion/completions/converge, which bash-completion loads on first use;
# it needs nothing from bash-completion itself (`source` this file to try it).
# The commands and options follow engine/cli/main.cpp and converge.1; change them together.

_converge_commands="apply plan check validate history state lab"
_converge_options="--state-dir --state --json --parallel -j --verbose -v --quiet -q --no-color --no-cache
  --lab-speed --progress --graph --reboot-timeout --retries --retry-backoff --limit -l --tags -t
  --format --output -o --syslog --syslog-socket --diff --version --help -h"
_converge_formats="text json prometheus junit nagios"

# True when $1 is an option that takes a value (the next word).
_converge_takes_value() {
  case $1 in
    --state-dir | --state | --from | --to | --parallel | -j | --lab-speed | --graph | --reboot-timeout | --retries | \
      --retry-backoff | --limit | -l | --tags | -t | --format | --output | -o | --syslog-socket | \
      --manifest | -m | --lab | --node | --shell) return 0 ;;
  esac
  return 1
}

# COMPREPLY = the paths `compgen -$1` finds that start with $2 (one per line: names may hold spaces).
_converge_paths() {
  local IFS=$'\n'
  compopt -o filenames 2>/dev/null
  COMPREPLY=($(compgen -"$1" -- "$2"))
}

# COMPREPLY += the manifests (*.yaml, *.yml) and directories that start with $1.
_converge_manifests() {
  local IFS=$'\n'
  compopt -o filenames 2>/dev/null
  COMPREPLY+=($(compgen -d -- "$1") $(compgen -f -X '!*.yaml' -- "$1") $(compgen -f -X '!*.yml' -- "$1"))
}

_converge() {
  local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD - 1]}
  COMPREPLY=()
  # `--format=json`: bash splits the word at '=' (COMP_WORDBREAKS).
  if [[ $cur == = ]]; then
    prev=${COMP_WORDS[COMP_CWORD - 1]}
    cur=
  elif [[ $prev == = && $COMP_CWORD -ge 2 ]]; then
    prev=${COMP_WORDS[COMP_CWORD - 2]}
  fi

  case $prev in
    --format) COMPREPLY=($(compgen -W "$_converge_formats" -- "$cur")); return 0 ;;
    --state-dir | --from) _converge_paths d "$cur"; return 0 ;;
    --graph | --output | -o | --syslog-socket) _converge_paths f "$cur"; return 0 ;;
    --manifest | -m | --lab) _converge_manifests "$cur"; return 0 ;;
    --shell) COMPREPLY=($(compgen -W "cmd powershell" -- "$cur")); return 0 ;;
  esac
  _converge_takes_value "$prev" && return 0   # a number, a duration, node or tag names

  if [[ $cur == -* ]]; then
    local extra=
    [[ " ${COMP_WORDS[*]} " == *" history "* ]] && extra="--manifest -m"
    [[ " ${COMP_WORDS[*]} " == *" migrate "* ]] && extra="--from --to"
    [[ " ${COMP_WORDS[*]} " == *" serve "* ]] && extra="--lab --node --shell"
    [[ " ${COMP_WORDS[*]} " == *" summary "* ]] && extra="--lab"
    COMPREPLY=($(compgen -W "$_converge_options $extra" -- "$cur"))
    return 0
  fi

  # The command is the first word that is neither an option nor an option's value; a first
  # word that is not a command is a manifest (`converge MANIFEST` applies it).
  local i word command= positionals=0
  for ((i = 1; i < COMP_CWORD; i++)); do
    word=${COMP_WORDS[i]}
    if _converge_takes_value "$word"; then
      [[ ${COMP_WORDS[i + 1]} == = ]] && ((i++))
      ((i++))
    elif [[ $word == -* || $word == = ]]; then
      continue
    elif [[ -z $command ]]; then
      command=$word
      [[ " $_converge_commands " == *" $word "* ]] || { command=apply; positionals=1; }
    else
      ((positionals++))
    fi
  done
  case $command in
    "") COMPREPLY=($(compgen -W "$_converge_commands" -- "$cur")); _converge_manifests "$cur" ;;
    apply | plan | check) ((positionals == 0)) && _converge_manifests "$cur" ;;
    validate | history) _converge_manifests "$cur" ;;
    state) ((positionals == 0)) && COMPREPLY=($(compgen -W "migrate" -- "$cur")) ;;
    lab) ((positionals == 0)) && COMPREPLY=($(compgen -W "serve summary" -- "$cur")) ;;
  esac
  return 0
}

complete -F _converge converge
