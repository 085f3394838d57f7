"""The ``executor`` key and the ``slurm:`` section: defaults, per-kind resources over the common ones, ``--set``
overrides, and bad values as one line naming the key."""

from __future__ import annotations

import pytest
from helpers.studysetup import tiny_study, write_study

from codecstudy.errors import ConfigError
from codecstudy.study.spec import load_study


def _load(tmp_path, overrides: list[str], **changes):
    return load_study(write_study(tmp_path / "tiny.yaml", tiny_study(tmp_path, tmp_path / "synth", **changes)),
                      overrides)


def test_local_is_the_default_and_the_resolved_study_does_not_record_the_executor(tmp_path) -> None:
    spec = _load(tmp_path, [])
    assert spec.executor == "local"
    assert spec.slurm.for_kind("train").partition is None and spec.slurm.shards_of("en") == 1
    assert "executor" not in spec.resolved() and "slurm" not in spec.resolved()


def test_kind_resources_replace_the_common_ones_and_lists_are_added(tmp_path) -> None:
    slurm = {"partition": "cpu", "time": "2:00:00", "setup": ["module load a"], "sbatch": ["#SBATCH --exclusive"],
             "evaluate-gpu": {"partition": "gpu", "gpus": 2, "setup": ["module load cuda"]}, "shards": 4}
    spec = _load(tmp_path, ["executor=slurm", "slurm.train.mem=8000", "slurm.evaluate-gpu.time=90"], slurm=slurm)
    gpu = spec.slurm.for_kind("evaluate-gpu")
    assert (gpu.partition, gpu.time, gpu.gpus) == ("gpu", "90", 2)
    assert gpu.setup == ["module load a", "module load cuda"] and gpu.sbatch == ["--exclusive"]
    train = spec.slurm.for_kind("train")
    assert (spec.executor, train.partition, train.mem, train.gpus) == ("slurm", "cpu", "8000", None)
    assert spec.slurm.shards_of("music") == 4


@pytest.mark.parametrize(("override", "message"), [
    ("executor=pbs", "executor: must be one of 'local' or 'slurm'"),
    ("slurm.train.gpu=1", "slurm.train.gpu: unknown key"),
    ("slurm.time=2h", "slurm.time: expected minutes, H:MM:SS or D-HH:MM:SS (Slurm's --time), got '2h'"),
    ("slurm.shards=0", "slurm.shards: shards must be >= 1, got 0"),
])
def test_bad_slurm_settings_are_one_line_naming_the_key(tmp_path, override: str, message: str) -> None:
    with pytest.raises(ConfigError) as error:
        _load(tmp_path, [override])
    assert message in str(error.value) and "\n" not in str(error.value)


def test_clips_per_shard_gives_the_shards_of_a_known_clip_count(tmp_path) -> None:
    spec = _load(tmp_path, ["slurm.clips_per_shard=4"])
    assert spec.slurm.clips_per_shard == 4
    assert [spec.slurm.shards_of("en", n) for n in (1, 4, 5, 9, 0)] == [1, 1, 2, 3, 1]
    with pytest.raises(ConfigError) as error:
        spec.slurm.shards_of("en")
    assert str(error.value) == ("slurm.clips_per_shard: the number of clips of eval set 'en' is not known before the "
                                "corpus is built; set evaluate.max_clips or slurm.shards")


@pytest.mark.parametrize(("overrides", "message"), [
    (["slurm.shards=2", "slurm.clips_per_shard=3"], "slurm: give slurm.shards or slurm.clips_per_shard, not both"),
    (["slurm.shards=1", "slurm.clips_per_shard=3"], "slurm: give slurm.shards or slurm.clips_per_shard, not both"),
    (["slurm.clips_per_shard=0"], "slurm.clips_per_shard: Input should be greater than or equal to 1"),
])
def test_bad_clips_per_shard_is_one_line_naming_the_keys(tmp_path, overrides: list[str], message: str) -> None:
    with pytest.raises(ConfigError) as error:
        _load(tmp_path, overrides)
    assert message in str(error.value) and "\n" not in str(error.value)
