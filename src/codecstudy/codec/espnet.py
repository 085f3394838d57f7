"""ESPnet-Codec SoundStream checkpoints as codecstudy ``soundstream`` models (the paper's released codecs).

The paper's three codecs were trained with ESPnet's ``train_soundstream4_large_v1.1`` recipe and released as
ESPnet model folders (``config.yaml`` + ``*.pth``). That network is the one ``configs/codecs/soundstream-paper.yaml``
builds, so a checkpoint needs no ESPnet code at all: its ``codec_conf`` is mapped onto a :class:`CodecConfig` and its
state dict renamed onto ours (``load_state_dict(strict=True)`` then holds every tensor). The equivalence with ESPnet's
own model code is tested in ``tests/codec/test_espnet_equivalence.py`` (``make test-extra``).

Accepted sources (``catalog.load_codec("espnet:SOURCE")``, ``--codec espnet:SOURCE``):

* an ESPnet exp folder, ``exp/codec_<tag>/`` with ``config.yaml`` and one ``*.pth`` (name the file,
  ``espnet:exp/codec_x/360epoch.pth``, when there are several);
* a model repository's download folder (its ``meta.yaml`` names the config and the model file: what
  ``espnet_model_zoo`` or ``huggingface-cli download`` leave), or any folder holding exactly one such exp folder;
* a Hugging Face hub name such as ``espnet/mls-english_soundstream_16k``, downloaded once into the hub cache with
  ``huggingface_hub.snapshot_download`` (no ESPnet code needed; with ``HF_HUB_OFFLINE=1`` only the cached copy is
  read). :func:`hub_models` declares it, so that ``codecstudy study fetch`` downloads it before offline jobs run.

Bitrates follow ESPnet: a target bandwidth of ``b`` kbps uses ``floor(b / (log2(bins) * ceil(sr / hop) / 1000))``
codebooks, at least 1 and at most ``quantizer_n_q`` (2/4/8/16/32 kbps -> 4/8/16/32/32 codebooks for the paper's
codec, see :func:`espnet_codebooks`). Only the generator is converted: discriminators and losses stay ESPnet's
(the training sections of the result are soundstream-paper's), which matters only for fine-tuning.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
import yaml

from codecstudy.codec.config import CodecConfig, codec_config_from_dict
from codecstudy.codec.models.soundstream import SoundStream
from codecstudy.codec.presets import preset_config
from codecstudy.errors import CodecStudyError
from codecstudy.hub import HUGGING_FACE, HubModel, hf_repo_folder

PREFIX = "espnet:"
PAPER_PRESET = "soundstream-paper"
#: ``SoundStreamGenerator``'s keyword defaults (ESPnet 202511); a config that omits a key gets these, as in ESPnet.
GENERATOR_DEFAULTS: dict[str, Any] = {
    "hidden_dim": 128,
    "encdec_channels": 1,
    "encdec_n_filters": 32,
    "encdec_n_residual_layers": 1,
    "encdec_ratios": [8, 5, 4, 2],
    "encdec_activation": "ELU",
    "encdec_activation_params": {"alpha": 1.0},
    "encdec_norm": "weight_norm",
    "encdec_norm_params": {},
    "encdec_kernel_size": 7,
    "encdec_residual_kernel_size": 7,
    "encdec_last_kernel_size": 7,
    "encdec_dilation_base": 2,
    "encdec_causal": False,
    "encdec_pad_mode": "reflect",
    "encdec_true_skip": False,
    "encdec_compress": 2,
    "encdec_lstm": 2,
    "decoder_trim_right_ratio": 1.0,
    "decoder_final_activation": None,
    "decoder_final_activation_params": None,
    "quantizer_n_q": 8,
    "quantizer_bins": 1024,
    "quantizer_decay": 0.99,
    "quantizer_kmeans_init": True,
    "quantizer_kmeans_iters": 50,
    "quantizer_threshold_ema_dead_code": 2,
    "quantizer_target_bandwidth": [7.5, 15],
}
#: ESPnet's RVQ projects to a fixed 512-dim codebook space; with ``hidden_dim`` 512 the projection is the identity.
ESPNET_CODEBOOK_DIM = 512
#: The other keyword arguments of ESPnet's ``SoundStream``: discriminator and loss settings, not part of the codec.
TRAINING_KEYS = frozenset({
    "discriminator_params", "generator_adv_loss_params", "discriminator_adv_loss_params", "use_feat_match_loss",
    "feat_match_loss_params", "use_mel_loss", "mel_loss_params", "use_dual_decoder", "lambda_quantization",
    "lambda_reconstruct", "lambda_commit", "lambda_adv", "lambda_feat_match", "lambda_mel",
    "cache_generator_outputs", "use_loss_balancer", "balance_ema_decay",
})
#: State-dict prefixes of the model that are not the generator (dropped: they are used only in training).
DROPPED_PREFIXES = ("codec.discriminator.", "codec.mel_loss.", "codec.loss_balancer.")
GENERATOR_PREFIX = "codec.generator."
_HUB_TAG = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9][A-Za-z0-9_.-]*$")
#: Renames from ESPnet's generator keys to ours, applied in order (see docs/codecs.md for the list in words).
_RENAMES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), repl)
    for pattern, repl in (
        (r"^(encoder|decoder)\.model\.(\d+)\.", r"\1.layers.\2."),
        (r"\.block\.1\.conv\.conv\.", ".conv1.conv."),
        (r"\.block\.3\.conv\.conv\.", ".conv2.conv."),
        (r"\.shortcut\.conv\.conv\.", ".shortcut.conv."),
        (r"\.conv\.conv\.", ".conv."),
        (r"\.convtr\.convtr\.", ".convtr."),
        (r"^quantizer\.vq\.layers\.(\d+)\._codebook\.(embed|embed_avg|cluster_size)$", r"quantizer.layers.\1.\2"),
        (r"^quantizer\.vq\.layers\.(\d+)\._codebook\.inited$", r"quantizer.layers.\1.initialized"),
        (r"\.weight_g$", ".parametrizations.weight.original0"),  # weight norm saved with torch < 2.1
        (r"\.weight_v$", ".parametrizations.weight.original1"),
    )
)


# ------------------------------------------------------------------------------------------------ bitrates
def espnet_frame_rate(sample_rate: int, ratios: list[int]) -> int:
    """ESPnet's frame rate: ``ceil(sample_rate / hop)`` (an integer, unlike ``CodecConfig.frame_rate``)."""
    return math.ceil(sample_rate / math.prod(ratios))


