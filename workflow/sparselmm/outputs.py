"""Writing outputs atomically: no file is ever seen under its final name half written.

A job killed mid-write (an interrupt, a time limit, a full disk) leaves at most a
hidden ``.partial.*`` file beside its outputs, never a short table that a later job
would read as complete. Snakemake removes a job's outputs before it runs the job, so
with every output written this way a file under its final name is always a whole
one from the latest run.
"""

import os
from contextlib import contextmanager
from pathlib import Path

PARTIAL = ".partial."


@contextmanager
def atomic(path):
    """Yield a temporary path beside ``path`` (same directory and extension, so
    pandas' compression and matplotlib's format still follow the name); when the
    block ends normally it is renamed to ``path``, otherwise it is removed."""
    path = Path(path)
    tmp = path.parent / f"{PARTIAL}{os.getpid()}.{path.name}"
    tmp.unlink(missing_ok=True)
    try:
        yield str(tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_tsv(frame, path, **to_csv):
    """``frame.to_csv(path, sep="\\t", index=False, **to_csv)``, atomically."""
    options = {"sep": "\t", "index": False, **to_csv}
    with atomic(path) as tmp:
        frame.to_csv(tmp, **options)


def write_text(path, text):
    with atomic(path) as tmp:
        Path(tmp).write_text(text)
