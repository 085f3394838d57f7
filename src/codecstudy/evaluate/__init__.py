"""Evaluation: reconstruction metrics per clip (``metrics``), the runs that score them over a codec and an
evaluation set (``scorer``) or over decoded files (``pairs``), sharing ``settings``, ``pair``, ``pool`` and the
folder format of ``outputs``, and the tables built from their results (``aggregate``).

Heavy optional dependencies (metric libraries, evaluator models) live behind the ``eval`` extra and are imported
only when a metric that needs them runs, so importing the package needs only the core dependencies.
"""
