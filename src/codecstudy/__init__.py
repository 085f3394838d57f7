"""codecstudy: train neural audio codecs under controlled data coverage and measure how they generalize."""

__version__ = "0.1.0"
