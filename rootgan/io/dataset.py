"""Selecting, splitting and streaming the events a DataLoader describes.

``prepare`` opens every tree, checks the structure of every declared variable, evaluates
cuts and weights chunk by chunk, and splits each class into training and test events
(deterministic for a seed). It keeps only entry numbers and weights, so the images
themselves are read later, by ``Split.batches``, in chunks sized from the memory budget and
shuffled across chunks: a training set larger than memory works. With the ``Scheduler``
option the selection and the reading run on Dask workers (see dask.py), with the same
result.
"""

import numpy as np

from ..errors import DataError
from .columns import ArrayColumn, ExpressionColumns
from .expressions import combine_cuts
from .sources import TreeLocation, absolute, open_tree, resolve_trees, tree_locations

MEBIBYTE = 1 << 20


class TreeRequest:
    """A tree a class reads from: where, with which class weight, for which split."""

    def __init__(self, spec, class_name, weight=1.0, cut="", treetype=""):
        self.spec = spec
        self.class_name = class_name
        self.weight = float(weight)
        self.cut = cut or ""
        self.treetype = treetype  # "", "Training" or "Test"


class Layout:
    """What to read per event: array variables and scalar expressions by role."""

    def __init__(self, arrays, scalars, roles=None):
        self.arrays = dict(arrays)        # name -> values per event
        self.scalars = dict(scalars)      # label -> expression (variables, spectators, ...)
        self.roles = dict(roles or {})    # label -> "variable", "spectator", ... (messages)

    @property
    def bytes_per_event(self):
        return 4 * sum(self.arrays.values()) + 8 * len(self.scalars) + 32


class _BoundSource:
    """A tree with its columns bound and checked, and the cut and weight expression that
    select its events (``selection``)."""

    def __init__(self, source, layout, chunk_events, cut="", weight_expression=""):
        self.source = source
        # expressions first: one that is refused is refused before any branch is read
        self.scalars = ExpressionColumns(source, layout.scalars, layout.roles)
        self.selection = selection_columns(source, cut, weight_expression)
        self.arrays = {name: ArrayColumn(source, name, size)
                       for name, size in layout.arrays.items()}
        for column in self.arrays.values():
            column.check_structure(chunk_events)


def selection_columns(source, cut, weight_expression):
    """The ExpressionColumns of a cut and a weight expression (either may be empty)."""
    expressions = {label: text for label, text in (("cut", cut),
                                                   ("weight expression", weight_expression))
                   if text}
    return ExpressionColumns(source, expressions, {label: label for label in expressions})


def bind_tree(path, tree, layout, chunk_events):
    """The tree ``path:tree`` opened, its columns bound and their structure checked."""
    return _BoundSource(open_tree(path, tree), layout, chunk_events)


class LocalReader:
    """Reads chunks from trees opened in this process."""

    def __init__(self, bound, nonfinite):
        self.bound = bound
        self.nonfinite = nonfinite

    def stream(self, requests):
        """(columns, keep, dropped) of each (source index, entries) request, in order."""
        for s, entries in requests:
            yield read_columns(self.bound[s], entries, self.nonfinite)


def read_columns(bound, entries, nonfinite):
    """The declared columns of sorted ``entries`` of one tree: (columns, keep, dropped),
    where ``keep`` (None: every event) marks the events without NaN or infinite values
    and the columns hold only those (NonFinite=DROP); NonFinite=ERROR raises instead."""
    start, stop = int(entries[0]), int(entries[-1]) + 1
    # every entry of the range selected (no cut, Block split): no copy needed
    pick = slice(None) if stop - start == entries.size else entries - start
    columns = {name: column.read(start, stop)[pick] for name, column in bound.arrays.items()}
    columns.update({label: values[pick]
                    for label, values in bound.scalars.read(start, stop).items()})
    bad = np.zeros(entries.size, bool)
    culprit = {}
    for name, values in columns.items():
        if values.dtype.kind != "f":
            continue
        rows = ~np.isfinite(values) if values.ndim == 1 else ~np.isfinite(values).all(axis=1)
        if rows.any():
            culprit.setdefault(name, int(np.flatnonzero(rows)[0]))
            bad |= rows
    if not bad.any():
        return columns, None, 0
    if nonfinite == "ERROR":
        name, row = next(iter(culprit.items()))
        raise DataError(
            f"{bound.source.label}: entry {int(entries[row])} has a NaN or infinite value in "
            f"{name!r} ({int(bad.sum())} such events in entries {int(entries[0])}-"
            f"{int(entries[-1])}); fix the input, or drop such events with NonFinite=DROP in "
            f"PrepareTrainingAndTestTree's options")
    keep = ~bad
    return {name: values[keep] for name, values in columns.items()}, keep, int(bad.sum())


