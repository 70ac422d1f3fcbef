# Shared by remora's agents: a "machine" (cluster node, remote node or guest
# run as processes on one host) is every process whose REMORA_MACHINE
# environment variable (a /-separated path of nested machines, e.g.
# node2/guest1) has the machine's name as one component.

# Machines of different clusters on one host may share names: a process is
# only a candidate when its REMORA_CLUSTER equals ours (both unset counts as
# equal), so one cluster never kills another's machines.

# machine_pids NAME: the pids of that machine's processes (not our own). One grep
# pass over every process's environment (NUL-separated records), no fork per process.
machine_pids() {
  files=$(grep -l -z -E "^REMORA_MACHINE=(.*/)?$1(/.*)?\$" /proc/[0-9]*/environ 2>/dev/null)
  [ -z "$files" ] && return 0
  if [ -n "${REMORA_CLUSTER:-}" ]; then
    files=$(grep -l -z -x -F "REMORA_CLUSTER=$REMORA_CLUSTER" $files 2>/dev/null)
  else
    files=$(grep -L -z "^REMORA_CLUSTER=" $files 2>/dev/null)
  fi
  for f in $files; do
    p=${f#/proc/}; p=${p%/environ}
    [ "$p" = "$$" ] || echo "$p"
  done
}

# kill_machine NAME: SIGKILL every process of the machine (a stopped one too), wait until gone.
kill_machine() {
  pids=$(machine_pids "$1")
  [ -z "$pids" ] && return 0
  kill -KILL $pids 2>/dev/null
  i=0
  while [ $i -lt 100 ]; do
    alive=""
    for p in $pids; do [ -e "/proc/$p" ] && [ "$(cut -d' ' -f3 "/proc/$p/stat" 2>/dev/null)" != Z ] && alive=1; done
    [ -z "$alive" ] && return 0
    i=$((i + 1)); sleep 0.02
  done
  return 1
}
