"""Neural audio codecs: SEANet encoder/decoder, residual vector quantizers, three architectures.

The public entry points live in :mod:`codecstudy.codec.catalog` (open or load a codec by any of its names),
:mod:`codecstudy.codec.registry` (build, save, the checkpoint format), :mod:`codecstudy.codec.presets`,
:mod:`codecstudy.codec.io` (token files) and :mod:`codecstudy.codec.export` (TorchScript/ONNX). This file imports
nothing so that ``import codecstudy.codec.losses`` does not pay for the models.
"""
