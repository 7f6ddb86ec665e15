#!/usr/bin/env python3
# Run a command the way bench/cli.mjs times it: the wall time from fork to
# wait and the CPU time (user + system) from wait4's rusage, written to fd 3 as
# "<wall µs> <cpu µs>". The command gets this process's stdin, stdout, stderr
# and environment; its exit status is this process's.
import os
import sys
import time

os.set_inheritable(3, False)
argv = sys.argv[1:]
start = time.perf_counter()
pid = os.fork()
if pid == 0:
    try:
        os.execvp(argv[0], argv)
    finally:
        os._exit(127)
_, status, usage = os.wait4(pid, 0)
wall = time.perf_counter() - start
os.write(3, f"{wall * 1e6:.0f} {(usage.ru_utime + usage.ru_stime) * 1e6:.0f}\n".encode())
code = os.waitstatus_to_exitcode(status)
sys.exit(code if code >= 0 else 128 - code)
