"""What a study needs from model hubs, ``codecstudy study fetch``, and the dry run's and submission's cache check.

The hubs are faked at the network only (helpers/fakehub.py): the declarations, the loaders' download calls with
the real repository ids and URLs, and the cache checks are the real ones, against a temporary cache.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from helpers.espnet import espnet_state, small_model, write_exp
from helpers.fakehub import WAVLM_FILES, FakeHub
from helpers.fakeslurm import install_fake_slurm
from helpers.studysetup import tiny_study, write_study

from codecstudy.cli import main
from codecstudy.errors import CodecStudyError, ConfigError
from codecstudy.evaluate.metrics import sheet, ssl, utmos
from codecstudy.hub import HUGGING_FACE
from codecstudy.study.executors import slurm
from codecstudy.study.hubs import check_hub_models, fetch_study, study_hub_models
from codecstudy.study.layout import RunLayout
from codecstudy.study.runner import StudyRunner
from codecstudy.study.spec import StudySpec, load_study

REPO = Path(__file__).resolve().parents[2]
PAPER_RELEASED = REPO / "configs/studies/paper-released.yaml"
ESPNET_ID = "espnet/mls-english_soundstream_16k"
#: the released codec, a model metric of each kind (transformers hub model, two release files) and a DSP metric
MODEL_METRICS = ["evaluate.metrics=[mcd,speech_bert,sheet_ssqa,utmos]",
                 "evaluate.metric_settings={utmos: {checkpoint: published}}"]
EXPECTED_IDS = [ESPNET_ID, "microsoft/wavlm-large", "unilight/sheet:v0.1.0", "tarepan/SpeechMOS:v1.0.0"]


def _released(tmp_path: Path, extra: list[str] | None = None) -> StudySpec:
    """paper-released with its English codec named by its hub id, local folders for the rest, model metrics."""
    sets = [f"corpus.sources.{i}.root={tmp_path / n}" for i, n in enumerate(("LJSpeech-1.1", "css10", "audioset"))]
    for name in ("LJSpeech-1.1", "css10", "audioset"):
        (tmp_path / name).mkdir(exist_ok=True)
    for condition in ("multilingual", "multilingual_audio"):
        folder = tmp_path / condition
        if not folder.is_dir():
            write_exp(folder / "exp" / "codec_x", espnet_state(small_model()))
        sets.append(f"checkpoints.{condition}=espnet:{folder}")
    return load_study(PAPER_RELEASED, [*sets, f"checkpoints.english=espnet:{ESPNET_ID}", *MODEL_METRICS,
                                       *(extra or [])])


def _espnet_repository(tmp_path: Path) -> dict[str, bytes]:
    """What the hub serves for a released ESPnet codec: meta.yaml naming an exp folder's config and model."""
    exp = write_exp(tmp_path / "served" / "exp" / "codec_en", espnet_state(small_model()))
    meta = {"files": {"model_file": "exp/codec_en/10epoch.pth"},
            "yaml_files": {"train_config": "exp/codec_en/config.yaml"}}
    return {"meta.yaml": yaml.safe_dump(meta).encode(), "exp/codec_en/config.yaml": (exp / "config.yaml").read_bytes(),
            "exp/codec_en/10epoch.pth": (exp / "10epoch.pth").read_bytes()}


@pytest.fixture
def hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeHub:
    """A fake hub serving the released codec and WavLM, with empty caches (Hugging Face's and codecstudy's)."""
    fake = FakeHub(tmp_path / "hf-cache", monkeypatch)
    monkeypatch.setenv("CODECSTUDY_CACHE", str(tmp_path / "codecstudy-cache"))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    fake.repos[ESPNET_ID] = _espnet_repository(tmp_path)
    monkeypatch.setattr(ssl, "load_wavlm", fake.loader(WAVLM_FILES))  # from_pretrained's download, faked
    return fake


def test_released_codec_and_model_metrics_need_their_models(tmp_path: Path, hub: FakeHub) -> None:
    models = study_hub_models(_released(tmp_path))
    assert [m.hub_id for m in models] == EXPECTED_IDS
    assert [m.used_by for m in models] == [("checkpoints.english",), ("evaluate.metrics speech_bert",),
                                           ("evaluate.metrics sheet_ssqa",), ("evaluate.metrics utmos",)]
    assert models[0].hub == models[1].hub == HUGGING_FACE
    assert models[0].cache == str(tmp_path / "hf-cache" / "models--espnet--mls-english_soundstream_16k")
    assert models[2].cache == str(tmp_path / "codecstudy-cache" / "models" / "sheet-v0.1.0")


