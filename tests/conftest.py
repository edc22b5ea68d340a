"""Suite-wide settings."""
import os

import torch

# Under pytest-xdist (`make test` runs one worker per core), a torch thread pool per worker
# as wide as the machine would oversubscribe the cores, and thread barriers then stall small
# ops by orders of magnitude: one thread each.
if os.environ.get('PYTEST_XDIST_WORKER'):
    torch.set_num_threads(1)
