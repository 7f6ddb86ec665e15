// Reading /proc in tests (Linux), independently of the code under test.

/** The fields after "pid (comm) " of a /proc/<pid>/stat text: state, ppid, pgrp, session, ... (comm may hold spaces and parens). */
export function statFields(stat: string): string[] {
  return stat.slice(stat.lastIndexOf(")") + 2).split(" ");
}