def espnet_codebooks(bandwidth_kbps: float | None, *, sample_rate: int, ratios: list[int], bins: int,
                     n_q: int) -> int:
    """Codebooks ESPnet uses for a target bandwidth (``ResidualVectorQuantizer.get_num_quantizers_for_bandwidth``).

    None or <= 0 means all ``n_q``; more than ``n_q`` is what ESPnet silently gets (its layer slice stops there).
    """
    if not bandwidth_kbps or bandwidth_kbps <= 0:
        return n_q
    per_codebook = math.log2(bins) * espnet_frame_rate(sample_rate, ratios) / 1000
    return min(n_q, max(1, math.floor(bandwidth_kbps / per_codebook)))


# -------------------------------------------------------------------------------------------------- config
def _fail(where: str, key: str, message: str) -> CodecStudyError:
    return CodecStudyError(f"{where}: {key}: {message}")


def generator_params(train_config: Mapping[str, Any], where: str) -> tuple[int, dict[str, Any]]:
    """``(sampling_rate, generator params with ESPnet's defaults filled in)`` from an ESPnet ``config.yaml``."""
    codec = train_config.get("codec")
    if codec != "soundstream":
        raise _fail(where, "codec", f"{codec!r} is not an ESPnet SoundStream (expected 'soundstream')")
    conf = train_config.get("codec_conf") or {}
    if not isinstance(conf, Mapping):
        raise _fail(where, "codec_conf", "expected a mapping")
    for key in conf:
        if key not in TRAINING_KEYS and key not in ("sampling_rate", "generator_params"):
            raise _fail(where, f"codec_conf.{key}", "not a keyword of ESPnet's SoundStream")
    params = conf.get("generator_params")
    if params is None:
        params = {}
    if not isinstance(params, Mapping):
        raise _fail(where, "codec_conf.generator_params", "expected a mapping")
    for key in params:
        if key not in GENERATOR_DEFAULTS and key != "sample_rate":  # ESPnet overwrites sample_rate with sampling_rate
            raise _fail(where, f"codec_conf.generator_params.{key}", "not a keyword of ESPnet's SoundStreamGenerator")
    return int(conf.get("sampling_rate", 24000)), {**GENERATOR_DEFAULTS, **params}


