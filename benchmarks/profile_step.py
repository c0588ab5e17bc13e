"""Where one training step of the benchmark GAN spends its time, layer by layer.

Times every layer's forward and backward (each generator and discriminator pass of the
step, as in ``reference/benchmark-gan.md``), both optimiser steps, and what is left (losses,
noise, copies: the Python around the kernels). The engine's kernels run synchronously, so a
wall clock around each call is the kernel's time. Each row is the median over the timed
steps, in milliseconds per step and as a share of the step; GFLOP/s counts the nominal
arithmetic of the layer (a fused upsampling + convolution is counted at its nominal,
unfused size, like PyTorch's).

    python benchmarks/profile_step.py                 # batch 256, 2 threads, 30 steps
    python benchmarks/profile_step.py --batch 64 --threads 1

Run it in the benchmark environment of benchmark-gan.md (OPENBLAS_CORETYPE and
OPENBLAS_L2_SIZE unset) to see the engine at full BLAS speed; the script prints the BLAS
kernel that ran and OPENBLAS_CORETYPE.
"""

import argparse
import os
import statistics
import sys
import time
from collections import defaultdict

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from bench_gan import IMAGE_SHAPE, SEED, THREAD_VARIABLES, build_rootgan  # noqa: E402


def nominal_flops(layer):
    """Multiply-adds x 2 of one sample's forward pass (0 for layers that do no arithmetic)."""
    kind = layer.kind
    if kind == "DENSE":
        return 2 * layer.input_size * layer.output_size
    if kind in ("CONV", "TRANSCONV"):
        c_in = layer.input_shape[0]
        kh, kw = layer.kernel
        if kind == "TRANSCONV":  # each input pixel scatters into c_out*kh*kw outputs
            _, h, w = layer.input_shape
            return 2 * c_in * h * w * layer.filters * kh * kw
        return 2 * layer.output_size * c_in * kh * kw
    return 0


class StepProfile:
    """Wraps each layer's forward and backward and each optimiser's step with a timer."""

    def __init__(self, gan):
        self.gan = gan
        self.times = defaultdict(float)
        self.order = []
        for network in (gan.generator, gan.discriminator):
            for index, layer in enumerate(network.layers):
                name = f"{network.name[0].upper()}{index} {network.texts[index]}"
                for method in ("forward", "backward"):
                    self._wrap(layer, method, f"{name} {method}")
        for which, optimizer in (("G", gan.generator_optimizer),
                                 ("D", gan.discriminator_optimizer)):
            self._wrap(optimizer, "step", f"{which} optimiser step")

    def _wrap(self, owner, method, key):
        inner = getattr(owner, method)
        self.order.append(key)

        def timed(*args, **kwargs):
            start = time.perf_counter()
            result = inner(*args, **kwargs)
            self.times[key] += time.perf_counter() - start
            return result
        setattr(owner, method, timed)

    def step(self, real):
        self.times.clear()
        start = time.perf_counter()
        self.gan.train_step(real)
        total = time.perf_counter() - start
        row = dict(self.times)
        row["rest (losses, noise, copies)"] = total - sum(self.times.values())
        row["total"] = total
        return row


def flops_per_key(gan):
    """Nominal FLOP per image for each forward / backward key of one step."""
    g, d = gan.generator, gan.discriminator
    flops = {}
    # per step: G forward and backward once; D forward 3x (real, fake, fake for G), D
    # backward 3x: weight gradients for real and fake, the input gradient for fake (G step)
    # and, inside D, for all three. A weight or an input gradient costs one forward each.
    for network, forwards, weight_grads, input_grads, first_input_grads in (
            (g, 1, 1, 1, 0), (d, 3, 2, 3, 1)):
        for index, layer in enumerate(network.layers):
            name = f"{network.name[0].upper()}{index} {network.texts[index]}"
            f = nominal_flops(layer)
            flops[f"{name} forward"] = forwards * f
            flops[f"{name} backward"] = (weight_grads
                                         + (input_grads if index else first_input_grads)) * f
    return flops


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--steps", type=int, default=30, help="timed steps (after 5 warm-up)")
    args = parser.parse_args()
    for name in THREAD_VARIABLES:
        os.environ[name] = str(args.threads)
    import numpy as np
    from threadpoolctl import threadpool_info

    from rootgan.nn import set_num_threads

    set_num_threads(args.threads)
    rng = np.random.default_rng(SEED)
    gan = build_rootgan(rng)
    profile = StepProfile(gan)
    real = rng.random((args.batch,) + IMAGE_SHAPE, dtype=np.float32)
    for _ in range(5):
        profile.step(real)
    rows = [profile.step(real) for _ in range(args.steps)]
    medians = {key: statistics.median(row.get(key, 0.0) for row in rows)
               for key in profile.order + ["rest (losses, noise, copies)", "total"]}
    total = medians.pop("total")
    flops = flops_per_key(gan)
    blas = ", ".join(f"{os.path.basename(i['filepath'])} {i.get('architecture')}"
                     for i in threadpool_info())
    print(f"benchmark GAN, one training step at batch {args.batch}, {args.threads} thread(s); "
          f"median of {args.steps} steps: {total * 1e3:.1f} ms ({args.batch / total:,.0f} "
          f"images/s)")
    print(f"BLAS: {blas}; OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', 'unset')}")
    print(f"{'where':44s} {'ms/step':>8s} {'share':>6s} {'GFLOP/s':>8s} (nominal: unfused "
          f"size)")
    for key, seconds in sorted(medians.items(), key=lambda item: -item[1]):
        if seconds < 0.0005 * total:
            continue
        rate = flops.get(key, 0) * args.batch / seconds / 1e9 if flops.get(key) else None
        print(f"{key:44s} {seconds * 1e3:8.2f} {seconds / total:6.1%} "
              f"{'' if rate is None else f'{rate:8.1f}'}")
    print(f"{'(rows below 0.05% left out)':44s}")


if __name__ == "__main__":
    main()
