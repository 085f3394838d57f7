"""Codec training: the G/D loop, data crops, checkpoints, logging and multi-process (DDP) plumbing.

The ``train:`` section of a codec config is read by :mod:`codecstudy.codec.training_config`; this package only
runs it. Submodules are imported on demand.
"""
