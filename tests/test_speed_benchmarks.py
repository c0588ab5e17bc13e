"""The speed benchmarks run, in their seconds-long form (timings here mean nothing: the
benchmarks are run by hand, see their docstrings)."""

import os
import re
import subprocess
import sys

ROOT_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _run(script, *args):
    result = subprocess.run([sys.executable, os.path.join(ROOT_DIR, "benchmarks", script),
                             *args], capture_output=True, text=True, check=False, cwd=ROOT_DIR)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    return result.stdout


def test_step_profile_names_every_costly_layer_and_accounts_for_the_whole_step():
    output = _run("profile_step.py", "--batch", "8", "--threads", "1", "--steps", "2")
    assert "one training step at batch 8, 1 thread(s)" in output
    rows = {}
    for line in output.splitlines():
        match = re.match(r"(.+?)\s+([\d.]+)\s+([\d.]+)%", line)
        if match:
            rows[match.group(1).strip()] = float(match.group(3))
    for layer in ("G3 CONV|64|5|5|1|1|2|2|LEAKYRELU backward",
                  "G4 TRANSCONV|32|5|5|2|2|3|3|LEAKYRELU forward",
                  "D0 CONV|32|5|5|1|1|2|2|LEAKYRELU forward"):
        assert layer in rows
    # the rows are medians of separate timings, and the smallest are left out
    assert 80 < sum(rows.values()) < 120


def test_engine_benchmark_prints_every_configuration_with_a_ratio_and_the_start_up():
    output = _run("bench_gan.py", "--quick", "--threads", "1", "--seconds", "0.05",
                  "--repeats", "1")
    for configuration in ("training, batch 64", "training, batch 256",
                          "generation, batch 1024"):
        assert re.search(re.escape(f"| {configuration} | 1 |") + r".*\| ([\d.]+x|n/a) \|",
                         output)
    assert re.search(r"warm start \(Numba cache filled by the runs above\): [\d.]+ s", output)
    assert re.search(r"  rootgan: [\d,]+ MiB peak RSS", output)


def test_user_path_profile_splits_train_all_methods_into_engine_and_overhead():
    output = _run("profile_user_path.py", "--epochs", "1", "--batch", "64", "--threads", "1",
                  "--train", "128", "--details")
    assert "TrainAllMethods, benchmark GAN on the shipped W jets (128 training events)" in output
    shares = dict(re.findall(r"  (training steps \(engine\)|everything else.*?)\s+[\d.]+ s\s+"
                             r"([\d.]+)%", output))
    assert len(shares) == 2
    assert re.search(r"engine share: [\d.]+%", output)
    assert "own time outside rootgan/nn/" in output


def test_generation_benchmark_compares_the_file_path_with_the_generator_alone():
    output = _run("bench_generate.py", "-n", "3000", "--threads", "1",
                  "--train-seconds", "2")
    for row in ("in memory (the generator's own speed)", "to a ROOT file (rootgan.generate)",
                "to a ROOT file, a tenth of the events"):
        assert re.search(re.escape(row) + r"\s+[\d,]+\s+[\d,]+\s+[\d,]+ MiB", output)
    assert re.search(r"writing to a file runs at \d+% of the generator's own speed", output)


def test_older_blas_stands_in_for_the_default_environment_only_where_the_machine_sets_none(
        monkeypatch):
    sys.path.insert(0, os.path.join(ROOT_DIR, "benchmarks"))
    try:
        import bench_gan
    finally:
        sys.path.pop(0)
    monkeypatch.delenv("OPENBLAS_CORETYPE", raising=False)
    default = bench_gan.child_environment(1, False, older_blas="Sandybridge")
    benchmark = bench_gan.child_environment(1, True, older_blas="Sandybridge")
    assert default["OPENBLAS_CORETYPE"] == "Sandybridge"
    assert "OPENBLAS_CORETYPE" not in benchmark
    monkeypatch.setenv("OPENBLAS_CORETYPE", "Haswell")  # the machine's own setting wins
    assert bench_gan.child_environment(1, False, older_blas="Sandybridge")[
        "OPENBLAS_CORETYPE"] == "Haswell"


def test_dask_generation_benchmark_reports_rates_the_task_cost_and_a_projection():
    output = _run("bench_dask_generate.py", "-n", "20000", "--events-per-file", "5000",
                  "--train-seconds", "1", "--tiny-tasks", "3", "--workers", "1")
    for row in ("one file, every core (no parts)", "parts in this process (1 thread)",
                "parts on 1 local Dask worker(s)"):
        assert re.search(re.escape(row) + r"\s+[\d.]+\s+[\d,]+\s+[\d.]+x", output)
    assert re.search(r"per-task cost: -?\d+ ms \(3 parts of 100 events", output)
    assert re.search(r"projected: 100 million events on 100 workers.*: [\d.]+ minutes", output)


def test_streaming_benchmark_compares_cuts_and_weights_with_a_baseline():
    output = _run("bench_stream.py", "--budget", "2", "--factor", "2", "--cut",
                  "pt > 100 && abs(eta) < 2", "--weight", "weight * 2", "--baseline", ROOT_DIR,
                  "--repeat", "1")
    assert f"baseline ({ROOT_DIR}):" in output and "this checkout:" in output
    assert re.search(r"this checkout against .*: prepare [\d.]+x as fast, images/s [\d.]+x",
                     output)


def test_streaming_benchmark_reads_over_dask_within_the_budget():
    output = _run("bench_stream.py", "--budget", "2", "--factor", "3", "--scheduler", "local")
    assert re.search(r"one shuffled pass: [\d,]+ images in \d+ chunks, [\d.]+ s = [\d,]+ "
                     r"images/s read over Dask \(Scheduler=local\)", output)
    assert re.search(r"peak RSS [\d,]+ MB .*: within", output)
