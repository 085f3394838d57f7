"""Codec training: the G/D loop, data crops, checkpoints, logging and multi-process (DDP) plumbing.

Submodules are imported on demand so that reading a codec config (which validates its ``train`` section through
:mod:`codecstudy.train.config`) does not pull in the trainer.
"""
