# Which agent-lanes to run: $AGENT_LANES_BIN when set, else the installation
# that generated this script, else `agent-lanes` from PATH.
cli=${AGENT_LANES_BIN:-}
if [ -z "$cli" ]; then
  cli={{CLI_ENTRY_SH}}
  [ -x "$cli" ] || cli=agent-lanes
fi
