"""Neural audio codecs: SEANet encoder/decoder, residual vector quantizers, three architectures.

The public entry points live in :mod:`codecstudy.codec.registry` (build, load, save, presets),
:mod:`codecstudy.codec.io` (token files) and :mod:`codecstudy.codec.export` (TorchScript/ONNX). This file imports
nothing so that ``import codecstudy.codec.losses`` does not pay for the models.
"""