def _activation(params: Mapping[str, Any], where: str) -> str:
    key = "codec_conf.generator_params.encdec_activation"
    if params["encdec_activation"] != "ELU":
        raise _fail(where, key, f"{params['encdec_activation']!r} has no counterpart here (ELU only)")
    alpha = (params["encdec_activation_params"] or {}).get("alpha", 1.0)
    extra = set(params["encdec_activation_params"] or {}) - {"alpha"}
    if alpha != 1.0 or extra:
        raise _fail(where, key + "_params", f"{params['encdec_activation_params']} (only ELU alpha 1.0 maps)")
    return "elu"


def _final_activation(params: Mapping[str, Any], where: str) -> str:
    name = params["decoder_final_activation"]
    if name is None:
        return "none"
    if name == "Tanh" and not params["decoder_final_activation_params"]:
        return "tanh"
    raise _fail(where, "codec_conf.generator_params.decoder_final_activation", f"{name!r} has no counterpart here "
                "(None or Tanh)")


def codec_config_from_espnet(train_config: Mapping[str, Any], where: str = "config.yaml",
                             name: str = "espnet") -> CodecConfig:
    """Our config for an ESPnet SoundStream ``config.yaml``; a setting without a counterpart fails naming its key.

    Architecture and quantizer come from ``codec_conf``; the training sections (losses, discriminators, schedule)
    are soundstream-paper's, the recipe the paper's codecs were trained with.
    """
    sample_rate, p = generator_params(train_config, where)
    gp = "codec_conf.generator_params."
    if p["encdec_channels"] != 1:
        raise _fail(where, gp + "encdec_channels", f"{p['encdec_channels']} (only mono codecs map)")
    if p["hidden_dim"] != ESPNET_CODEBOOK_DIM:
        raise _fail(where, gp + "hidden_dim", f"{p['hidden_dim']}: ESPnet then projects to {ESPNET_CODEBOOK_DIM}-dim "
                    "codebooks, which soundstream models do not have (only hidden_dim 512 maps)")
    if p["encdec_norm"] not in ("weight_norm", "none"):
        raise _fail(where, gp + "encdec_norm", f"{p['encdec_norm']!r} (weight_norm or none)")
    if p["encdec_norm_params"]:
        raise _fail(where, gp + "encdec_norm_params", f"{p['encdec_norm_params']} (only {{}} maps)")
    if p["encdec_pad_mode"] not in ("reflect", "constant"):
        raise _fail(where, gp + "encdec_pad_mode", f"{p['encdec_pad_mode']!r} (reflect or constant)")
    if p["decoder_trim_right_ratio"] != 1.0:
        raise _fail(where, gp + "decoder_trim_right_ratio", f"{p['decoder_trim_right_ratio']} (only 1.0 maps)")
    ratios = [int(r) for r in p["encdec_ratios"]]
    n_q, bins = int(p["quantizer_n_q"]), int(p["quantizer_bins"])
    bandwidths = p["quantizer_target_bandwidth"]
    if not isinstance(bandwidths, list) or not bandwidths:
        raise _fail(where, gp + "quantizer_target_bandwidth", f"{bandwidths!r} (a non-empty list of kbps)")
    choices = [espnet_codebooks(float(b), sample_rate=sample_rate, ratios=ratios, bins=bins, n_q=n_q)
               for b in bandwidths]
    base = preset_config(PAPER_PRESET).model_dump(mode="json")
    data = {
        **base,
        "name": name,
        "sample_rate": sample_rate,
        "seanet": {
            "channels": p["encdec_n_filters"],
            "dimension": p["hidden_dim"],
            "ratios": ratios,
            "n_residual_layers": p["encdec_n_residual_layers"],
            "kernel_size": p["encdec_kernel_size"],
            "last_kernel_size": p["encdec_last_kernel_size"],
            "residual_kernel_size": p["encdec_residual_kernel_size"],
            "dilation_base": p["encdec_dilation_base"],
            "lstm_layers": p["encdec_lstm"],
            "causal": bool(p["encdec_causal"]),
            "norm": p["encdec_norm"],
            "activation": _activation(p, where),
            "compress": p["encdec_compress"],
            "true_skip": bool(p["encdec_true_skip"]),
            "pad_mode": p["encdec_pad_mode"],
            "final_activation": _final_activation(p, where),
            "init": "torch",
        },
        "quantizer": {
            **base["quantizer"],
            "kind": "ema",
            "n_codebooks": n_q,
            "codebook_size": bins,
            "ema_decay": p["quantizer_decay"],
            "epsilon": 1e-5,
            "kmeans_init": bool(p["quantizer_kmeans_init"]),
            "kmeans_iters": p["quantizer_kmeans_iters"],
            "dead_code_threshold": float(p["quantizer_threshold_ema_dead_code"]),
            "dead_code_mode": "count",
            "dropout": "batch",
            "dropout_probability": 1.0,
            "dropout_choices": choices,
        },
    }
    return codec_config_from_dict(data, file=where)