class Split:
    """Training or test events: which entries of which trees, with weights and classes."""

    def __init__(self, name, reader, source_index, entries, weights, class_ids, layout,
                 chunk_events):
        order = np.lexsort((entries, source_index))
        self.name = name
        self.reader = reader
        self.source_index = source_index[order]
        self.entries = entries[order]
        self.weights = weights[order]
        self.class_ids = class_ids[order]
        self.layout = layout
        self.chunk_events = max(1, int(chunk_events))
        self.dropped = 0

    def __len__(self):
        return self.entries.size

    def subset(self, name, positions):
        """A split of some of these events (positions into this split)."""
        positions = np.sort(np.asarray(positions, np.int64))
        return Split(name, self.reader, self.source_index[positions], self.entries[positions],
                     self.weights[positions], self.class_ids[positions], self.layout,
                     self.chunk_events)

    def _chunks(self):
        """(source, positions) groups whose entries span at most chunk_events entries, so
        reading the span stays within the budget however sparse the selection is."""
        for s in np.unique(self.source_index):
            positions = np.flatnonzero(self.source_index == s)
            entries = self.entries[positions]
            first = 0
            while first < positions.size:
                stop = int(np.searchsorted(entries, entries[first] + self.chunk_events))
                yield s, positions[first:stop]
                first = stop

    def _stream(self, chunks):
        """The events of each (source, positions) chunk, in the order given, with their
        weight and classID."""
        requests = ((s, self.entries[positions]) for s, positions in chunks)
        for (s, positions), (columns, keep, dropped) in zip(chunks,
                                                             self.reader.stream(requests)):
            columns["weight"] = self.weights[positions]
            columns["classID"] = self.class_ids[positions]
            if keep is not None:
                columns["weight"] = columns["weight"][keep]
                columns["classID"] = columns["classID"][keep]
                self.dropped += dropped
            yield columns

    def read_chunks(self):
        """The events of the split in tree order, one chunk of the budget at a time.
        ``dropped`` counts, per pass, the events NonFinite=DROP removed."""
        self.dropped = 0
        yield from self._stream(list(self._chunks()))

    def read_all(self):
        """Every event of the split in tree order (for test sets and small samples)."""
        parts = list(self.read_chunks())
        if not parts:
            return {}
        return {name: np.concatenate([p[name] for p in parts]) for name in parts[0]}

    def batches(self, batch_size, rng, buffer_events=None):
        """Shuffled batches of ``batch_size`` events (the last may be smaller), one pass.

        Chunks are visited in random order, and a shuffle buffer of ``buffer_events``
        (default: one chunk) mixes events across chunks, so consecutive batches draw from
        all over the sample while at most two chunks and the buffer are in memory."""
        buffer_events = self.chunk_events if buffer_events is None else int(buffer_events)
        chunks = list(self._chunks())
        pool = _Pool(min(buffer_events + batch_size + self.chunk_events, len(self)))
        self.dropped = 0
        for chunk in self._stream([chunks[i] for i in rng.permutation(len(chunks))]):
            pool.add(chunk)
            if pool.size <= buffer_events:
                continue
            # emit all but buffer_events of the pool in random order; keep the rest
            order = rng.permutation(pool.size)
            ready = (pool.size - buffer_events) // batch_size * batch_size
            for first in range(0, ready, batch_size):
                yield pool.rows(order[first:first + batch_size])
            pool.keep(order[ready:])
        order = rng.permutation(pool.size)
        for first in range(0, pool.size, batch_size):
            yield pool.rows(order[first:first + batch_size])


class _Pool:
    """The shuffle buffer: preallocated once per pass, so refilling it touches no new
    memory (fresh multi-megabyte arrays cost page faults on every chunk)."""

    def __init__(self, capacity):
        self.capacity = capacity
        self.columns = None
        self.size = 0

    def add(self, chunk):
        n = next(iter(chunk.values())).shape[0]
        if self.columns is None:
            self.columns = {k: np.empty((self.capacity,) + v.shape[1:], v.dtype)
                            for k, v in chunk.items()}
        for k, v in chunk.items():
            self.columns[k][self.size:self.size + n] = v
        self.size += n

    def rows(self, rows):
        return {k: v[rows] for k, v in self.columns.items()}

    def keep(self, rows):
        kept = self.rows(rows)
        for k, v in kept.items():
            self.columns[k][:rows.size] = v
        self.size = rows.size


