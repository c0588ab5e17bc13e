"""Which convolution path is faster for how many input channels.

rootgan computes a stride-1 convolution either with im2col + one GEMM per sample or with one
GEMM per kernel tap on shifted views of the padded input (no im2col). The second wins when
each per-tap GEMM is thick enough, i.e. with enough input channels; ``SHIFTED_MIN_CHANNELS``
in rootgan/nn/layers.py is set from this measurement. Times forward + backward of a 5x5
convolution to 32 filters on 25x25 images at batch 64, both paths in the same process.

    python benchmarks/bench_conv_paths.py [--channels 1 2 4 8 16] [--repeats 20]
"""

import argparse
import statistics
import time

import numpy as np

from rootgan.nn import build_network, get_num_threads
from rootgan.nn import layers

LAYOUT = "CONV|32|5|5|1|1|2|2|LEAKYRELU"
BATCH = 64


def milliseconds_per_step(channels, min_channels, repeats, rng):
    """Median forward+backward time with the path choice forced by ``min_channels``."""
    layers.SHIFTED_MIN_CHANNELS = min_channels
    net = build_network(LAYOUT, (channels, 25, 25))
    net.parameters[:] = rng.normal(size=net.parameters.size)
    x = rng.random((BATCH, channels, 25, 25), dtype=np.float32)
    grad = rng.random((BATCH,) + net.output_shape, dtype=np.float32)
    times = []
    for _ in range(repeats + 2):
        start = time.perf_counter()
        net.forward(x)
        net.backward(grad)
        times.append(time.perf_counter() - start)
    return statistics.median(times[2:]) * 1e3  # the first two calls compile and allocate


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--channels", type=int, nargs="+", default=[1, 2, 4, 8, 16])
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    default = layers.SHIFTED_MIN_CHANNELS
    rng = np.random.default_rng(0)
    print(f"{LAYOUT} on c_in x 25 x 25, batch {BATCH}, {get_num_threads()} thread(s); "
          f"forward + backward, median of {args.repeats}")
    print("c_in | im2col ms | shifted ms | faster")
    for channels in args.channels:
        im2col = milliseconds_per_step(channels, channels + 1, args.repeats, rng)
        shifted = milliseconds_per_step(channels, 1, args.repeats, rng)
        print(f"{channels:4d} | {im2col:9.2f} | {shifted:10.2f} | "
              f"{'shifted' if shifted < im2col else 'im2col'}")
    print(f"rootgan uses shifted GEMMs from {default} input channels on")


if __name__ == "__main__":
    main()
