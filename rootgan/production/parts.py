"""A generation run split into parts: which events each part holds, its file and random
stream, how a finished part is recognised, and the manifest that lists them.

Part ``i`` holds events ``[i*M, min(n, (i+1)*M))`` (``M`` events per file) in ``PATH`` with
``{index}`` replaced by ``i``, zero padded; its noise comes from
``SeedSequence(entropy, spawn_key=(i,))``, the i-th child stream of the run's seed, so a
part's events depend on nothing but the run and its index. Each part's tree title ends with
the run's tag (a digest of the weights file, seed, event counts, batch size and
conditions): a rerun of the same command recognises finished parts by it, and refuses to
mix in parts of another run. The manifest (``PATH`` with ``{index}`` replaced by
``manifest``) is written last.
"""

import hashlib
import json
import os
import re

import numpy as np
import uproot

from ..errors import DataError, OptionError
from ..io.output import staged, write_tree

INDEX = "{index}"
DEFAULT_EVENTS_PER_FILE = 1_000_000
PART_TREE = "GeneratedTree"


class Part:
    """One part of a run: ``index``, its ``path``, and events ``start`` to ``stop`` - 1."""

    def __init__(self, index, path, start, stop):
        self.index, self.path, self.start, self.stop = index, path, start, stop

    @property
    def events(self):
        return self.stop - self.start

    def __repr__(self):
        return f"Part({self.index}, {self.path!r}, {self.start}-{self.stop - 1})"


def positive_integer(value, flag):
    """``value`` as an int if it is a positive whole number, else an OptionError for
    ``flag``."""
    try:
        whole = int(value)
        ok = not isinstance(value, bool) and whole == value and whole >= 1
    except (TypeError, ValueError, OverflowError):
        ok = False
    if not ok:
        raise OptionError(f"{flag} must be a positive integer, got {value!r}")
    return whole


def check_pattern(out, events_per_file):
    """The parts' path pattern (absolute: workers may run in other folders) and the events
    per file, or an OptionError saying how to ask."""
    out = os.fspath(out)
    if INDEX not in out:
        raise OptionError(f"--out {out}: writing parts needs {INDEX} in the output path, "
                          f"where each part's number goes, e.g. --out "
                          f"'generated/part-{INDEX}.root'")
    if events_per_file is None:
        events_per_file = DEFAULT_EVENTS_PER_FILE
    return os.path.abspath(out), positive_integer(events_per_file, "--events-per-file")


