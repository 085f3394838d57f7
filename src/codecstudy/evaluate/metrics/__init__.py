"""Metric families, one module each: ``spectral`` (MCD, mel, MR-STFT), ``pitch`` (F0), ``intrusive`` (PESQ, STOI,
CI-SDR, SI-SNR, ViSQOL), ``models`` (DNSMOS, speaker similarity, ASR, UTMOS) and ``usage`` (codebook statistics and
bitrate). ``base`` holds what they share. The registry that names them is :mod:`codecstudy.evaluate.registry`.

Nothing is imported here, so that a family module can be imported without loading the others' libraries.
"""