def test_one_download_for_two_users_and_none_for_local_or_random_models(tmp_path: Path, hub: FakeHub) -> None:
    spec = _released(tmp_path, [f"checkpoints.multilingual=espnet:{ESPNET_ID}",
                                "evaluate.metric_settings={speech_bert: {model: /models/wavlm}}",
                                "baselines.codecs=[snac:24khz, snac:24khz:random, opus:6kbps]"])
    models = study_hub_models(spec)
    assert [(m.hub_id, m.used_by) for m in models] == [
        (ESPNET_ID, ("checkpoints.english", "checkpoints.multilingual")),
        ("hubertsiuzdak/snac_24khz", ("baselines.codecs[0]",)),
        ("unilight/sheet:v0.1.0", ("evaluate.metrics sheet_ssqa",)),
    ]


@pytest.mark.parametrize("study", ["demo.yaml", "paper.yaml", "paper-released.yaml"])
def test_shipped_studies_need_nothing_from_hubs(study: str) -> None:
    """The demo's DSP metrics and the paper group's evaluators ship in wheels; the studies' codecs are trained or
    local folders."""
    spec = load_study(REPO / "configs/studies" / study)
    assert study_hub_models(spec) == []
    assert check_hub_models(spec) == ["hub models: none (every model the study loads is local or ships in a wheel)"]


def test_fetch_downloads_what_is_missing_then_nothing(tmp_path: Path, hub: FakeHub) -> None:
    spec = _released(tmp_path)
    (sheet.release_folder()).mkdir(parents=True)
    for name in sheet.RELEASE_FILES:  # SHEET is cached already
        (sheet.release_folder() / name).write_bytes(b"cached")
    lines: list[str] = []
    result = fetch_study(spec, lines.append)
    assert [m.hub_id for m in result.downloaded] == [ESPNET_ID, "microsoft/wavlm-large", "tarepan/SpeechMOS:v1.0.0"]
    assert [m.hub_id for m in result.cached] == ["unilight/sheet:v0.1.0"]
    assert hub.calls == [ESPNET_ID, "microsoft/wavlm-large", utmos.RELEASE + utmos.RELEASE_FILE]
    assert lines[0] == (f"[1/4] ESPnet codec mls-english_soundstream_16k {ESPNET_ID}: downloading from Hugging Face "
                        f"into {tmp_path / 'hf-cache' / 'models--espnet--mls-english_soundstream_16k'}")
    assert lines[1] == f"[1/4] ESPnet codec mls-english_soundstream_16k {ESPNET_ID}: downloaded"
    assert lines[-1] == "study paper-released: 3 downloaded, 1 already in the cache, 0 failed"
    again: list[str] = []
    second = fetch_study(spec, again.append)
    assert second.downloaded == [] and [m.hub_id for m in second.cached] == EXPECTED_IDS
    assert len(hub.calls) == 3  # nothing downloaded the second time
    assert again[-1] == "study paper-released: 0 downloaded, 4 already in the cache, 0 failed"


def test_fetch_names_the_model_that_failed_and_still_fetches_the_others(tmp_path: Path, hub: FakeHub) -> None:
    hub.fail.add(sheet.RELEASE + sheet.RELEASE_FILES[0])
    lines: list[str] = []
    with pytest.raises(CodecStudyError) as info:
        fetch_study(_released(tmp_path), lines.append)
    failed = [line for line in lines if "FAILED" in line]
    assert len(failed) == 1
    assert failed[0].startswith("[3/4] SHEET SSL-MOS default (sheet_ssqa) unilight/sheet:v0.1.0: FAILED to download "
                                "SHEET SSL-MOS default (sheet_ssqa) (unilight/sheet:v0.1.0) from GitHub release: ")
    assert "\n" not in str(info.value) and "(unilight/sheet:v0.1.0)" in str(info.value)
    assert lines[-1] == "study paper-released: 3 downloaded, 0 already in the cache, 1 failed"


