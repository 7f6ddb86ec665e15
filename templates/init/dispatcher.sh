#!/bin/sh
# Runs the agent-lanes dispatch supervisor on this workspace's queue. It
# claims tasks, runs the vendor's agent CLI on each, and responds.
#   handoff/dispatcher.sh            # claude
#   handoff/dispatcher.sh codex      # another vendor
# Arguments after the vendor go to `agent-lanes dispatch` unchanged.
set -eu
handoff_dir=$(CDPATH= cd -- "$(dirname -- "$0")" && pwd -P)
vendor=${1:-claude}
[ "$#" -eq 0 ] || shift
{{FIND_CLI}}
exec "$cli" --config "$handoff_dir/handoff.yaml" dispatch --vendor "$vendor" "$@"