def plan_parts(pattern, n, events_per_file):
    """The Parts of ``n`` events, ``events_per_file`` each (the last may hold fewer)."""
    count = -(-n // events_per_file)
    width = len(str(count - 1))
    return [Part(i, pattern.replace(INDEX, f"{i:0{width}d}"), i * events_per_file,
                 min(n, (i + 1) * events_per_file)) for i in range(count)]


def check_no_strangers(pattern, parts):
    """A DataError if the folder holds files named like parts of this pattern that are not
    in the plan (another run's, numbered with another width or beyond this run's count):
    a glob of the parts would mix them in."""
    folder, name = os.path.split(pattern)
    if INDEX not in name or not os.path.isdir(folder):
        return
    before, after = name.split(INDEX, 1)
    shape = re.compile(re.escape(before) + r"\d+" + re.escape(after) + "$")
    planned = {os.path.basename(part.path) for part in parts}
    strangers = sorted(f for f in os.listdir(folder) if shape.match(f) and f not in planned)
    if strangers:
        shown = ", ".join(strangers[:3]) + (", ..." if len(strangers) > 3 else "")
        raise DataError(f"{folder} holds {len(strangers)} part file(s) that this run does not "
                        f"plan ({shown}): parts of another run; remove them or write "
                        f"elsewhere with another --out")


def manifest_path(pattern):
    return pattern.replace(INDEX, "manifest")


def part_rng(entropy, index):
    """Part ``index``'s random generator: the index-th child stream of the run's seed."""
    return np.random.default_rng(np.random.SeedSequence(entropy, spawn_key=(index,)))


def file_digest(path):
    """SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def conditions_digest(conditions):
    """A description of the conditions a run was given, for its tag: None (the training
    conditions), a tree, fixed values, or per-event arrays (hashed)."""
    if conditions is None:
        return "training conditions"
    if isinstance(conditions, str):
        return f"tree {conditions}"
    described = {}
    for name in sorted(conditions):
        value = np.asarray(conditions[name], np.float64)
        described[name] = (float(value) if value.ndim == 0 else
                           "sha256:" + hashlib.sha256(value.tobytes()).hexdigest())
    return json.dumps(described, sort_keys=True)


def run_tag(weights_sha256, entropy, n, events_per_file, batch_size, conditions):
    """The tag every part's title carries: 16 hex digits of a digest of what decides the
    events."""
    text = json.dumps([weights_sha256, list(entropy), n, events_per_file, batch_size,
                       conditions_digest(conditions)])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def part_title(description, part, count, tag):
    return f"{part.events} events generated by {description}, part {part.index} of {count}, " \
           f"run {tag}"


def is_finished(part, tag):
    """True when ``part``'s file exists and was written by the run tagged ``tag``; False
    when there is no file; a DataError when the file belongs to another run or cannot be
    read (it is never half-written: parts are renamed into place when complete)."""
    if not os.path.exists(part.path):
        return False
    try:
        with uproot.open(part.path) as handle:
            tree = handle[PART_TREE]
            title, entries = tree.title, tree.num_entries
    except Exception as error:  # noqa: BLE001 (uproot raises many kinds for a bad file)
        raise DataError(f"{part.path}: an existing file that is not a readable part "
                        f"({type(error).__name__}: {error}); remove it and run again") from None
    if not title.endswith(f"run {tag}") or entries != part.events:
        raise DataError(f"{part.path} holds {entries:,} events of another run ({title!r}), "
                        f"not part {part.index} of this one (run {tag}); remove the old "
                        f"parts or write elsewhere with another --out")
    return True


def write_manifest(pattern, parts, run):
    """The manifest ROOT file: TTree ``parts`` (index, file name relative to the manifest,
    events, first eventNumber) and a one-entry TTree ``run`` (``run``'s entries: seed,
    weights file and its SHA-256, events, ...). Returns its path."""
    path = manifest_path(pattern)
    folder = os.path.dirname(os.path.abspath(path))
    with staged(path, fresh=True) as handle:
        write_tree(handle, "parts", [{
            "index": np.array([p.index for p in parts], np.int64),
            "file": np.array([os.path.relpath(os.path.abspath(p.path), folder) for p in parts],
                             dtype=object),
            "events": np.array([p.events for p in parts], np.int64),
            "first_event": np.array([p.start for p in parts], np.int64)}],
            title="the parts of a rootgan generation run")
        write_tree(handle, "run", [{
            name: (np.array([value], np.int64) if isinstance(value, int) else
                   np.array([str(value)], dtype=object)) for name, value in run.items()}],
            title="how the parts were generated")
    return path


def read_manifest(path):
    """A manifest's run entries as a dict, with ``files``: the parts' paths in order
    (resolved against the manifest's folder), ready for ``uproot.concatenate`` or a
    TChain."""
    try:
        with uproot.open(os.fspath(path)) as handle:
            parts = handle["parts"].arrays(library="np")
            run = handle["run"].arrays(library="np")
    except FileNotFoundError:
        raise DataError(f"no manifest {path}") from None
    except Exception as error:  # noqa: BLE001
        raise DataError(f"{path} is not a rootgan manifest ({type(error).__name__}: "
                        f"{error})") from None
    folder = os.path.dirname(os.path.abspath(os.fspath(path)))
    info = {name: (int(values[0]) if values.dtype.kind in "iu" else str(values[0]))
            for name, values in run.items()}
    order = np.argsort(parts["index"])
    info["files"] = [os.path.join(folder, str(parts["file"][i])) for i in order]
    info["part_events"] = [int(parts["events"][i]) for i in order]
    return info
