# Minimal hook-tool stand-ins as bash functions, for testing a charm's functions by
# sourcing its dispatch (no jujusim engine needed). Data lives under $FAKE:
#   config/<key>                      config-get
#   rel/<endpoint>                    relation-ids output ("ep:N" per line)
#   units/<N>                         relation-list -r N output
#   bags/<N>/<unit>.json              relation-get -r N ... <unit> (a JSON object of strings)
# Written by the charm: log, status, ports, relation-set, state/<key>, action.
# shellcheck shell=bash
: "${FAKE:?set FAKE to a scratch directory}"
mkdir -p "$FAKE/config" "$FAKE/rel" "$FAKE/units" "$FAKE/bags" "$FAKE/state"

rid_of() { echo "${1##*:}"; }
juju-log() { [[ "${1:-}" == "--" ]] && shift; echo "$*" >> "$FAKE/log"; }
status-set() { echo "$*" > "$FAKE/status"; }
open-port() { echo "open $*" >> "$FAKE/ports"; }
close-port() { echo "close $*" >> "$FAKE/ports"; }
is-leader() { echo "${FAKE_LEADER:-True}"; }
network-get() { echo "${FAKE_ADDRESS:-127.0.0.1}"; }
config-get() { cat "$FAKE/config/$1" 2>/dev/null || true; }
relation-ids() { cat "$FAKE/rel/$1" 2>/dev/null || true; }
relation-list() { cat "$FAKE/units/$(rid_of "${2:-${JUJU_RELATION_ID:-}}")" 2>/dev/null || true; }
relation-get() { # -r RID [--format=json] KEY|- UNIT
  local rid; rid="$(rid_of "${JUJU_RELATION_ID:-}")"; local json=0 args=()
  while [[ $# -gt 0 ]]; do
    case "$1" in -r) rid="$(rid_of "$2")"; shift 2 ;; --format=json) json=1; shift ;; *) args+=("$1"); shift ;; esac
  done
  local bag="$FAKE/bags/$rid/${args[1]}.json"
  [[ -f "$bag" ]] || bag=/dev/null
  if [[ "${args[0]}" == "-" ]]; then jq -c '. // {}' "$bag" | grep . || echo '{}'; return; fi
  if [[ $json -eq 1 ]]; then jq -c --arg k "${args[0]}" '.[$k]' "$bag"; else jq -j --arg k "${args[0]}" '.[$k] // empty' "$bag"; fi
}
relation-set() { printf '%s\0' "$@" >> "$FAKE/relation-set"; }
state-get() { if [[ "${1:-}" == --format=json ]]; then echo '{}'; else cat "$FAKE/state/$1" 2>/dev/null || true; fi; }
state-set() { local kv; for kv in "$@"; do mkdir -p "$(dirname "$FAKE/state/${kv%%=*}")"; printf '%s' "${kv#*=}" > "$FAKE/state/${kv%%=*}"; done; }
state-delete() { rm -f "$FAKE/state/$1"; }
action-get() { cat "$FAKE/config/action-$1"; }
action-set() { printf '%s\n' "$@" >> "$FAKE/action"; }
action-fail() { echo "FAIL $*" >> "$FAKE/action"; }
