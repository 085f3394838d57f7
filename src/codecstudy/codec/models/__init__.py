"""Codec architectures sharing :class:`codecstudy.codec.models.base.CodecModel`; built through the registry."""
