"""Expressions mean what ROOT's TTree::Draw means, and can do nothing but compute.

The table evaluates every expression with ROOT's own ``TTree::Draw`` (``goff``) and with
rootgan on a tree ROOT wrote, and compares which events have a value and the values. The
catalogue tries to escape into Python from every place a user writes an expression.
``python -m tests.test_expressions`` prints the table.
"""

import contextlib
import signal

import numpy as np
import pytest

import uproot
from rootgan import TMVA
from rootgan.errors import DataError, ExpressionError
from rootgan.io.expressions import MAX_DEPTH, MAX_LENGTH, parse
from rootgan.io.formulas import TreeFormulas
from rootgan.io.sources import open_tree

from . import rootfiles
from .rootfiles import EXPRESSION_EVENTS, PIXELS

TABLE = [
    # numbers, scalars and operators (ROOT's grouping and precedence)
    "x", "i", "f", "b", "d * 3 - x", "x + 2*i - f/3", "3/2", "i/2", "x/i", "1/(i - 5)",
    "i % 7", "-i % 7",
    "x % 3", "x^2", "x**0.5", "2^3^2", "-x^2", "x - i + f - 3", "x * f * i * 1.1", "x / f / 3",
    "1 < 2 < 3", "i > -5 > 0", "0 == 1 < 2", "x > 0 && i < 10 || b", "!b", "!x == 0",
    "!i + 1", "x > 0 ? x : -2*x", "b ? i : x > 5 ? 1 : 2", "(i & 5) + (i | 2)",
    "abs(i) << 2", "x && !b || i == 3",
    # functions: ROOT's builtins with their guards, TMath:: as the C library
    "sqrt(x)", "TMath::Sqrt(x)", "log(x)", "TMath::Log(abs(x))", "log10(abs(i))", "exp(x)",
    "exp(i*40)", "TMath::Exp(x/3)", "sin(x) + cos(f) - tan(i)", "atan2(x, f)",
    "TMath::ATan2(f, x)", "asin(x/10)", "TMath::ACos(f/5)", "sinh(f) + cosh(f/2) + tanh(x)",
    "asinh(x) + acosh(abs(x)) + atanh(f/6)", "min(x, f) + max(i, f)",
    "TMath::Min(x, f) * TMath::Max(i, 2)", "TMath::Hypot(x, f)",
    "TMath::Floor(x) + TMath::Ceil(f)", "TMath::Erf(x/4) + TMath::Erfc(f)", "erf(f) * erfc(x/9)",
    "int(x) + sign(f)", "fmod(x, 2.5)", "TMath::Abs(i) * TMath::Pi()", "sq(f) - pi",
    "pow(f, 3) - TMath::Power(x, 2)", "TMath::Nint(x) + TMath::Sign(f, i)",
    # fixed-size arrays, 1-D and 2-D
    "a[2]", "a[0] * a[4]", "m[1][2]", "m[2][3] - m[0][0]", "Sum$(a)", "Max$(m)",
    "Min$(m[1])", "Sum$(m[][3])", "Length$(m)", "a[i + 20]", "m[i + 20][1]",
    "m[1][abs(i) % 4]",
    "Sum$(image) / Length$(image)",
    # vectors and C arrays of a varying length: past the end, reductions, defaults
    "v[0]", "v[3]", "Sum$(v)", "Max$(v)", "Min$(v)", "Length$(v)", "Alt$(v[2], -99)",
    "Sum$(v*v)", "Sum$(a*v)", "Sum$(v > 0)", "Sum$(v > 0 ? v : 0)", "v[Length$(v) - 1]",
    "va[1]", "Sum$(va) / Alt$(va[0], 1)", "vi[1] / 2", "Max$(vi) - Min$(v)",
    "x > 0 ? v[1] : x", "v[1] > -2 && x < 0", "Entry$ % 3", "Entries$ - Entry$",
]
# ROOT refuses these when it compiles them; so does rootgan
REFUSED_BY_ROOT = ["a[5]", "m[3][0]", "m[0][4]", "x = 1", "v.size()", "sign(x, 1)", "e"]
# several values per event: TTree::Draw draws one point per element, TMVA makes one event
# of each; rootgan refuses them
SEVERAL_VALUES = ["v", "a", "m[1]", "a + v", "v > 0", "va * x"]

