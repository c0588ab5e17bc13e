"""Test inputs written by real ROOT (PyPI's ``root``, the rootcheck extra), the way
physicists write them: a TTree filled from PyROOT and RDataFrame snapshots.

Every file holds ``N_EVENTS`` events with a 4x4 image whose pixel i of entry e is
``e + i / 100``, an integer ``label`` (e % 3), ``energy`` (10 + e), ``weight`` (1 + e % 2)
and ``flag`` (e % 2 == 0), so tests can check values exactly.
"""

import os

import numpy as np
import pytest

N_EVENTS = 60
PIXELS = 16


def import_root():
    """PyROOT, or a skip with the reason; in CI (CI=true) a missing ROOT is a failure."""
    try:
        import ROOT
    except ImportError as error:
        reason = (f"ROOT is not importable ({error}): install the rootcheck extra "
                  f"(pip install -e .[rootcheck]) to test with files written by ROOT")
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    ROOT.gROOT.SetBatch(True)
    return ROOT


def expected_images(entries=None):
    entries = np.arange(N_EVENTS) if entries is None else np.asarray(entries)
    return (entries[:, None] + np.arange(PIXELS)[None, :] / 100).astype(np.float32)


_DEFINE_SCALARS = [
    ("label", "int(rdfentry_ % 3)"),
    ("energy", "float(10 + rdfentry_)"),
    ("weight", "float(1 + rdfentry_ % 2)"),
    ("flag", "bool(rdfentry_ % 2 == 0)"),
]


def _with_scalars(frame):
    for name, expression in _DEFINE_SCALARS:
        frame = frame.Define(name, expression)
    return frame


def write_fixed_array(ROOT, path, tree="events", nan_entry=None):
    """``image[16]/F`` filled from PyROOT, plus the scalar branches."""
    handle = ROOT.TFile(str(path), "RECREATE")
    t = ROOT.TTree(tree, "fixed-size array images")
    image = np.zeros(PIXELS, np.float32)
    label = np.zeros(1, np.int32)
    energy = np.zeros(1, np.float32)
    weight = np.zeros(1, np.float32)
    flag = np.zeros(1, np.bool_)
    t.Branch("image", image, f"image[{PIXELS}]/F")
    t.Branch("label", label, "label/I")
    t.Branch("energy", energy, "energy/F")
    t.Branch("weight", weight, "weight/F")
    t.Branch("flag", flag, "flag/O")
    for entry in range(N_EVENTS):
        image[:] = expected_images([entry])[0]
        if entry == nan_entry:
            image[3] = np.nan
        label[0], energy[0], weight[0], flag[0] = entry % 3, 10 + entry, 1 + entry % 2, \
            entry % 2 == 0
        t.Fill()
    t.Write()
    handle.Close()


def write_vector(ROOT, path, tree="events", short_entry=None):
    """``std::vector<float> image`` filled from PyROOT (entry ``short_entry`` one short)."""
    handle = ROOT.TFile(str(path), "RECREATE")
    t = ROOT.TTree(tree, "std::vector images")
    image = ROOT.std.vector("float")()
    label = np.zeros(1, np.int32)
    t.Branch("image", image)
    t.Branch("label", label, "label/I")
    for entry in range(N_EVENTS):
        image.clear()
        values = expected_images([entry])[0]
        for value in values[:-1] if entry == short_entry else values:
            image.push_back(float(value))
        label[0] = entry % 3
        t.Fill()
    t.Write()
    handle.Close()


def write_rvec(ROOT, path, tree="events"):
    """``ROOT::RVec<float> image`` from an RDataFrame snapshot."""
    frame = ROOT.RDataFrame(N_EVENTS).Define(
        "image", f"ROOT::RVecF v({PIXELS}); for (int i = 0; i < {PIXELS}; ++i) "
                 f"v[i] = float(rdfentry_) + i / 100.f; return v;")
    _with_scalars(frame).Snapshot(tree, str(path))


def write_scalars(ROOT, path, tree="events", separator="_"):
    """Sixteen scalar branches ``image_0 ... image_15`` from an RDataFrame snapshot."""
    frame = ROOT.RDataFrame(N_EVENTS)
    for i in range(PIXELS):
        frame = frame.Define(f"image{separator}{i}", f"float(rdfentry_) + {i} / 100.f")
    _with_scalars(frame).Snapshot(tree, str(path))


def write_string_branch(ROOT, path, tree="events"):
    frame = ROOT.RDataFrame(N_EVENTS).Define("image", 'std::string("not pixels")')
    frame.Snapshot(tree, str(path))


EXPRESSION_EVENTS = 40


def write_expression_tree(ROOT, path, tree="events"):
    """Every kind of branch an expression reads, filled from PyROOT: scalars ``x/D``,
    ``i/I``, ``f/F``, ``b/O``, a Double32_t ``d/d[0,100,16]``; fixed arrays ``a[5]/F``
    and ``m[3][4]/F``; a ``std::vector<float> v`` of 0 to 4 values (NaN first in entry
    13, second in entry 19); a C array ``va[n]/F`` of ``n`` values; a
    ``std::vector<int> vi``; an ``image[16]/F``."""
    handle = ROOT.TFile(str(path), "RECREATE")
    t = ROOT.TTree(tree, "branches for expressions")
    x, i, f, b = (np.zeros(1, np.float64), np.zeros(1, np.int32), np.zeros(1, np.float32),
                  np.zeros(1, np.bool_))
    d = np.zeros(1, np.float64)
    a, m = np.zeros(5, np.float32), np.zeros((3, 4), np.float32)
    n, va = np.zeros(1, np.int32), np.zeros(4, np.float32)
    image = np.zeros(PIXELS, np.float32)
    v, vi = ROOT.std.vector("float")(), ROOT.std.vector("int")()
    for name, array, leaf in (("x", x, "x/D"), ("i", i, "i/I"), ("f", f, "f/F"),
                              ("b", b, "b/O"), ("d", d, "d/d[0,100,16]"), ("a", a, "a[5]/F"),
                              ("m", m, "m[3][4]/F"),
                              ("n", n, "n/I"), ("va", va, "va[n]/F"),
                              ("image", image, f"image[{PIXELS}]/F")):
        t.Branch(name, array, leaf)
    t.Branch("v", v)
    t.Branch("vi", vi)
    for entry in range(EXPRESSION_EVENTS):
        x[0], i[0], f[0] = entry * 0.75 - 12.3, entry - 20, 5 * np.sin(entry)
        b[0], d[0] = entry % 3 == 0, entry * 2.37
        a[:] = (entry + np.arange(5)) * 0.5 - 3
        m[:] = (entry - 7) * (np.arange(3)[:, None] - 1) + 0.25 * np.arange(4)[None, :]
        n[0] = entry * 7 % 4
        va[:] = np.arange(4) * 1.5 - entry / 4
        image[:] = entry + np.arange(PIXELS) / 100
        v.clear()
        vi.clear()
        for k in range(entry % 5):
            v.push_back(float("nan") if (entry, k) in ((13, 0), (19, 1)) else (entry - 2 * k) / 3)
        for k in range((entry + 2) % 4):
            vi.push_back(k * 3 - entry)
        t.Fill()
    t.Write()
    handle.Close()