# ------------------------------------------------------------------------------------------------- weights
def rename_key(key: str) -> str:
    """Our name for one ESPnet generator key (``codec.generator.`` already stripped)."""
    for pattern, repl in _RENAMES:
        key = pattern.sub(repl, key)
    return key


def convert_state_dict(state: Mapping[str, torch.Tensor], model: SoundStream, where: str) -> dict[str, torch.Tensor]:
    """ESPnet model state dict -> ours for ``model``; the first key without a counterpart (or of another shape)
    fails naming it and ``where``. Discriminator and loss tensors are dropped."""
    ours = model.state_dict()
    out: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        if key.startswith(DROPPED_PREFIXES):
            continue
        inner = key[len(GENERATOR_PREFIX):] if key.startswith(GENERATOR_PREFIX) else key
        target = rename_key(inner)
        if target not in ours:
            raise CodecStudyError(f"{where}: unexpected key {key!r} (no counterpart in codecstudy's soundstream)")
        if not isinstance(value, torch.Tensor):
            raise CodecStudyError(f"{where}: key {key!r} is not a tensor")
        if target.endswith(".initialized"):  # ESPnet: float [1]; ours: bool []
            if value.numel() != 1:
                raise CodecStudyError(f"{where}: key {key!r} has shape {tuple(value.shape)}, expected (1,)")
            value = value.reshape(()).to(torch.bool)
        elif value.shape != ours[target].shape:
            raise CodecStudyError(f"{where}: key {key!r} has shape {tuple(value.shape)}, expected "
                                  f"{tuple(ours[target].shape)}")
        else:
            value = value.to(ours[target].dtype)
        if target in out:
            raise CodecStudyError(f"{where}: key {key!r} duplicates another spelling of {target!r}")
        out[target] = value
    missing = [k for k in ours if k not in out]
    if missing:
        raise CodecStudyError(f"{where}: missing key for {missing[0]!r} ({len(missing)} missing in all)")
    return out


def _state_dict(payload: Any, where: str) -> Mapping[str, torch.Tensor]:
    """The model state dict inside a ``*.pth`` (a plain state dict, or ESPnet's ``checkpoint.pth`` with ``model``)."""
    if isinstance(payload, Mapping) and isinstance(payload.get("model"), Mapping):
        payload = payload["model"]
    if not isinstance(payload, Mapping) or not payload:
        raise CodecStudyError(f"{where}: not an ESPnet model state dict")
    return payload


# --------------------------------------------------------------------------------------------------- files
class _TolerantLoader(yaml.SafeLoader):
    """Safe YAML that reads ``!!python/tuple`` (and other python tags) as plain lists instead of failing."""


def _python_tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node, deep=True)
    return loader.construct_scalar(node)  # type: ignore[arg-type]


_TolerantLoader.add_multi_constructor("tag:yaml.org,2002:python/", _python_tag)


def _first_line(exc: Exception) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_TolerantLoader)  # noqa: S506 (safe subclass)
    except (OSError, yaml.YAMLError) as exc:
        raise CodecStudyError(f"{path}: cannot read ({_first_line(exc)})") from None
    if not isinstance(data, dict):
        raise CodecStudyError(f"{path}: expected a mapping")
    return data


def _pick_model_file(folder: Path) -> Path:
    files = sorted(folder.glob("*.pth"))
    if len(files) == 1:
        return files[0]
    if not files:
        raise CodecStudyError(f"{folder}: no *.pth model file beside config.yaml")
    names = ", ".join(f.name for f in files)
    raise CodecStudyError(f"{folder}: several model files ({names}); name one, e.g. espnet:{folder / files[-1].name}")


