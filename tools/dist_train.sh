#!/usr/bin/env bash
# Distributed training under torchrun: one process per GPU on each node.
#
#   bash tools/dist_train.sh CONFIG GPUS [tools/train.py options]
#
# Several nodes: run it on each with NNODES, NODE_RANK (0 .. NNODES-1), MASTER_ADDR (the host
# of node 0) and PORT set alike. Without a GPU the processes talk over gloo (GPUS is then
# the number of processes).
# The Python used is ${PYTHON:-python}. Exit status 75: the run was stopped by a preemption
# signal after saving a checkpoint; --resume continues it.
set -euo pipefail
if [[ $# -lt 2 ]]; then
  echo "usage: $0 CONFIG GPUS [tools/train.py options]" >&2
  exit 2
fi
CONFIG=$1
GPUS=$2
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
if [[ $NODE_RANK != 0 && -z ${MASTER_ADDR:-} ]]; then  # it would wait on itself
  echo "$0: NODE_RANK=$NODE_RANK needs MASTER_ADDR, the host of node 0" >&2
  exit 2
fi
MASTER_ADDR=${MASTER_ADDR:-127.0.0.1}
TOOLS=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# Preemption (README, "Long runs"). torchrun answers SIGTERM by killing its workers within
# 30 s and a SignalException traceback. Here torchrun ignores the preemption signals
# (PREEMPTION_SIGNALS: those of the config's PreemptionCheckpointHook, SIGTERM and SIGUSR1
# by default), this script forwards them to the training processes, which finish their
# iteration, save its checkpoint and write a note to $MIM_SCALING_PREEMPTED_FILE, and the
# script then exits with status 75.
SIGNALS=${PREEMPTION_SIGNALS:-TERM USR1}
SIGNALS=${SIGNALS//SIG/}
TORCHRUN_SIGNALS=
for sig in TERM INT HUP QUIT; do  # torchrun's own list, less ours
  [[ " $SIGNALS " == *" $sig "* ]] || TORCHRUN_SIGNALS+="${TORCHRUN_SIGNALS:+,}SIG$sig"
done
# --signals-to-handle came with PyTorch 2.9; an older torchrun handles SIGTERM itself (its
# workers still save, but it exits with 1 and a traceback).
TORCHRUN_ARGS=(--signals-to-handle="$TORCHRUN_SIGNALS")
if ! "${PYTHON:-python}" -c 'import sys; from importlib.metadata import version
sys.exit(tuple(map(int, version("torch").split(".")[:2])) < (2, 9))' 2>/dev/null; then
  TORCHRUN_ARGS=()
fi
REPORT=$(mktemp "${TMPDIR:-/tmp}/preempted.XXXXXX")
trap 'rm -f "$REPORT"' EXIT

(
  # Ignored signals stay ignored in torchrun (it is told not to handle them) and in its
  # workers until their Runner is built: it holds them for the PreemptionCheckpointHook,
  # and gives those the hook does not handle (signals=[]) their default action back.
  # shellcheck disable=SC2086
  trap '' $SIGNALS
  export PYTHONPATH="$TOOLS/..${PYTHONPATH:+:$PYTHONPATH}" MIM_SCALING_PREEMPTED_FILE="$REPORT" \
    MIM_SCALING_FORWARDED_SIGNALS="$SIGNALS"
  exec "${PYTHON:-python}" -m torch.distributed.run ${TORCHRUN_ARGS[@]+"${TORCHRUN_ARGS[@]}"} \
    --nnodes="$NNODES" \
    --node_rank="$NODE_RANK" \
    --master_addr="$MASTER_ADDR" \
    --master_port="$PORT" \
    --nproc_per_node="$GPUS" \
    "$TOOLS/train.py" "$CONFIG" --launcher pytorch "${@:3}"
) &
TORCHRUN=$!
for sig in $SIGNALS; do
  # The workers are torchrun's children (each in a session of its own).
  # shellcheck disable=SC2064
  trap "pkill -$sig -P $TORCHRUN || true" "$sig"
done
while true; do
  wait "$TORCHRUN" && STATUS=0 || STATUS=$?
  kill -0 "$TORCHRUN" 2>/dev/null || break  # else wait was cut short by a forwarded signal
done
if [[ $STATUS -eq 0 && -s $REPORT ]]; then
  cat "$REPORT" >&2
  exit 75
fi
exit "$STATUS"
