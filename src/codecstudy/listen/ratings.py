"""Ratings files exported by the page: checked against the test they claim to belong to, and post-screened.

Every problem is one line that starts with the file's path, and a rejected file changes nothing: the caller keeps
the files it accepted earlier. The checks, in order: JSON of our format and version, of the right shape (every
field its type, :class:`codecstudy.listen.formats.RatingsFile`), the same study (name and
hash), a trial list that still matches its own hash (not edited) and the hash of the test built here, a listener
id, every rating a number in 0-100, every trial and every stimulus rated, a finished session.

Post-screening is BS.1534-3's rule: a listener who rates the hidden reference below 90 in more than 15 % of the
trials is excluded from the scores (they could not hear the reference, or did not use the scale as asked).
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from codecstudy.config import parse_input
from codecstudy.errors import CodecStudyError, ConfigError
from codecstudy.listen.formats import FORMAT, VERSION, ListeningTest, RatingEntry, RatingsFile, read_json_file
from codecstudy.listen.trials import REFERENCE, trials_hash

HIDDEN_REFERENCE_MIN = 90.0
MAX_FRACTION_BELOW = 0.15


class RatingsError(CodecStudyError):
    """A ratings file that cannot be imported (the message is one line naming the file)."""


@dataclass
class Session:
    """One listener's accepted ratings: ``scores[trial][condition]`` in 0-100."""

    listener: str
    languages: list[str]
    session: str
    digest: str
    scores: dict[str, dict[str, float]] = field(default_factory=dict)
    source: str = ""

    @property
    def key(self) -> str:
        """The listener as compared for duplicates (case and surrounding spaces ignored)."""
        return self.listener.strip().casefold()


def _short(text: Any) -> str:
    return str(text)[:12]


def read_session(path: Path, test: ListeningTest) -> Session:
    """The session in ``path`` if it belongs to ``test`` (``trials.json``) and is complete; else RatingsError."""
    try:
        raw, data = read_json_file(path)
    except CodecStudyError as exc:
        raise RatingsError(str(exc)) from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise RatingsError(f"{path}: not a codecstudy MUSHRA ratings file (no \"format\": \"{FORMAT}\")")
    if data.get("version") != VERSION:
        raise RatingsError(f"{path}: ratings format version {data.get('version')!r}; this codecstudy reads version "
                           f"{VERSION}")
    try:
        file = parse_input(RatingsFile, data, path)
    except ConfigError as exc:
        raise RatingsError(str(exc)) from None
    mine = test.study
    if file.study.name != mine.name:
        raise RatingsError(f"{path}: ratings of study {file.study.name!r}, not {mine.name!r}")
    if file.study.hash != mine.hash:
        raise RatingsError(f"{path}: ratings of another version of study {mine.name!r} (study hash "
                           f"{_short(file.study.hash)}, this one {_short(mine.hash)})")
    if trials_hash(file.trials) != file.trials_hash:
        raise RatingsError(f"{path}: the trial list in the file does not match its hash (tampered trial list)")
    if file.trials_hash != test.trials_hash:
        raise RatingsError(f"{path}: ratings of another build of this listening test (trial list "
                           f"{_short(file.trials_hash)}, this test {_short(test.trials_hash)})")
    name = file.listener.id.strip()
    if not name:
        raise RatingsError(f"{path}: no listener id")
    scores = _scores(path, file.ratings, test)
    if not file.session.complete or not file.session.finished:
        raise RatingsError(f"{path}: incomplete session: listener {name!r} did not finish the test "
                           f"({len(scores)} of {len(test.trials)} trials rated)")
    return Session(name, list(file.listener.languages), file.session.id, hashlib.sha256(raw).hexdigest(), scores)


def _scores(path: Path, ratings: list[RatingEntry], test: ListeningTest) -> dict[str, dict[str, float]]:
    conditions = {t.id: sorted(t.stimuli) for t in test.trials}
    scores: dict[str, dict[str, float]] = {}
    for entry in ratings:
        trial = entry.trial
        if trial not in conditions:
            raise RatingsError(f"{path}: rating for unknown trial {trial!r}")
        if trial in scores:
            raise RatingsError(f"{path}: trial {trial} rated twice")
        for condition, value in entry.scores.items():
            ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
            if not ok or not 0 <= value <= 100:
                raise RatingsError(f"{path}: trial {trial}: rating {value!r} of {condition!r} outside 0-100")
            if condition not in conditions[trial]:
                raise RatingsError(f"{path}: trial {trial}: rating of unknown stimulus {condition!r}")
        if entry.scores:
            scores[trial] = {c: float(v) for c, v in entry.scores.items()}
    missing = [t for t in conditions if t not in scores]
    if missing:
        shown = ", ".join(missing[:5]) + (" ..." if len(missing) > 5 else "")
        raise RatingsError(f"{path}: missing trials: {len(missing)} of {len(conditions)} not rated ({shown})")
    for trial, wanted in conditions.items():
        unrated = [c for c in wanted if c not in scores[trial]]
        if unrated:
            raise RatingsError(f"{path}: trial {trial}: {len(unrated)} of {len(wanted)} stimuli not rated")
    return scores


@dataclass
class Screening:
    """One listener's post-screening row (BS.1534-3)."""

    listener: str
    languages: str
    trials: int
    reference_below_90: int
    fraction: float
    excluded: bool
    reason: str


def screen(sessions: list[Session]) -> list[Screening]:
    """Who is kept: the hidden reference rated >= 90 in all but at most 15 % of a listener's trials."""
    rows = []
    for s in sessions:
        low = [t for t, by in s.scores.items() if by.get(REFERENCE, 0.0) < HIDDEN_REFERENCE_MIN]
        fraction = len(low) / max(len(s.scores), 1)
        excluded = fraction > MAX_FRACTION_BELOW
        reason = (f"hidden reference rated below {HIDDEN_REFERENCE_MIN:.0f} in {len(low)} of {len(s.scores)} trials "
                  f"({100 * fraction:.0f} % > {100 * MAX_FRACTION_BELOW:.0f} %)") if excluded else ""
        rows.append(Screening(s.listener, " ".join(s.languages), len(s.scores), len(low), round(fraction, 4),
                              excluded, reason))
    return rows