class Dataset:
    """The prepared training and test splits, with the class names and a summary."""

    def __init__(self, name, class_names, training, test, negative_weights, sources,
                 dropped_weights, skipped):
        self.name = name
        self.sources = sources
        self.dropped_weights = dropped_weights
        self.skipped = skipped  # class -> {what: events without a value for it}
        self.class_names = class_names
        self.training = training
        self.test = test
        self.negative_weights = negative_weights

    def input_files(self):
        """Paths of the files the events come from, in order."""
        return list(dict.fromkeys(source.file_path for source in self.sources))

    def summary(self):
        lines = [f"Dataset {self.name}:"]
        width = max(len(c) for c in self.class_names)
        for class_id, name in enumerate(self.class_names):
            cells = []
            for split in (self.training, self.test):
                mine = split.class_ids == class_id
                cells.append(f"{split.name} {int(mine.sum()):>9,} events, sum of weights "
                             f"{split.weights[mine].sum():>12,.2f}")
            lines.append(f"  {name.ljust(width)}  " + "   ".join(cells))
        for name, count in self.negative_weights.items():
            if count:
                lines.append(f"  note: {count:,} {name} events have negative weights (kept)")
        for name, count in self.dropped_weights.items():
            if count:
                lines.append(f"  note: {count:,} {name} events dropped for a NaN or infinite "
                             f"weight or cut (NonFinite=DROP)")
        for name, skipped in self.skipped.items():
            for what, count in skipped.items():
                if count:
                    lines.append(f"  note: {count:,} {name} events skipped: the {what} has no "
                                 f"value for them (an index past the end of a vector), as "
                                 f"TTree::Draw skips them; Alt$(x[i], default) keeps them")
        return "\n".join(lines)


