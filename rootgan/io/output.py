"""Writing ROOT files that are never half-written.

``staged(path)`` yields a writable uproot file holding a copy of ``path`` (if it exists);
when the block ends without an exception the copy replaces ``path`` in one rename, and
otherwise it is deleted. A process killed mid-stage (SIGKILL) leaves the previous complete
file and a temporary file, which the next stage on the same path removes. Trees are written
with ``mktree`` (TTrees, not RNTuples) in large baskets.
"""

import contextlib
import glob
import os
import shutil
import tempfile
from concurrent.futures import ThreadPoolExecutor

import awkward as ak
import numpy as np
import uproot
from uproot.writing.identify import to_TAxis, to_TH1x

from ..errors import DataError

BASKET_ENTRIES = 100_000
BASKET_BYTES = 10 << 20
# Zstandard level 1: as small as uproot's default ZLIB level 1 on generated images but
# 3.5x faster to write (benchmarks/bench_generate.py), so writing millions of generated
# events does not halve the generator's speed; ROOT reads it since 6.20.
COMPRESSION = uproot.ZSTD(1)


def _temporary_prefix(path):
    folder, name = os.path.split(os.path.abspath(path))
    return folder, f".{name}.tmp-"


def remove_stale_temporaries(path):
    """Delete temporary files a killed writer of ``path`` left behind."""
    folder, prefix = _temporary_prefix(path)
    for stale in glob.glob(os.path.join(glob.escape(folder), glob.escape(prefix) + "*")):
        with contextlib.suppress(OSError):
            os.remove(stale)


@contextlib.contextmanager
def staged(path, fresh=False, compressed=True):
    """A writable uproot file whose content replaces ``path`` atomically on success: a
    copy of ``path`` to add to, or an empty file when ``fresh`` (or ``path`` is new).
    ``compressed=False`` writes a fresh file without compression."""
    folder, prefix = _temporary_prefix(path)
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as error:
        raise DataError(f"cannot create the folder {folder!r} for {path!r}: {error}") from None
    if os.path.isdir(path):
        raise DataError(f"cannot write the ROOT file {path!r}: it is a folder; give a file name")
    remove_stale_temporaries(path)
    try:
        handle, temporary = tempfile.mkstemp(prefix=prefix, dir=folder)
    except OSError as error:
        raise DataError(f"cannot write {path!r} in {folder!r}: {error.strerror}") from None
    os.close(handle)
    try:
        # mkstemp makes the file private (0600); the result must get the usual permissions
        os.chmod(temporary, 0o666 & ~_umask())
        if os.path.exists(path) and not fresh:
            shutil.copyfile(path, temporary)
            writable = uproot.update(temporary)
        else:
            writable = uproot.recreate(temporary,
                                       compression=COMPRESSION if compressed else None)
        with writable:
            yield writable
        with open(temporary, "rb+") as stream:
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(temporary)
        raise


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def create_empty(path):
    """A valid ROOT file with no content (what TMVA's RECREATE leaves before any stage)."""
    with staged(path, fresh=True):
        pass


def branch_types(columns):
    """uproot ``mktree`` types for a dict of arrays: fixed-size arrays as ``name[N]/T``,
    awkward lists as variable-length branches."""
    types = {}
    for name, values in columns.items():
        if isinstance(values, ak.Array):  # jagged: one variable-length list per entry
            types[name] = str(values.type.content)
            continue
        values = np.asarray(values)
        if values.dtype.kind in "OUS":
            types[name] = "string"
        elif values.ndim == 1:
            types[name] = values.dtype
        else:
            types[name] = (values.dtype, values.shape[1:])
    return types


def write_tree(directory, name, chunks, title=""):
    """Write a TTree from an iterable of ``{branch: array}`` chunks, extending in baskets
    of at least 100,000 entries or ~10 MB (small extends make slow, bloated files).
    Returns the number of entries written.

    Each basket is merged, compressed and written on a helper thread while the caller's
    iterable makes the next one (compression releases the GIL), so producing the chunks
    and writing them overlap; at most one basket is in flight, which bounds the memory.
    A chunk's arrays must not be changed after it is yielded: they may still be read."""
    tree = None
    pending = []
    pending_entries = pending_bytes = written = 0
    in_flight = None

    def extend(baskets):
        if len(baskets) == 1:  # a chunk as large as a basket: no copy
            tree.extend(baskets[0])
            return
        merged = {k: (ak.concatenate if isinstance(baskets[0][k], ak.Array) else np.concatenate)(
            [b[k] for b in baskets]) for k in baskets[0]}
        tree.extend(merged)

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="rootgan-writer") as writer:
        def flush():
            nonlocal pending, pending_entries, pending_bytes, written, in_flight
            if in_flight is not None:
                in_flight.result()  # raises the writer's error here, in the caller
            in_flight = writer.submit(extend, pending) if pending else None
            written += pending_entries
            pending, pending_entries, pending_bytes = [], 0, 0

        # leaving this block waits for the basket in flight, also when the producer fails
        for chunk in chunks:
            entries = len(next(iter(chunk.values())))
            if entries == 0:
                continue
            if tree is None:
                tree = directory.mktree(name, branch_types(chunk), title=title)
            pending.append(chunk)
            pending_entries += entries
            pending_bytes += sum(v.nbytes for v in chunk.values())
            if pending_entries >= BASKET_ENTRIES or pending_bytes >= BASKET_BYTES:
                flush()
        if tree is None:
            return 0
        flush()
        if in_flight is not None:
            in_flight.result()
    return written


def write_histogram(directory, name, counts, edges, title="", x_title="", y_title="",
                    squares=None, flow=(0.0, 0.0)):
    """A TH1D from bin contents and edges (uniform or not). ``squares`` (sums of squared
    weights per bin) are stored as the errors when given; without them a history (a value
    per epoch) draws as a plain curve. ``flow`` fills the under- and overflow bins."""
    counts = np.asarray(counts, np.float64)
    edges = np.asarray(edges, np.float64)
    centers = (edges[1:] + edges[:-1]) / 2
    uniform = np.allclose(np.diff(edges), edges[1] - edges[0])
    x_axis = to_TAxis("xaxis", x_title, counts.size, edges[0], edges[-1],
                      fXbins=np.empty(0) if uniform else edges)
    y_axis = to_TAxis("yaxis", y_title, 1, 0.0, 1.0)
    cells = np.concatenate([[flow[0]], counts, [flow[1]]])  # underflow, bins, overflow
    sumw2 = np.zeros_like(cells) if squares is None else \
        np.concatenate([[0.0], np.asarray(squares, np.float64), [0.0]])
    directory[name] = to_TH1x(
        name, title, cells, fEntries=float(cells.sum() if squares is not None else counts.size),
        fTsumw=counts.sum(), fTsumw2=float(sumw2.sum() if squares is not None
                                           else (counts ** 2).sum()),
        fTsumwx=float((counts * centers).sum()), fTsumwx2=float((counts * centers ** 2).sum()),
        fSumw2=sumw2, fXaxis=x_axis, fYaxis=y_axis)
