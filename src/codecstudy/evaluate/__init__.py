"""Evaluation: reconstruction metrics per clip (``metrics``), the scorer that runs them over a codec and an
evaluation set (``scorer``), and the tables built from its results (``aggregate``).

Heavy dependencies (metric libraries, evaluator models) live behind the ``eval`` extra and are imported only when
a metric that needs them runs, so ``import codecstudy.evaluate`` stays cheap.
"""