def prepare(name, layout, requests, cuts, weight_expressions, options):
    """Select and split the events of every class (see module docstring).

    ``cuts`` and ``weight_expressions`` map class names to TTree::Draw expressions;
    ``options`` are PrepareTrainingAndTestTree's parsed options."""
    class_names = list(dict.fromkeys(r.class_name for r in requests))
    if not class_names:
        raise DataError(f"DataLoader {name!r} has no trees: add them with AddSignalTree, "
                        f"AddBackgroundTree or AddTree before PrepareTrainingAndTestTree")
    if not layout.arrays and not layout.scalars:
        raise DataError(f"DataLoader {name!r} has no variables: declare the image with "
                        f"AddVariablesArray(name, size) (or scalars with AddVariable)")
    # A chunk is an eighth of the budget: a chunk being read (and its selected copy), the
    # shuffle buffer (one chunk) and the pool they form together stay within the budget.
    chunk_events = max(1, int(options["MemoryBudget"] * MEBIBYTE / 8 // layout.bytes_per_event))

    jobs = [(request, combine_cuts(cuts.get(request.class_name, ""), request.cut),
             weight_expressions.get(request.class_name, "")) for request in requests]
    if options["Scheduler"].lower() == "none":
        sources, reader, selections = _select_here(jobs, layout, chunk_events,
                                                   options["NonFinite"])
    else:
        sources, reader, selections = _select_on_dask(jobs, layout, chunk_events,
                                                      options["NonFinite"], options["Scheduler"])

    per_class, negative, dropped_weights = {c: [] for c in class_names}, {}, {}
    skipped = {c: {} for c in class_names}
    for index, (request, entries, weights, dropped, lost) in enumerate(selections):
        dropped_weights[request.class_name] = dropped_weights.get(request.class_name, 0) + dropped
        for what, count in lost.items():
            skipped[request.class_name][what] = skipped[request.class_name].get(what, 0) + count
        weights *= request.weight
        negative[request.class_name] = negative.get(request.class_name, 0) + int(
            (weights < 0).sum())
        per_class[request.class_name].append((index, entries, weights, request.treetype))

    training, test = [], []
    for class_id, class_name in enumerate(class_names):
        total = sum(e.size for _, e, _, _ in per_class[class_name])
        if total == 0:
            cut = cuts.get(class_name, "")
            trees = ", ".join(sources[i].label for i, *_ in per_class[class_name])
            raise DataError(f"no {class_name} events pass the selection"
                            + (f" (cut {cut!r})" if cut else "") + f" in {trees}")
        train_part, test_part = _split_class(class_name, per_class[class_name], options)
        for part, store in ((train_part, training), (test_part, test)):
            store.append(part + (np.full(part[0].size, class_id, np.int32),))
    _normalise(training, test, options["NormMode"])

    def make(split_name, parts):
        arrays = [np.concatenate([p[i] for p in parts]) for i in range(4)]
        return Split(split_name, reader, *arrays, layout, chunk_events)

    return Dataset(name, class_names, make("training", training), make("test", test), negative,
                   sources, dropped_weights, skipped)


def _select_here(jobs, layout, chunk_events, nonfinite):
    """Every tree of ``jobs`` (request, cut, weight expression) opened in this process:
    (sources, reader, [(request, entries, weights, dropped, skipped) per tree])."""
    bound, selections = [], []
    for request, cut, weight_expression in jobs:
        for source in resolve_trees(request.spec):
            bound.append(_BoundSource(source, layout, chunk_events, cut, weight_expression))
            selections.append((request, *_select(bound[-1], bound[-1].selection, chunk_events,
                                                 nonfinite)))
    return [item.source for item in bound], LocalReader(bound, nonfinite), selections


def _select_on_dask(jobs, layout, chunk_events, nonfinite, scheduler):
    """As ``_select_here``, with each tree opened and selected by a Dask task (one per
    tree) of the scheduler the Scheduler option names."""
    from .dask import DaskReader, client_for, select_all

    located = [(request, cut, weight_expression,
                TreeLocation(absolute(location.file_path), location.tree_name))
               for request, cut, weight_expression in jobs
               for location in tree_locations(request.spec)]
    client = client_for(scheduler)
    results = select_all(client, [(location.file_path, location.tree_name, cut, weight)
                                  for _, cut, weight, location in located],
                         layout, chunk_events, nonfinite)
    sources = [location for *_, location in located]
    reader = DaskReader(client, [(s.file_path, s.tree_name) for s in sources], layout,
                        chunk_events, nonfinite)
    selections = [(request, *result) for (request, *_), result in zip(located, results)]
    return sources, reader, selections


def _select(item, columns, chunk_events, nonfinite):
    """Entry numbers of ``item`` passing the cut of ``columns`` (selection_columns), their
    weights, how many were dropped for a NaN or infinite weight or cut (NonFinite=DROP),
    and {what: events skipped because an expression has no value for them}, read chunk by
    chunk."""
    entries, weights, dropped, skipped = [], [], 0, {}
    total = item.source.num_entries
    for start in range(0, total, chunk_events * 8):  # only a few numbers per event here
        stop = min(total, start + chunk_events * 8)
        values = columns.evaluate(columns.labels, start, stop)
        mask = np.ones(stop - start, bool)
        if "cut" in values:
            passed, present = values["cut"]
            if present is not None:
                mask &= present
            dropped += _nonfinite(mask, passed, item.source, start, stop, "cut",
                                  columns.texts["cut"], nonfinite)
            mask &= passed != 0
        lost = {item.scalars.describe(label): absent
                for label, absent in item.scalars.missing(start, stop).items()}
        weight = np.ones(stop - start)
        if "weight expression" in values:
            weight, present = values["weight expression"]
            weight = weight.astype(np.float64)
            if present is not None:
                lost[columns.describe("weight expression")] = ~present
        for what, absent in lost.items():
            skipped[what] = skipped.get(what, 0) + int((mask & absent).sum())
            mask &= ~absent
        dropped += _nonfinite(mask, weight, item.source, start, stop, "weight",
                              columns.texts.get("weight expression"), nonfinite)
        entries.append(np.flatnonzero(mask) + start)
        weights.append(weight[mask])
    if not entries:
        return np.empty(0, np.int64), np.empty(0), 0, {}
    return np.concatenate(entries).astype(np.int64), np.concatenate(weights), dropped, skipped


def _nonfinite(mask, values, source, start, stop, what, text, nonfinite):
    """Events of ``mask`` whose ``values`` are NaN or infinite: NonFinite=ERROR raises,
    DROP removes them from ``mask`` and returns how many."""
    if values.dtype.kind != "f":
        return 0
    bad = mask & ~np.isfinite(values)
    if not bad.any():
        return 0
    if nonfinite == "ERROR":
        raise DataError(
            f"{source.label}: entry {start + int(np.flatnonzero(bad)[0])} has a NaN or "
            f"infinite {what} from {text!r} ({int(bad.sum())} such events in entries "
            f"{start}-{stop - 1}); fix the input or drop such events with NonFinite=DROP")
    mask &= ~bad
    return int(bad.sum())


def _split_class(class_name, parts, options):
    """Training and test (source index, entry, weight) arrays of one class.

    Events of trees without a tree type are split by SplitMode, nTrain_<class> and
    nTest_<class> (0: what the other side leaves; both 0: half each) and join the events of
    trees given as Training or Test. When every tree has a tree type, nTrain/nTest take
    that many of its events (the first ones, or random ones for SplitMode=Random)."""
    fixed = {"Training": [], "Test": []}
    free = []
    for index, entries, weights, treetype in parts:
        target = fixed.get(treetype, free)
        target.append((np.full(entries.size, index, np.int64), entries, weights))
    n_train = options[f"nTrain_{class_name}"]
    n_test = options[f"nTest_{class_name}"]
    rng = np.random.default_rng(options["SplitSeed"])
    mode = options["SplitMode"]

    sources, entries, weights = _join(free)
    available = entries.size
    if not available:
        return (_take(_join(fixed["Training"]), n_train, mode, rng, f"nTrain_{class_name}"),
                _take(_join(fixed["Test"]), n_test, mode, rng, f"nTest_{class_name}"))
    if n_train + n_test > available:
        raise DataError(f"nTrain_{class_name}={n_train} plus nTest_{class_name}={n_test} "
                        f"exceed the {available:,} {class_name} events that pass the selection "
                        f"(and are not assigned to Training or Test by their tree)")
    if n_train == 0 and n_test == 0:
        n_train = available // 2
        n_test = available - n_train
    elif n_train == 0:
        n_train = available - n_test
    elif n_test == 0:
        n_test = available - n_train

    if mode == "Random":
        order = rng.permutation(available)
        train_rows, test_rows = order[:n_train], order[n_train:n_train + n_test]
    elif mode == "Alternate":
        rows = np.arange(available)
        train_rows = rows[0::2][:n_train]
        test_rows = rows[1::2][:n_test]
        if train_rows.size < n_train or test_rows.size < n_test:
            # more of one side than alternation provides: the rest in order
            rest = np.setdiff1d(rows, np.concatenate([train_rows, test_rows]))
            need_train = n_train - train_rows.size
            train_rows = np.concatenate([train_rows, rest[:need_train]])
            test_rows = np.concatenate([test_rows, rest[need_train:need_train + n_test -
                                                        test_rows.size]])
    else:  # Block
        train_rows = np.arange(n_train)
        test_rows = np.arange(n_train, n_train + n_test)

    train = _join(fixed["Training"] + [(sources[train_rows], entries[train_rows],
                                        weights[train_rows])])
    test = _join(fixed["Test"] + [(sources[test_rows], entries[test_rows], weights[test_rows])])
    return train, test


def _join(items):
    if not items:
        return np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0)
    return tuple(np.concatenate([item[i] for item in items]) for i in range(3))


def _take(arrays, count, mode, rng, option):
    """``count`` of the events (all when 0): random ones for Random, else the first."""
    size = arrays[1].size
    if count == 0:
        return arrays
    if count > size:
        raise DataError(f"{option}={count} exceeds the {size:,} events of the trees given for "
                        f"that side")
    rows = np.sort(rng.choice(size, count, replace=False)) if mode == "Random" \
        else np.arange(count)
    return tuple(a[rows] for a in arrays)


def _normalise(training, test, mode):
    """TMVA's NormMode: None keeps weights; NumEvents scales each class so its training
    weights sum to its number of training events; EqualNumEvents scales every class to the
    first class's number of training events."""
    if mode == "None":
        return
    target = None
    for train_part, test_part in zip(training, test):
        weights = train_part[2]
        total = weights.sum()
        if total <= 0:
            continue
        goal = weights.size if (mode == "NumEvents" or target is None) else target
        if target is None:
            target = weights.size
        factor = goal / total
        train_part[2][:] *= factor
        test_part[2][:] *= factor
