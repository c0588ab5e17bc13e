"""Where SumFromData's generated images take their summed intensity from: the training
images' sums (of ``r``, the pixels over ScaleBy), kept with their events' conditions.

An image generated for given conditions gets the sum of one of the NEIGHBOURS training
events whose standardised conditions are nearest (drawn at random among them; among events
with equal conditions, such as a class label or a beam energy, any of them): a
nearest-neighbour estimate of the sum's distribution at those conditions, which follows
any dependence on the jet pT or the incident energy without a model of it. An
unconditional GAN draws from all training sums. At most SAMPLE_ROWS events are kept (in
the weights file).
"""

import numpy as np
from scipy.spatial import cKDTree

from .conditions import SAMPLE_ROWS  # as many rows as the conditions' own sample

NEIGHBOURS = 10
# ties (equal conditions) are broken at random: the kept conditions and each query are
# moved by this much (in standard deviations, far below any real difference), so a query
# finds a random NEIGHBOURS of the events tied with it, not always the same ones
TIE_JITTER = 1e-9


class SumSampler:
    def __init__(self, rows, conditions):
        """``rows`` (m, k + 1): each kept training event's k raw conditions, then its sum;
        ``conditions``: the GAN's ConditionSpace (its standardisation)."""
        # float32 as the weights file keeps them: the same draws before and after writing
        self.rows = np.asarray(rows, np.float32).astype(np.float64)
        self.conditions = conditions
        k = self.rows.shape[1] - 1
        self._tree = None
        if k:
            points = conditions.standardised(self.rows[:, :k], np.float64)
            points += TIE_JITTER * np.random.default_rng(0).standard_normal(points.shape)
            self._tree = cKDTree(points)

    @classmethod
    def fit(cls, raw_conditions, sums, conditions, seed):
        """The training events' sums with their raw (n, k) conditions; ``seed`` picks the
        rows kept when there are more than SAMPLE_ROWS."""
        rows = np.column_stack([raw_conditions, sums])
        if len(rows) > SAMPLE_ROWS:
            keep = np.random.default_rng([seed, 6]).choice(len(rows), SAMPLE_ROWS,
                                                           replace=False)
            rows = rows[np.sort(keep)]
        return cls(rows, conditions)

    def draw(self, n, rng, raw_conditions=None):
        """``n`` sums: for raw (n, k) conditions, each from one of the NEIGHBOURS nearest
        training events; without conditions, from all."""
        sums = self.rows[:, -1]
        if self._tree is None:
            return sums[rng.integers(0, len(sums), n)]
        k = min(NEIGHBOURS, len(sums))
        points = self.conditions.standardised(raw_conditions, np.float64)
        points += TIE_JITTER * rng.standard_normal(points.shape)
        _, nearest = self._tree.query(points, k=k)
        nearest = np.asarray(nearest).reshape(n, k)
        return sums[nearest[np.arange(n), rng.integers(0, k, n)]]
