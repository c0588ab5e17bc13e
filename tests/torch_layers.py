"""PyTorch transcriptions of the engine's layers that torch lacks: the oracle of
tests/test_torch_oracle.py and the peer of benchmarks/bench_layers.py."""

import torch
from torch import nn
from torch.nn import functional as F


class LocallyConnected(nn.Module):
    """A locally connected layer written with unfold: weight (positions, n, c*fh*fw)."""

    def __init__(self, input_shape, filters, kernel, stride, padding):
        super().__init__()
        c, h, w = input_shape
        h_out = (h + 2 * padding[0] - kernel[0]) // stride[0] + 1
        w_out = (w + 2 * padding[1] - kernel[1]) // stride[1] + 1
        self.geometry = (kernel, stride, padding, (filters, h_out, w_out))
        self.weight = nn.Parameter(torch.zeros(h_out * w_out, filters, c * kernel[0] * kernel[1]))
        self.bias = nn.Parameter(torch.zeros(filters, h_out, w_out))

    def forward(self, x):
        kernel, stride, padding, shape = self.geometry
        cols = F.unfold(x, kernel, padding=padding, stride=stride)   # (n, k, positions)
        y = torch.einsum("nkp,pfk->nfp", cols, self.weight)
        return y.reshape((len(x),) + shape) + self.bias


class Minibatch(nn.Module):
    """Minibatch discrimination transcribed directly (Salimans et al. 2016, self included)."""

    def __init__(self, features, kernels, dims):
        super().__init__()
        self.shape = (kernels, dims)
        self.weight = nn.Parameter(torch.zeros(features, kernels * dims))

    def forward(self, x):
        x = x.flatten(1)
        m = (x @ self.weight).view(len(x), *self.shape)
        closeness = torch.exp(-(m[:, None] - m[None]).abs().sum(-1))   # (n, n, kernels)
        return torch.cat([x, closeness.sum(1)], dim=1)