MARKER = "rootgan-escaped"
# {b} is a branch of the tree tried, {m} the marker file an escape would create
ESCAPES = [
    "(erf,)[0].__globals__['__builtins__']['__import__']('os').system('touch {m}') == 0",
    "__import__('os').system('touch {m}')",
    "erf.__globals__",
    "{b}.__class__.__mro__",
    "().__class__.__bases__[0].__subclasses__()",
    "[c for c in ().__class__.__base__.__subclasses__()]",
    "eval(\"__import__('os').system('touch {m}')\")",
    "exec('import os')",
    "open('{m}', 'w')",
    "compile('1', 'x', 'eval')",
    "getattr({b}, 'real')",
    "lambda: __import__('os')",
    "(lambda x: x)(1)",
    "f\"{{__import__('os').system('touch {m}')}}\"",
    "(y := __import__('os'))",
    "[*{b}]",
    "*{b}",
    "{b}.real",
    "os.system",
    "__builtins__",
    "globals()['os']",
    "vars()",
    "breakpoint()",
    "{b} if __import__('os').system('touch {m}') else 0",
    "{'a': 1}",
    "{b}[:, 0]",
    "{b}; import os",
    "b'touch'",
    "{b}.__getattribute__('real')",
    "type({b})",
    "{b} or __import__('os').system('touch {m}')",
    "\uff45\uff56\uff41\uff4c('1')",
    "{b}\x00",
    "{b} + " * (MAX_LENGTH // 4) + "1",
    "(" * (MAX_DEPTH + 1) + "{b}" + ")" * (MAX_DEPTH + 1),
]
# valid TTree::Draw: computed in float64 at once, never with Python's unbounded integers
TOWERS = ["9**9**9", "9^9^9^9^9", "10**10**10**10**10**10", "exp(exp(exp(1000)))",
          "2**2**2**2**2**2**2**2"]


@contextlib.contextmanager
def deadline(seconds):
    """Fail instead of hanging: SIGALRM after ``seconds``."""
    def expire(signum, frame):
        raise TimeoutError(f"took more than {seconds} s")
    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@pytest.fixture(scope="module")
def tree_file(tmp_path_factory):
    ROOT = rootfiles.import_root()
    path = tmp_path_factory.mktemp("expressions") / "expressions.root"
    rootfiles.write_expression_tree(ROOT, path)
    return str(path)


@pytest.fixture(scope="module")
def root_tree(tree_file):
    ROOT = rootfiles.import_root()
    handle = ROOT.TFile(tree_file)
    tree = handle.Get("events")
    tree.SetEstimate(-1)
    yield tree
    handle.Close()


def root_values(tree, expression):
    """(entries, values) TTree::Draw draws for ``expression``, None if ROOT refuses it."""
    rows = tree.Draw(f"Entry$:({expression})", "", "goff")
    if rows < 0:
        return None
    entries = np.array([tree.GetV1()[k] for k in range(rows)], np.int64)
    return entries, np.array([tree.GetV2()[k] for k in range(rows)])


def root_selection(tree, expression):
    rows = tree.Draw("Entry$", f"({expression})", "goff")
    return np.array([tree.GetV1()[k] for k in range(rows)], np.int64)


def rootgan_values(source, expression):
    formulas = TreeFormulas(source, {"e": expression})
    n = source.num_entries
    columns = formulas.read_branches(formulas.branches_of(["e"]), 0, n)
    values, present = formulas.compute(["e"], columns, 0, n)["e"]
    entries = np.arange(n) if present is None else np.flatnonzero(present)
    return entries, np.asarray(values, np.float64), present


def compare(tree, source, expression):
    """(ROOT's events with a value, rootgan's, the largest relative difference of the
    values); raises AssertionError where they differ."""
    reference = root_values(tree, expression)
    assert reference is not None, f"ROOT refuses {expression!r}"
    entries, values, present = rootgan_values(source, expression)
    np.testing.assert_array_equal(entries, reference[0], err_msg=f"{expression}: entries")
    np.testing.assert_allclose(values[entries], reference[1], rtol=1e-15, atol=0,
                               err_msg=expression)
    passed = (values != 0) if present is None else present & (values != 0)
    np.testing.assert_array_equal(np.flatnonzero(passed), root_selection(tree, expression),
                                  err_msg=f"{expression} as a selection")
    finite = np.isfinite(reference[1]) & (reference[1] != 0)
    difference = np.abs(values[entries][finite] / reference[1][finite] - 1)
    return reference[0].size, entries.size, float(difference.max()) if difference.size else 0.0


@pytest.mark.parametrize("expression", TABLE)
def test_expression_means_what_tree_draw_means(root_tree, tree_file, expression):
    compare(root_tree, open_tree(tree_file, "events"), expression)


def test_the_table_covers_vectors_2d_arrays_out_of_range_indices_and_division():
    assert len(TABLE) >= 30
    for needed in ("v[3]", "m[1][2]", "a[i + 20]", "x/i", "Alt$(v[2], -99)", "Sum$(m[][3])"):
        assert needed in TABLE


@pytest.mark.parametrize("expression", REFUSED_BY_ROOT)
def test_what_root_refuses_is_refused(root_tree, tree_file, expression):
    assert root_values(root_tree, expression) is None
    with pytest.raises(ExpressionError):
        TreeFormulas(open_tree(tree_file, "events"), {"e": expression})


@pytest.mark.parametrize("expression", SEVERAL_VALUES)
def test_several_values_per_event_are_refused_naming_sum_max_and_an_index(
        root_tree, tree_file, expression):
    assert root_tree.Draw(f"({expression})", "", "goff") > EXPRESSION_EVENTS
    with pytest.raises(ExpressionError, match=r"more than one value per event.*Sum\$\(\w+\), "
                                              r"Max\$\(\w+\) or Min\$\(\w+\), or pick one "
                                              r"element with \w+\[i\]"):
        TreeFormulas(open_tree(tree_file, "events"), {"e": expression})


def test_python_words_and_or_not_mean_the_cpp_operators(tree_file):
    source = open_tree(tree_file, "events")
    np.testing.assert_array_equal(rootgan_values(source, "x and not b or i == 3")[1],
                                  rootgan_values(source, "x && !b || i == 3")[1])


def test_modulo_by_zero_is_nan_where_root_crashes(tree_file):
    _, values, _ = rootgan_values(open_tree(tree_file, "events"), "x % (i - i)")
    assert np.isnan(values).all()


# -- through the DataLoader --------------------------------------------------------------

def loader_for(tree_file):
    loader = TMVA.DataLoader("dataset")
    loader.AddVariablesArray("image", PIXELS)
    loader.AddSignalTree(f"{tree_file}:events")
    return loader


def test_an_index_is_the_element_of_each_event_not_of_the_chunk(tree_file):
    loader = loader_for(tree_file)
    loader.AddCondition("c := a[0]")
    loader.AddVariable("image[12]")
    events = loader.PrepareTrainingAndTestTree("", "SplitMode=Block:nTest_Signal=1").training \
        .read_all()
    entries = np.arange(EXPRESSION_EVENTS - 1)
    np.testing.assert_array_equal(events["c"], entries * 0.5 - 3)
    np.testing.assert_allclose(events["image[12]"], entries + 0.12, rtol=1e-6)


def test_past_the_end_of_a_vector_an_event_is_skipped_and_counted_or_alt_gives_a_default(
        tree_file):
    loader = loader_for(tree_file)
    loader.AddCondition("third := v[2]")
    dataset = loader.PrepareTrainingAndTestTree("i < 15", "SplitMode=Block:nTest_Signal=1")
    kept = np.array([e for e in range(35) if e % 5 > 2])
    events = dataset.training.read_all()
    entries = np.round(events["image"][:, 0]).astype(int)
    np.testing.assert_array_equal(np.sort(np.concatenate([entries, np.round(
        dataset.test.read_all()["image"][:, 0]).astype(int)])), kept)
    np.testing.assert_allclose(events["third"], (entries - 4) / 3, rtol=1e-6)
    assert (f"note: {35 - kept.size} Signal events skipped: the condition 'v[2]' has no value "
            f"for them") in dataset.summary()

    loader = loader_for(tree_file)
    loader.AddCondition("third := Alt$(v[2], -1)")
    events = loader.PrepareTrainingAndTestTree("", "SplitMode=Block:nTest_Signal=1").training \
        .read_all()
    entries = np.round(events["image"][:, 0]).astype(int)
    expected = np.where(entries % 5 > 2, (entries - 4) / 3, -1)
    np.testing.assert_allclose(events["third"], expected, rtol=1e-6)


def test_a_vector_without_an_index_is_refused_before_anything_is_read(tree_file, monkeypatch):
    reads = record_reads(monkeypatch)
    loader = loader_for(tree_file)
    loader.AddVariable("v")
    with pytest.raises(ExpressionError, match=r"the variable 'v' cannot be used: it has more "
                                              r"than one value per event: v \(std::vector"
                                              r"<float>\).*Sum\$\(v\), Max\$\(v\) or Min\$\(v\)"):
        loader.PrepareTrainingAndTestTree("", "")
    assert reads == []


def test_a_nan_cut_raises_with_its_entry_or_is_dropped(tree_file):
    loader = loader_for(tree_file)
    with pytest.raises(DataError, match="entry 13 has a NaN or infinite cut from 'v\\[0\\]'"):
        loader.PrepareTrainingAndTestTree("v[0]", "")
    dataset = loader.PrepareTrainingAndTestTree("v[0]", "NonFinite=DROP")
    assert "1 Signal events dropped for a NaN or infinite weight or cut" in dataset.summary()


def test_only_the_branches_an_expression_names_are_read(tree_file, monkeypatch):
    reads = record_reads(monkeypatch)
    source = open_tree(tree_file, "events")
    rootgan_values(source, "x > 0 && v[1] > -5 || Sum$(m[1]) > 3")
    assert sorted(reads) == ["m", "v", "x"]


def test_numbers_are_float64_so_exponent_towers_are_computed_at_once(tree_file):
    source = open_tree(tree_file, "events")
    with deadline(5):
        for tower in TOWERS:
            _, values, _ = rootgan_values(source, tower)
            assert values.dtype == np.float64
    assert rootgan_values(source, "9**9**9")[1][0] == pytest.approx(387420489.0 ** 9)  # ROOT's
    assert np.isinf(rootgan_values(source, "9^9^9^9^9")[1]).all()


def test_inputs_too_long_or_too_deep_are_refused():
    with pytest.raises(ExpressionError, match=f"at most {MAX_LENGTH:,} are accepted"):
        parse("1+" * (MAX_LENGTH // 2) + "1")
    with pytest.raises(ExpressionError, match=f"nested more than {MAX_DEPTH} deep"):
        parse("(" * (MAX_DEPTH + 1) + "1" + ")" * (MAX_DEPTH + 1))
    with pytest.raises(ExpressionError, match=f"nested more than {MAX_DEPTH} deep"):
        parse("-sqrt(" * MAX_DEPTH + "1" + ")" * MAX_DEPTH)
    parse("+".join(["x"] * 4000))  # long but flat: fine


def test_a_refusal_quotes_the_expression_with_a_caret_and_lists_what_is_allowed():
    with pytest.raises(ExpressionError) as refused:
        parse("pt > 250 && jet.__class__", "cut")
    assert str(refused.value).splitlines()[:3] == [
        "the cut 'pt > 250 && jet.__class__' cannot be used: names beginning with '__' are "
        "not allowed",
        "    pt > 250 && jet.__class__",
        "                ^^^^^^^^^^^^^"]
    with pytest.raises(ExpressionError) as refused:
        parse("sqrt(pt) > 'x'", "cut")
    assert "allowed: numbers; branch names" in str(refused.value)
    assert isinstance(refused.value, DataError)


# -- the escape catalogue ----------------------------------------------------------------

def record_reads(monkeypatch):
    """The names of the branches read from now on (TBranch.array, HasBranches.arrays and
    iterate record themselves)."""
    reads = []
    behaviors = uproot.behaviors.TBranch
    array, arrays, iterate = (behaviors.TBranch.array, behaviors.HasBranches.arrays,
                              behaviors.HasBranches.iterate)

    def record_array(self, *args, **keywords):
        reads.append(self.name)
        return array(self, *args, **keywords)

    def record_arrays(self, *args, **keywords):
        reads.append(f"arrays of {self.name}")
        return arrays(self, *args, **keywords)

    def record_iterate(self, *args, **keywords):
        reads.append(f"iterate of {self.name}")
        return iterate(self, *args, **keywords)
    monkeypatch.setattr(behaviors.TBranch, "array", record_array)
    monkeypatch.setattr(behaviors.HasBranches, "arrays", record_arrays)
    monkeypatch.setattr(behaviors.HasBranches, "iterate", record_iterate)
    return reads


def hostile(template, branch, marker):
    """An escape attempt for a tree with ``branch``, aimed at creating ``marker``."""
    return template.replace("{b}", branch).replace("{m}", str(marker))


def attempts(expression, tree_file, out_dir):
    """Every place a user writes an expression, each given ``expression``: functions that
    return True when it is refused."""
    def refused(action):
        try:
            action()
        except DataError:
            return True
        return False

    def weight():
        loader = loader_for(tree_file)
        loader.SetWeightExpression(expression)
        loader.PrepareTrainingAndTestTree("", "")

    def variable():
        loader = loader_for(tree_file)
        loader.AddVariable(expression)
        loader.PrepareTrainingAndTestTree("", "")

    def condition():
        loader = loader_for(tree_file)
        loader.AddCondition(f"c := {expression}")
        loader.PrepareTrainingAndTestTree("", "")

    def compare_real_cut():
        from rootgan.cli import main

        spec = f"{tree_file}:events"
        return main(["compare", spec, spec, "--real-cut", expression, "--out-dir",
                     str(out_dir), "--no-classifier"]) == 2
    return {"cut": lambda: refused(lambda: loader_for(tree_file).PrepareTrainingAndTestTree(
                expression, "")),
            "weight expression": lambda: refused(weight),
            "variable": lambda: refused(variable),
            "condition": lambda: refused(condition),
            "rootgan compare --real-cut": compare_real_cut}


@pytest.mark.parametrize("template", ESCAPES)
def test_an_escape_attempt_is_refused_before_any_branch_is_read(template, tree_file, tmp_path,
                                                                monkeypatch, capsys):
    marker = tmp_path / MARKER
    expression = hostile(template, "x", marker)
    reads = record_reads(monkeypatch)
    with deadline(5):
        for where, attempt in attempts(expression, tree_file, tmp_path / "compare").items():
            assert attempt(), f"{where} accepted {expression[:80]!r}"
    assert reads == [], f"{expression[:80]!r} read branches {reads}"
    assert not marker.exists()
    assert "cannot be used" in capsys.readouterr().err  # rootgan compare's refusal


def test_the_catalogue_tries_every_way_out():
    assert len(ESCAPES) >= 25
    joined = "\n".join(ESCAPES + TOWERS)
    for way in ("__globals__", "__import__", "lambda", "f\"", ":=", "*{b}", "eval(",
                "open(", "{b}.real", "9**9"):
        assert way in joined
    assert any(len(e) > MAX_LENGTH for e in ESCAPES)


if __name__ == "__main__":
    import tempfile

    ROOT = rootfiles.import_root()
    with tempfile.TemporaryDirectory() as folder:
        path = f"{folder}/expressions.root"
        rootfiles.write_expression_tree(ROOT, path)
        handle = ROOT.TFile(path)
        tree = handle.Get("events")
        tree.SetEstimate(-1)
        source = open_tree(path, "events")
        print("| expression | events with a value: ROOT | rootgan | largest relative "
              "difference |")
        print("|---|---|---|---|")
        for expression in TABLE:
            root_events, events, difference = compare(tree, source, expression)
            print(f"| `{expression}` | {root_events} | {events} | {difference:.1e} |")
