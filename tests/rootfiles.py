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