def locate(source: str | Path) -> tuple[Path, Path]:
    """``(config.yaml, model .pth)`` of a local ESPnet model: a .pth file, an exp folder or a download folder."""
    path = Path(source)
    if path.is_file():
        if path.suffix != ".pth":
            raise CodecStudyError(f"{path}: expected an ESPnet *.pth model file or a folder")
        config = path.parent / "config.yaml"
        if not config.is_file():
            raise CodecStudyError(f"{path}: no config.yaml beside it")
        return config, path
    if not path.is_dir():
        raise CodecStudyError(f"{path}: ESPnet model not found (a folder with config.yaml and *.pth, or a hub name "
                              "such as espnet/mls-english_soundstream_16k)")
    meta = path / "meta.yaml"
    if meta.is_file():  # espnet_model_zoo / `espnet pack` layout: paths relative to the folder
        info = read_yaml(meta)
        config = (info.get("yaml_files") or {}).get("train_config")
        model = (info.get("files") or {}).get("model_file")
        if not config or not model:
            raise CodecStudyError(f"{meta}: yaml_files.train_config and files.model_file are required")
        config_path, model_path = path / config, path / model
        for needed in (config_path, model_path):
            if not needed.is_file():
                raise CodecStudyError(f"{meta}: {needed} is missing")
        return config_path, model_path
    if (path / "config.yaml").is_file():
        return path / "config.yaml", _pick_model_file(path)
    configs = sorted(p for p in path.rglob("config.yaml") if "codec_conf" in p.read_text(encoding="utf-8"))
    if len(configs) == 1:
        return configs[0], _pick_model_file(configs[0].parent)
    if not configs:
        raise CodecStudyError(f"{path}: no ESPnet codec config.yaml (with codec_conf) in this folder")
    raise CodecStudyError(f"{path}: several ESPnet codec folders ({', '.join(str(c.parent) for c in configs)}); "
                          "name one")


def download(tag: str) -> tuple[Path, Path]:
    """``(config.yaml, model .pth)`` of a Hugging Face model repository, downloaded into the hub cache once
    (``snapshot_download`` returns the cached copy after that; offline it fails at once when there is none)."""
    try:
        import huggingface_hub  # optional (it comes with transformers), for hub names only
    except ImportError as exc:
        raise CodecStudyError(
            f"espnet:{tag}: no such local folder, and downloading it from the hub needs huggingface_hub "
            f"(pip install huggingface_hub; {exc}); or download it once elsewhere and pass its folder"
        ) from None
    try:
        folder = huggingface_hub.snapshot_download(tag)
    except Exception as exc:  # offline, unknown repository, network errors: all mean "not here"
        raise CodecStudyError(
            f"espnet:{tag}: not in the hub cache and cannot be downloaded ({type(exc).__name__}: {_first_line(exc)}); "
            "run `codecstudy study fetch STUDY` on a node with internet, or pass a downloaded folder"
        ) from None
    return locate(folder)


def _cached(tag: str) -> bool:
    """The repository's files are in the hub cache, complete enough to load (reads the cache only)."""
    try:
        import huggingface_hub  # optional, see download()

        locate(huggingface_hub.snapshot_download(tag, local_files_only=True))
    except Exception:  # noqa: BLE001 - not installed, not cached, or cached without its model files
        return False
    return True


def hub_models(source: str) -> list[HubModel]:
    """The hub model loading ``source`` downloads: its repository for a hub name, nothing for a local path."""
    source = source[len(PREFIX):] if source.startswith(PREFIX) else source
    if not is_hub_name(source):
        return []
    return [HubModel(f"ESPnet codec {source.rsplit('/', 1)[-1]}", source, HUGGING_FACE, str(hf_repo_folder(source)),
                     lambda: download(source), lambda: _cached(source))]


def is_hub_name(source: str) -> bool:
    """``owner/name`` that is not a local path: a model repository to download from the hub."""
    return not Path(source).exists() and bool(_HUB_TAG.match(source))


def resolve(source: str) -> tuple[Path, Path]:
    """Local files for ``source`` (without the ``espnet:`` prefix); a hub name is downloaded."""
    if is_hub_name(source):
        return download(source)
    return locate(source)


def load_espnet_codec(source: str) -> SoundStream:
    """A codecstudy SoundStream holding an ESPnet SoundStream checkpoint's generator, in eval mode."""
    source = source[len(PREFIX):] if source.startswith(PREFIX) else source
    config_path, model_path = resolve(source)
    name = f"espnet-{config_path.parent.name}"
    config = codec_config_from_espnet(read_yaml(config_path), where=str(config_path), name=name)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        model = SoundStream(config)
    try:
        payload = torch.load(model_path, map_location="cpu", weights_only=True)
    except Exception as exc:  # pickle, zip and torch errors all mean "not a state dict we can read"
        raise CodecStudyError(f"{model_path}: cannot read ESPnet model file ({_first_line(exc)})") from None
    state = convert_state_dict(_state_dict(payload, str(model_path)), model, str(model_path))
    model.load_state_dict(state, strict=True)
    return model.eval()
