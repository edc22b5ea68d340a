#!/usr/bin/env bash
# Distributed training under torchrun: one process per GPU on each node.
#
#   bash tools/dist_train.sh CONFIG GPUS [tools/train.py options]
#
# Several nodes: run it on each with NNODES, NODE_RANK (0 .. NNODES-1), MASTER_ADDR (the host
# of node 0) and PORT set alike. Without a GPU, add
# `--cfg-options env_cfg.dist_cfg.backend=gloo` (GPUS is then the number of processes).
# The Python used is ${PYTHON:-python}.
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
MASTER_ADDR=${MASTER_ADDR:-127.0.0.1}
TOOLS=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

PYTHONPATH="$TOOLS/..${PYTHONPATH:+:$PYTHONPATH}" \
exec "${PYTHON:-python}" -m torch.distributed.run \
  --nnodes="$NNODES" \
  --node_rank="$NODE_RANK" \
  --master_addr="$MASTER_ADDR" \
  --master_port="$PORT" \
  --nproc_per_node="$GPUS" \
  "$TOOLS/train.py" "$CONFIG" --launcher pytorch "${@:3}"
