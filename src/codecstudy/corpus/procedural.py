"""Procedural music and environmental sound: seeded numpy signal generators for the synthetic corpus.

They exist so that tests and demos have non-speech audio with the properties a codec cares about (steady
harmonic partials, sharp transients, broadband noise, fast sweeps) without downloading anything. Every
function is pure: the same ``np.random.Generator`` state, duration and rate give the same samples, and the
output is mono float32 of exactly ``round(duration * sample_rate)`` samples within [-1, 1].
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import signal

TIMBRES: tuple[str, ...] = ("sine", "organ", "string", "pluck", "bell")
MUSIC_KINDS: tuple[str, ...] = ("chords", "melody", "arpeggio")
ENVIRONMENT_KINDS: tuple[str, ...] = ("wind", "rain", "footsteps", "chirps", "hum")

_MAJOR = (0, 2, 4, 5, 7, 9, 11)
_MINOR = (0, 2, 3, 5, 7, 8, 10)
# Common progressions as scale degrees (0-based), so chords stay in key and sound like music, not noise.
_PROGRESSIONS = ((0, 4, 5, 3), (0, 3, 4, 0), (5, 3, 0, 4), (0, 5, 3, 4), (1, 4, 0, 0))


def _length(duration: float, sample_rate: int) -> int:
    if duration <= 0 or sample_rate <= 0:
        raise ValueError(f"duration and sample_rate must be positive, got {duration}, {sample_rate}")
    return int(round(duration * sample_rate))


def _finish(samples: np.ndarray, peak: float) -> np.ndarray:
    """Scale to ``peak`` so callers control loudness regardless of how many partials were summed."""
    if not 0 < peak <= 1:
        raise ValueError(f"peak must be in (0, 1], got {peak}")
    top = float(np.max(np.abs(samples))) if samples.size else 0.0
    if top > 0:
        samples = samples * (peak / top)
    return np.clip(samples, -1.0, 1.0).astype(np.float32)


def _fit(samples: np.ndarray, n: int) -> np.ndarray:
    out = np.zeros(n, dtype=np.float64)
    m = min(n, samples.shape[-1])
    out[:m] = samples[:m]
    return out


def midi_to_hz(note: float) -> float:
    return 440.0 * 2.0 ** ((note - 69.0) / 12.0)


def envelope(
    n: int, sample_rate: int, attack: float = 0.01, release: float = 0.05, decay: float | None = None
) -> np.ndarray:
    """Linear attack and release ramps (no clicks at note edges), optionally an exponential decay between."""
    t = np.arange(n) / sample_rate
    env = np.ones(n)
    a = min(n, max(1, int(attack * sample_rate)))
    r = min(n - a, max(1, int(release * sample_rate))) if n > a else 0
    env[:a] = np.linspace(0.0, 1.0, a, endpoint=False)
    if r > 0:
        env[n - r :] *= np.linspace(1.0, 0.0, r)
    if decay is not None:
        env *= np.exp(-t / decay)
    return env


def _partials(rng: np.random.Generator, timbre: str) -> list[tuple[float, float, float | None]]:
    """(frequency ratio, amplitude, decay seconds or None) per partial; the fundamental is always ratio 1."""
    if timbre == "sine":
        return [(1.0, 1.0, None)]
    if timbre == "organ":
        amps = (1.0, 0.5, 0.35, 0.2, 0.12, 0.08)
        return [(float(k), a * rng.uniform(0.8, 1.0) if k > 1 else a, None) for k, a in enumerate(amps, 1)]
    if timbre == "string":
        return [(float(k), 1.0 / k, None) for k in range(1, 21)]
    if timbre == "pluck":
        base = rng.uniform(0.5, 1.2)
        return [(float(k), 1.0 / k**1.2, base / k**0.7) for k in range(1, 16)]
    if timbre == "bell":
        # Inharmonic modes of a struck bar/bell: upper partials decay faster than the fundamental.
        ratios = (1.0, 2.0, 2.76, 5.40, 8.93)
        amps = (1.0, 0.5, 0.45, 0.25, 0.15)
        base = rng.uniform(1.0, 2.0)
        return [(r, a, base / (1.0 + 0.6 * i)) for i, (r, a) in enumerate(zip(ratios, amps))]
    raise ValueError(f"unknown timbre {timbre!r}; known: {', '.join(TIMBRES)}")


def harmonic_tone(
    rng: np.random.Generator,
    duration: float,
    sample_rate: int,
    frequency: float,
    *,
    timbre: str = "organ",
    peak: float = 0.5,
) -> np.ndarray:
    """One note: a sum of partials with random phases, a slight stretch of the upper partials and an envelope.

    The fundamental is left exactly at ``frequency`` (only upper partials are detuned, as in stiff strings),
    so its pitch is unambiguous; partials above 0.45 x the sample rate are dropped rather than aliased.
    """
    n = _length(duration, sample_rate)
    if frequency <= 0:
        raise ValueError(f"frequency must be positive, got {frequency}")
    t = np.arange(n) / sample_rate
    vibrato = np.zeros(n)
    if timbre == "string":
        # Bowed-string vibrato; its mean is zero, so the average pitch stays at ``frequency``.
        vibrato = 0.004 * np.sin(2 * np.pi * rng.uniform(4.5, 6.0) * t + rng.uniform(0, 2 * np.pi))
    base_phase = 2 * np.pi * frequency * (t + np.cumsum(vibrato) / sample_rate)
    out = np.zeros(n)
    for index, (ratio, amplitude, decay) in enumerate(_partials(rng, timbre)):
        stretch = 1.0 + (rng.uniform(0.0, 0.0015) * index if index else 0.0)
        if frequency * ratio * stretch >= 0.45 * sample_rate:
            continue
        partial = amplitude * np.sin(ratio * stretch * base_phase + rng.uniform(0, 2 * np.pi))
        if decay is not None:
            partial *= np.exp(-t / decay)
        out += partial
    attack = {"string": 0.08, "organ": 0.02}.get(timbre, 0.004)
    out *= envelope(n, sample_rate, attack=attack * rng.uniform(0.7, 1.3), release=min(0.08, duration / 4))
    return _finish(out, peak)


def chord(
    rng: np.random.Generator,
    duration: float,
    sample_rate: int,
    frequencies: Sequence[float],
    *,
    timbre: str = "organ",
    peak: float = 0.5,
) -> np.ndarray:
    """Simultaneous notes of equal loudness (each note gets its own random phases and details)."""
    n = _length(duration, sample_rate)
    if not frequencies:
        raise ValueError("a chord needs at least one frequency")
    out = np.zeros(n)
    for frequency in frequencies:
        out += harmonic_tone(rng, duration, sample_rate, frequency, timbre=timbre, peak=1.0)
    return _finish(out, peak)


def _place(out: np.ndarray, note: np.ndarray, start: int) -> None:
    end = min(out.shape[0], start + note.shape[0])
    if start < end:
        out[start:end] += note[: end - start]


def melody(
    rng: np.random.Generator,
    duration: float,
    sample_rate: int,
    *,
    root: int = 60,
    minor: bool = False,
    note_seconds: float = 0.25,
    timbre: str = "pluck",
    peak: float = 0.5,
) -> np.ndarray:
    """A random walk over a diatonic scale from MIDI note ``root``, with occasional rests and longer notes."""
    n = _length(duration, sample_rate)
    scale = _MINOR if minor else _MAJOR
    out = np.zeros(n)
    degree = 0
    position = 0
    while position < n:
        length = note_seconds * float(rng.choice([1, 1, 1, 2, 0.5]))
        if rng.random() > 0.1:  # otherwise a rest
            octave, step = divmod(degree, len(scale))
            note = root + 12 * octave + scale[step]
            tone = harmonic_tone(rng, length * 1.15, sample_rate, midi_to_hz(note), timbre=timbre, peak=1.0)
            _place(out, tone * rng.uniform(0.6, 1.0), position)
        degree = int(np.clip(degree + rng.choice([-2, -1, -1, 1, 1, 2, 3]), -3, 9))
        position += max(1, int(length * sample_rate))
    return _finish(out, peak)


def coloured_noise(
    rng: np.random.Generator, duration: float, sample_rate: int, *, exponent: float = 1.0, peak: float = 0.5
) -> np.ndarray:
    """Noise with a 1/f^exponent power spectrum: 0 white, 1 pink, 2 brown (red)."""
    n = _length(duration, sample_rate)
    spectrum = np.fft.rfft(rng.standard_normal(n))
    freqs = np.fft.rfftfreq(n, 1.0 / sample_rate)
    scale = np.zeros_like(freqs)
    scale[1:] = freqs[1:] ** (-exponent / 2.0)  # no DC: an offset is not part of any texture
    return _finish(np.fft.irfft(spectrum * scale, n), peak)


def _band(samples: np.ndarray, sample_rate: int, low: float | None, high: float | None, order: int = 4) -> np.ndarray:
    """Butterworth low/high/band-pass with edges kept inside (0, Nyquist) whatever the sample rate."""
    nyquist = sample_rate / 2.0
    low = None if low is None else min(max(low, 1.0), 0.9 * nyquist)
    high = None if high is None else min(high, 0.95 * nyquist)
    if low is not None and high is not None and low < high:
        sos = signal.butter(order, [low, high], btype="bandpass", fs=sample_rate, output="sos")
    elif high is not None:
        sos = signal.butter(order, high, btype="lowpass", fs=sample_rate, output="sos")
    elif low is not None:
        sos = signal.butter(order, low, btype="highpass", fs=sample_rate, output="sos")
    else:
        return samples
    return signal.sosfilt(sos, samples)


def _slow_modulation(rng: np.random.Generator, n: int, sample_rate: int, floor: float = 0.2) -> np.ndarray:
    """A smooth random gain curve in [floor, 1] from a few slow sinusoids (gusts, swells)."""
    t = np.arange(n) / sample_rate
    curve = sum(
        rng.uniform(0.5, 1.0) * np.sin(2 * np.pi * rng.uniform(0.05, 0.6) * t + rng.uniform(0, 2 * np.pi))
        for _ in range(3)
    )
    curve = np.asarray(curve, dtype=np.float64)
    span = curve.max() - curve.min()
    curve = (curve - curve.min()) / span if span > 0 else np.ones(n)
    return floor + (1.0 - floor) * curve


def impulse_train(
    rng: np.random.Generator,
    duration: float,
    sample_rate: int,
    *,
    rate: float = 2.0,
    jitter: float = 0.1,
    peak: float = 0.5,
) -> np.ndarray:
    """Clicks at ``rate`` per second, each onset moved by up to ``jitter`` of the interval, random heights."""
    n = _length(duration, sample_rate)
    if rate <= 0:
        raise ValueError(f"rate must be positive, got {rate}")
    out = np.zeros(n)
    interval = sample_rate / rate
    onsets = np.arange(interval * rng.uniform(0.1, 0.6), n, interval)
    onsets = onsets + rng.uniform(-jitter, jitter, onsets.shape[0]) * interval
    onsets = np.clip(np.round(onsets).astype(int), 0, n - 1)
    out[onsets] = rng.uniform(0.5, 1.0, onsets.shape[0]) * rng.choice([-1.0, 1.0], onsets.shape[0])
    return _finish(out, peak)


def chirp(
    rng: np.random.Generator,
    duration: float,
    sample_rate: int,
    *,
    f_start: float = 2000.0,
    f_end: float = 4000.0,
    exponential: bool = True,
    peak: float = 0.5,
) -> np.ndarray:
    """A frequency sweep under a Hann window (a bird-like call when short, a test sweep when long)."""
    n = _length(duration, sample_rate)
    nyquist = sample_rate / 2.0
    f_start, f_end = (min(max(f, 1.0), 0.45 * sample_rate) for f in (f_start, f_end))
    if f_start >= nyquist or f_end >= nyquist:  # pragma: no cover - excluded by the clamp above
        raise ValueError("chirp frequencies must be below Nyquist")
    t = np.arange(n) / sample_rate
    method = "logarithmic" if exponential and f_start != f_end else "linear"
    sweep = signal.chirp(t, f0=f_start, t1=max(t[-1], 1.0 / sample_rate), f1=f_end, method=method,
                         phi=float(rng.uniform(0, 360)))  # fmt: skip
    return _finish(sweep * signal.windows.hann(n, sym=False) if n > 1 else sweep, peak)


# --- whole clips -------------------------------------------------------------------------------------------


def music_clip(rng: np.random.Generator, duration: float, sample_rate: int, kind: str = "chords") -> np.ndarray:
    """A short piece of ``kind`` (see MUSIC_KINDS) in a random key, tempo and timbre."""
    n = _length(duration, sample_rate)
    root = int(rng.integers(48, 67))
    minor = bool(rng.random() < 0.4)
    scale = _MINOR if minor else _MAJOR
    progression = _PROGRESSIONS[int(rng.integers(len(_PROGRESSIONS)))]
    beat = 60.0 / rng.uniform(80, 140)

    def triad(degree: int) -> list[int]:
        return [root + 12 * ((degree + k) // 7) + scale[(degree + k) % 7] for k in (0, 2, 4)]

    out = np.zeros(n)
    if kind == "chords":
        timbre = str(rng.choice(["organ", "string", "pluck", "bell"]))
        span = max(beat * 2, duration / len(progression))
        for index, start in enumerate(np.arange(0.0, duration, span)):
            notes = triad(progression[index % len(progression)])
            block = chord(rng, span * 1.1, sample_rate, [midi_to_hz(m) for m in notes], timbre=timbre, peak=1.0)
            bass = harmonic_tone(rng, span * 1.1, sample_rate, midi_to_hz(notes[0] - 12), timbre="sine", peak=0.6)
            _place(out, block + bass, int(start * sample_rate))
    elif kind == "melody":
        timbre = str(rng.choice(["pluck", "string", "bell", "organ"]))
        out += melody(rng, duration, sample_rate, root=root + 12, minor=minor, note_seconds=beat / 2, timbre=timbre,
                      peak=1.0)  # fmt: skip
        drone = chord(
            rng, duration, sample_rate, [midi_to_hz(root - 12), midi_to_hz(root - 5)], timbre="organ", peak=0.3
        )
        out += drone
    elif kind == "arpeggio":
        timbre = str(rng.choice(["pluck", "bell"]))
        step = beat / 2
        position, index = 0.0, 0
        while position < duration:
            notes = triad(progression[(index // 8) % len(progression)])
            pitch = notes[index % 3] + (12 if (index // 3) % 2 else 0)
            note = harmonic_tone(rng, step * 3, sample_rate, midi_to_hz(pitch), timbre=timbre, peak=1.0)
            _place(out, note * rng.uniform(0.7, 1.0), int(position * sample_rate))
            position += step
            index += 1
    else:
        raise ValueError(f"unknown music kind {kind!r}; known: {', '.join(MUSIC_KINDS)}")
    out *= envelope(n, sample_rate, attack=0.01, release=min(0.2, duration / 4))
    return _finish(out, float(rng.uniform(0.5, 0.9)))


def _droplets(rng: np.random.Generator, n: int, sample_rate: int, per_second: float) -> np.ndarray:
    """Rain drops: Poisson-timed impulses, each ringing as a short decaying sinusoid in one of a few bands."""
    out = np.zeros(n)
    bands = 8
    for _ in range(bands):
        count = rng.poisson(per_second / bands * n / sample_rate)
        impulses = np.zeros(n)
        impulses[rng.integers(0, n, count)] = rng.uniform(0.1, 1.0, count) ** 2
        frequency = min(rng.uniform(1200, 7000), 0.4 * sample_rate)
        kt = np.arange(int(0.012 * sample_rate)) / sample_rate
        kernel = np.sin(2 * np.pi * frequency * kt) * np.exp(-kt / rng.uniform(0.002, 0.005))
        out += signal.fftconvolve(impulses, kernel)[:n]
    return out


def environment_clip(rng: np.random.Generator, duration: float, sample_rate: int, kind: str = "wind") -> np.ndarray:
    """An ambience of ``kind`` (see ENVIRONMENT_KINDS) built from filtered noise, clicks and sweeps."""
    n = _length(duration, sample_rate)
    if kind == "wind":
        base = coloured_noise(rng, duration, sample_rate, exponent=float(rng.uniform(1.0, 2.0)), peak=1.0)
        rumble = _band(base, sample_rate, None, float(rng.uniform(300, 900)))
        whistle = _band(base, sample_rate, float(rng.uniform(500, 900)), float(rng.uniform(1000, 1600)), order=2)
        gust = _slow_modulation(rng, n, sample_rate)
        out = rumble * gust + 3.0 * whistle * gust**3
    elif kind == "rain":
        hiss = _band(coloured_noise(rng, duration, sample_rate, exponent=0.5, peak=1.0), sample_rate,
                     float(rng.uniform(800, 2000)), None)  # fmt: skip
        out = 0.3 * hiss + _droplets(rng, n, sample_rate, per_second=float(rng.uniform(150, 600)))
    elif kind == "footsteps":
        clicks = impulse_train(rng, duration, sample_rate, rate=float(rng.uniform(1.5, 2.3)), jitter=0.08, peak=1.0)
        kn = int(0.08 * sample_rate)
        kt = np.arange(kn) / sample_rate
        thump = _band(rng.standard_normal(kn), sample_rate, None, float(rng.uniform(250, 700))) * np.exp(-kt / 0.02)
        scuff = _band(rng.standard_normal(kn), sample_rate, 2000.0, None) * np.exp(-kt / 0.006)
        kernel = thump / (np.max(np.abs(thump)) or 1.0) + 0.3 * scuff / (np.max(np.abs(scuff)) or 1.0)
        room = 0.02 * coloured_noise(rng, duration, sample_rate, exponent=1.0, peak=1.0)
        out = signal.fftconvolve(clicks, kernel)[:n] + room
    elif kind == "chirps":
        out = 0.03 * coloured_noise(rng, duration, sample_rate, exponent=1.0, peak=1.0)
        position = rng.uniform(0.0, 0.3)
        while position < duration:
            for _ in range(int(rng.integers(1, 5))):  # a call of a few chirps, then a pause
                length = float(rng.uniform(0.05, 0.2))
                low = float(rng.uniform(1800, 4000))
                high = low * float(rng.uniform(1.3, 2.0))
                up, down = (low, high) if rng.random() < 0.5 else (high, low)
                sweep = chirp(rng, length, sample_rate, f_start=up, f_end=down, peak=float(rng.uniform(0.3, 1.0)))
                _place(out, sweep, int(position * sample_rate))
                position += length + float(rng.uniform(0.02, 0.08))
            position += float(rng.uniform(0.2, 0.8))
    elif kind == "hum":
        # Machine room / ventilation: band-limited noise with mains hum and its harmonics.
        mains = 50.0 if rng.random() < 0.5 else 60.0
        noise = _band(coloured_noise(rng, duration, sample_rate, exponent=float(rng.uniform(0.0, 1.5)), peak=1.0),
                      sample_rate, float(rng.uniform(80, 300)), float(rng.uniform(2000, 5000)))  # fmt: skip
        hum = harmonic_tone(rng, duration, sample_rate, mains, timbre="organ", peak=1.0)
        out = noise * _slow_modulation(rng, n, sample_rate, floor=0.6) + float(rng.uniform(0.2, 0.6)) * hum
    else:
        raise ValueError(f"unknown environment kind {kind!r}; known: {', '.join(ENVIRONMENT_KINDS)}")
    out = _fit(np.asarray(out, dtype=np.float64), n) * envelope(n, sample_rate, attack=0.05, release=0.05)
    return _finish(out, float(rng.uniform(0.4, 0.8)))
