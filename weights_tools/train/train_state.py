"""A training run's resumable state: written at every epoch's end (and where a time budget stops
it), read by `--resume RUN_DIR`.

What it is: `write_state` saves everything a run needs to continue as if it had never stopped
(model, EMA, optimizer, both random generators, the epoch's shuffled order and where in it the run
stood, the clock and the log so far) to RUN_DIR/last.pt through a temporary file and a rename, so a
run killed while writing leaves the previous epoch's state intact; `read_state` loads it and checks
that it is one. A continued run draws the same batches and augmentations and takes the same steps,
so with the same thread count it ends with the weights an uninterrupted run would have.
What it is not: the checkpoint a converter reads (checkpoint.pt holds only the EMA weights).
"""

import os

import torch

STATE_FILE = 'last.pt'
FORMAT = 'spdinfer-train-state'
VERSION = 1


class StateError(Exception):
    pass


def state_path(run_dir):
    return os.path.join(run_dir, STATE_FILE)


def write_state(run_dir, state):
    os.makedirs(run_dir, exist_ok=True)
    path = state_path(run_dir)
    temporary = path + '.tmp'
    torch.save({'format': FORMAT, 'version': VERSION, **state}, temporary)
    with open(temporary, 'rb') as f:
        os.fsync(f.fileno())
    os.replace(temporary, path)


def read_state(run_dir, required_keys):
    path = state_path(run_dir)
    if not os.path.isfile(path):
        raise StateError(f'{path}: no training state to resume (it is written at the end of every epoch)')
    try:
        state = torch.load(path, map_location='cpu')
    except Exception as e:  # a truncated or foreign file: torch raises many types
        raise StateError(f'{path}: cannot read the training state: {type(e).__name__}: {e}') from None
    if not isinstance(state, dict) or state.get('format') != FORMAT:
        raise StateError(f'{path}: not a training state written by this trainer')
    if state.get('version') != VERSION:
        raise StateError(f'{path}: training state version {state.get("version")!r}, this trainer reads {VERSION}')
    missing = [k for k in required_keys if k not in state]
    if missing:
        raise StateError(f'{path}: training state lacks {", ".join(missing)}')
    return state
