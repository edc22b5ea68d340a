#!/usr/bin/env bash
# Training on a slurm cluster, in a batch job that survives preemption and its time limit:
# srun starts one task per GPU, tools/train.py --launcher slurm turns the slurm variables
# into a process group.
#
#   [GPUS=8] [GPUS_PER_NODE=8] [CPUS_PER_TASK=5] [TIME=D-HH:MM:SS] [SIGNAL=USR1@600] \
#   [SBATCH_ARGS=...] [SRUN_ARGS=...] \
#     bash tools/slurm_train.sh PARTITION JOB_NAME CONFIG WORK_DIR [tools/train.py options]
#
# Outside a slurm job it submits itself with sbatch and returns (output in
# WORK_DIR/slurm-<job id>.out), asking for
#   --signal=$SIGNAL  slurm sends SIGUSR1 to the training processes 600 s before the time
#                     limit (up to a minute earlier); like the SIGTERM of a preemption, it
#                     makes them finish their iteration and save its checkpoint (a 'B:'
#                     prefix, which signals the batch shell alone, is refused);
#   --requeue         a preempted job may go back to the queue.
# In a job (submitted so, or by tools/sweep.py, or in an salloc allocation) it runs the
# training; when the training stopped at such a signal after saving, the job requeues
# itself (scontrol requeue) and this script exits with 75. A requeued job
# (SLURM_RESTART_COUNT > 0) continues with --resume. See README, "Long runs".
# The Python used is ${PYTHON:-python}.
set -euo pipefail
if [[ $# -lt 4 ]]; then
  echo "usage: $0 PARTITION JOB_NAME CONFIG WORK_DIR [tools/train.py options]" >&2
  exit 2
fi
PARTITION=$1
JOB_NAME=$2
CONFIG=$3
WORK_DIR=$4
GPUS=${GPUS:-8}
GPUS_PER_NODE=${GPUS_PER_NODE:-8}
CPUS_PER_TASK=${CPUS_PER_TASK:-5}
SRUN_ARGS=${SRUN_ARGS:-}
SBATCH_ARGS=${SBATCH_ARGS:-}
TOOLS=${MIM_SCALING_TOOLS:-$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)}
if [[ ! -f $TOOLS/train.py ]]; then  # sbatch runs a copy of this script
  TOOLS=${SLURM_SUBMIT_DIR:-.}/tools
fi

if [[ -z ${SLURM_JOB_ID:-} ]]; then
  # --signal=B:... signals the batch shell alone: it would die (128 + the signal) without
  # the training processes hearing of it, and the job would neither save nor requeue.
  SIGNAL=${SIGNAL:-USR1@600}
  if [[ $SIGNAL == *:* && ${SIGNAL%%:*} == *B* ]]; then
    echo "$0: SIGNAL=$SIGNAL would signal only the batch shell, not the training processes," \
      "which would not save; give it without '${SIGNAL%%:*}:' (e.g. SIGNAL=${SIGNAL#*:})" >&2
    exit 2
  fi
  mkdir -p "$WORK_DIR"
  # SBATCH_ARGS is split into words on purpose: it holds several sbatch options.
  # shellcheck disable=SC2086
  exec sbatch --partition="$PARTITION" \
    --job-name="$JOB_NAME" \
    --ntasks="$GPUS" \
    --ntasks-per-node="$GPUS_PER_NODE" \
    --gres=gpu:"$GPUS_PER_NODE" \
    --cpus-per-task="$CPUS_PER_TASK" \
    ${TIME:+--time="$TIME"} \
    --signal="$SIGNAL" \
    --requeue \
    --open-mode=append \
    --output="$WORK_DIR/slurm-%j.out" \
    --export="ALL,MIM_SCALING_TOOLS=$TOOLS,GPUS=$GPUS,GPUS_PER_NODE=$GPUS_PER_NODE" \
    $SBATCH_ARGS \
    "$TOOLS/slurm_train.sh" "$@"
fi

RESUME=()
if [[ ${SLURM_RESTART_COUNT:-0} -gt 0 ]]; then
  RESUME=(--resume)
fi
# The training processes (the first of each node writes it, the same text; a file all nodes
# see) leave a note here when they stopped at a preemption signal after saving, and exit
# with 0.
REPORT="$WORK_DIR/preempted-${SLURM_JOB_ID}"
mkdir -p "$WORK_DIR"
rm -f "$REPORT"
# A preemption's SIGTERM reaches this shell too: it waits for the training to save.
trap 'echo "slurm_train.sh: SIGTERM; waiting for the training to save" >&2' TERM

# SRUN_ARGS is split into words on purpose: it holds several srun options.
# shellcheck disable=SC2086
PYTHONPATH="$TOOLS/..${PYTHONPATH:+:$PYTHONPATH}" MIM_SCALING_PREEMPTED_FILE="$REPORT" \
srun --job-name="$JOB_NAME" \
  --gres=gpu:"$GPUS_PER_NODE" \
  --ntasks="$GPUS" \
  --ntasks-per-node="$GPUS_PER_NODE" \
  --cpus-per-task="$CPUS_PER_TASK" \
  --kill-on-bad-exit=1 \
  $SRUN_ARGS \
  "${PYTHON:-python}" -u "$TOOLS/train.py" "$CONFIG" --work-dir="$WORK_DIR" \
  --launcher=slurm "${@:5}" ${RESUME[@]+"${RESUME[@]}"} &
SRUN=$!
while true; do
  wait "$SRUN" && STATUS=0 || STATUS=$?
  kill -0 "$SRUN" 2>/dev/null || break  # else wait was cut short by the trap
done
if [[ $STATUS -eq 0 && -s $REPORT ]]; then
  cat "$REPORT" >&2
  rm -f "$REPORT"
  echo "slurm_train.sh: requeueing job $SLURM_JOB_ID; it will continue with --resume" >&2
  scontrol requeue "$SLURM_JOB_ID" ||
    echo "slurm_train.sh: could not requeue (not a batch job?); run again with --resume" >&2
  exit 75
fi
exit "$STATUS"