def test_fetch_refuses_to_run_in_offline_mode(tmp_path: Path, hub: FakeHub, monkeypatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ConfigError, match="HF_HUB_OFFLINE is set in this shell"):
        fetch_study(_released(tmp_path), lambda _: None)
    assert hub.calls == []


def test_dry_run_fails_on_a_missing_model_and_passes_once_fetched(tmp_path: Path, hub: FakeHub) -> None:
    spec = _released(tmp_path)
    runner = StudyRunner(spec, tmp_path / "run")
    hub.put("microsoft/wavlm-large", {"config.json": b"{}"})  # a config alone (AutoConfig's download) is no model
    with pytest.raises(ConfigError) as info:
        runner.dry_run()
    assert str(info.value) == (
        f"{PAPER_RELEASED}: not in the model cache: ESPnet codec mls-english_soundstream_16k {ESPNET_ID} "
        "(checkpoints.english); WavLM (speech_bert) microsoft/wavlm-large (evaluate.metrics speech_bert); SHEET "
        "SSL-MOS default (sheet_ssqa) unilight/sheet:v0.1.0 (evaluate.metrics sheet_ssqa); UTMOS22 strong (utmos) "
        f"tarepan/SpeechMOS:v1.0.0 (evaluate.metrics utmos); run `codecstudy study fetch {PAPER_RELEASED}` on a node "
        "with internet (compute nodes run offline: HF_HUB_OFFLINE=1)")
    fetch_study(spec, lambda _: None)
    plan = runner.dry_run()
    assert f"hub models: all 4 in the cache ({', '.join(EXPECTED_IDS)})" in plan
    assert not (tmp_path / "run").exists()


def test_dry_run_names_a_baseline_whose_weights_are_missing_without_opening_it(tmp_path: Path,
                                                                              hub: FakeHub) -> None:
    spec = _released(tmp_path, ["evaluate.metrics=[mcd]", "evaluate.metric_settings={}",
                                "baselines.codecs=[snac:24khz, opus:6kbps]"])
    with pytest.raises(ConfigError, match=r"\(checkpoints.english\); SNAC 24khz hubertsiuzdak/snac_24khz "
                                          r"\(baselines.codecs\[0\]\); run `codecstudy study fetch "):
        StudyRunner(spec, tmp_path / "run").dry_run()
    assert hub.calls == []  # the baseline was not opened: its package would have gone to the hub


def test_slurm_submission_is_refused_until_fetched_and_jobs_run_offline(tmp_path: Path, hub: FakeHub,
                                                                        monkeypatch) -> None:
    fake = install_fake_slurm(tmp_path / "slurm", monkeypatch)
    data = tiny_study(tmp_path, tmp_path / "synth", executor="slurm")
    spec = load_study(write_study(tmp_path / "tiny.yaml", data), ["evaluate.metrics=[si_snr,speech_bert]"])
    layout = RunLayout(tmp_path / "run")
    for dry_run in (True, False):
        with pytest.raises(ConfigError, match=r"not in the model cache: WavLM \(speech_bert\) microsoft/wavlm-large"):
            slurm.submit(spec, layout, [], dry_run=dry_run, echo=lambda _: None)
    assert fake.calls("sbatch") == [] and not layout.slurm_logs.exists()
    hub.put("microsoft/wavlm-large", WAVLM_FILES)
    slurm.submit(spec, layout, [], echo=lambda _: None)
    scripts = [call["script"] for call in fake.calls("sbatch")]
    assert scripts and all("\nexport HF_HUB_OFFLINE=1\n" in script for script in scripts)


def test_fetch_command_help_and_a_study_with_nothing_to_fetch(capsys) -> None:
    with pytest.raises(SystemExit) as done:
        main(["study", "fetch", "--help"])
    assert done.value.code == 0
    text = capsys.readouterr().out
    assert "download every hub model the study loads into the cache" in text and "HF_HUB_OFFLINE=1" in text
    assert main(["study", "fetch", str(REPO / "configs/studies/demo.yaml")]) == 0
    assert capsys.readouterr().out == ("study demo: nothing to fetch (every model the study loads is local or ships in "
                                       "a wheel)\n")
