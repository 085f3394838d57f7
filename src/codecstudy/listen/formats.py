"""The listening test's JSON files as typed models: ``trials.json`` (the test as built) and a ratings file (what
the page exports).

Both come back from outside the program (a folder zipped and sent around, a file a listener's browser wrote), so
they are parsed, not trusted: every field has a type, and a file of the wrong shape is one line naming the file and
the field (``ratings.json: ratings[2]: expected an object, got a string``) instead of a traceback wherever the
field is first used. Values are strict (a ``"1"`` is not a number); unknown fields are kept, so a newer page's
extra fields do not make a file unreadable.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from codecstudy.config import parse_input
from codecstudy.errors import CodecStudyError

#: What ``trials.json`` and a ratings file say they are (``format``) and the version of that format.
FORMAT, VERSION = "codecstudy-mushra", 1


class _Json(BaseModel):
    model_config = ConfigDict(strict=True, extra="allow", frozen=True)


class StudyRef(_Json):
    """Which study (and which version of it, by hash) a test or a ratings file belongs to."""

    name: str
    hash: str


class TrialRecord(_Json):
    """One trial as ``trials.json`` lists it (:meth:`codecstudy.listen.trials.Trial.public` plus loudness)."""

    id: str
    set: str
    clip: str
    language: str | None = None
    domain: str = ""
    group: str
    seconds: float
    reference: str = ""
    stimuli: dict[str, str]


class ListeningTest(_Json):
    """``trials.json``: the test's identity, its trials, and how its stimuli were made."""

    format: str
    version: int
    study: StudyRef
    seed: int = 0
    n_q: int
    trials_hash: str
    trials: list[TrialRecord]
    codecs: dict[str, str] = Field(default_factory=dict)
    sample_rate: int | None = None
    loudness: dict[str, Any] = Field(default_factory=dict)
    max_seconds: float | None = None


class ListenerInfo(_Json):
    id: str = ""
    languages: list[str] = Field(default_factory=list)


class SessionInfo(_Json):
    id: str = ""
    complete: bool = False
    finished: str | None = None


class RatingEntry(_Json):
    """One trial's ratings. Scores stay untyped here: a bad one is reported with its trial and stimulus
    (``trial t03: rating 'good' of 'codec_a' outside 0-100``), which is more use than its list position."""

    trial: str
    scores: dict[str, Any] = Field(default_factory=dict)


class RatingsFile(_Json):
    """A ratings file as the page exports it (``format`` and ``version`` are checked before the shape)."""

    format: str
    version: int
    study: StudyRef
    trials_hash: str
    trials: list[Any]  # hashed as it is, to recognise an edited trial list
    listener: ListenerInfo = Field(default_factory=ListenerInfo)
    session: SessionInfo = Field(default_factory=SessionInfo)
    ratings: list[RatingEntry]


def read_json_file(path: Path) -> tuple[bytes, Any]:
    """The bytes and parsed JSON of ``path``; an unreadable or non-JSON file is one line naming it."""
    try:
        raw = path.read_bytes()
        return raw, json.loads(raw.decode("utf-8"))
    except OSError as exc:
        raise CodecStudyError(f"{path}: cannot read ({exc.strerror or exc})") from None
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise CodecStudyError(f"{path}: not JSON ({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})") \
            from None


def read_listening_test(path: Path) -> ListeningTest | None:
    """The test in ``trials.json``, None when there is no such file; a damaged one is one line naming the field."""
    if not path.is_file():
        return None
    _, data = read_json_file(path)
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise CodecStudyError(f"{path}: not a codecstudy listening test (no \"format\": \"{FORMAT}\")")
    return parse_input(ListeningTest, data, path)
