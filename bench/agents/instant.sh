#!/bin/sh
# The instant agent of bench/dispatch.mjs: reads its input to the end (so the
# supervisor's stdin write never meets a closed pipe) and answers at once.
# Its cost is the floor the dispatcher's own cost per task is measured against.
cat >/dev/null
echo "ok: instant answer"
