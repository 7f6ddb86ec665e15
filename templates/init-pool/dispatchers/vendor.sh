#!/bin/sh
# Runs the agent-lanes dispatch supervisor for one vendor on this pool's
# shared queue. Arguments go to `agent-lanes dispatch` unchanged; set
# AGENT_LANES_BIN to run another agent-lanes build.
set -eu
config={{CONFIG_SH}}
store={{STORE_SH}}
{{FIND_CLI}}
exec "$cli" --config "$config" --store "$store" dispatch --vendor {{VENDOR_SH}} "$@"
