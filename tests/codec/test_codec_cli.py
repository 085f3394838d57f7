from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf

from codecstudy.cli import main
from codecstudy.codec.io import read_tokens


def test_encode_decode_round_trip(tmp_path: Path, capsys) -> None:
    rate = 22050
    t = np.arange(int(round(0.7 * rate))) / rate  # 15435 samples -> exactly 11200 at 16 kHz
    stereo = np.stack([0.3 * np.sin(2 * np.pi * 220 * t), 0.2 * np.sin(2 * np.pi * 330 * t)], axis=1)
    sf.write(tmp_path / "in.wav", stereo.astype(np.float32), rate)
    wav, tokens_path = str(tmp_path / "in.wav"), str(tmp_path / "in.tokens")
    args = ["encode", wav, tokens_path, "--codec", "soundstream-tiny", "--n-q", "4"]
    assert main(args) == 0
    out = capsys.readouterr()
    assert "untrained preset" in out.err and "4 codebooks" in out.out
    tokens = read_tokens(tmp_path / "in.tokens")
    assert tokens.n_q == 4 and tokens.sample_rate == 16000 and tokens.n_samples == 11200
    assert main(["decode", str(tmp_path / "in.tokens"), str(tmp_path / "out.wav"), "--codec", "soundstream-tiny"]) == 0
    audio, sr = sf.read(tmp_path / "out.wav")
    assert sr == 16000 and audio.shape == (11200,)


def test_decode_with_another_codec_fails_cleanly(tmp_path: Path, capsys) -> None:
    sf.write(tmp_path / "in.wav", np.zeros(1600, dtype=np.float32), 16000)
    assert main(["encode", str(tmp_path / "in.wav"), str(tmp_path / "a.tokens"), "--codec", "encodec-tiny"]) == 0
    assert main(["decode", str(tmp_path / "a.tokens"), str(tmp_path / "o.wav"), "--codec", "soundstream-tiny"]) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("codecstudy: error: ") and "a.tokens: encoded by codec" in err
    (tmp_path / "bad.tokens").write_bytes(b"garbage")
    assert main(["decode", str(tmp_path / "bad.tokens"), str(tmp_path / "o.wav"), "--codec", "encodec-tiny"]) == 2
    assert "bad magic" in capsys.readouterr().err


def test_codec_info_and_list(capsys) -> None:
    assert main(["codec", "info", "soundstream-paper"]) == 0
    out = capsys.readouterr().out
    assert "hop:          320 samples" in out and "50 frames/s" in out and "8: 4 kbps" in out and "32 x 1024" in out
    assert main(["codec", "list"]) == 0
    assert "dac-tiny" in capsys.readouterr().out
    assert main(["codec", "info", "nope"]) == 2
