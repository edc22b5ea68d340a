"""Released checkpoints by zoo name: downloaded once into a cache, converted for our configs.

The files live in the authors' Hugging Face repository (:data:`HUB_REPO`);
``huggingface_hub`` downloads them with a progress bar into its cache (``HF_HUB_CACHE``,
``~/.cache/huggingface/hub`` by default), resumes a transfer whose connection broke where it
stopped, and checks the size; :func:`download` then checks the hub's SHA-256. Where the hub
is out of reach, ``source`` names a mirror that speaks the hub's protocol
(``https://hf-mirror.com``; the ``HF_ENDPOINT`` variable works as well) or a local folder
holding the files (in the hub's layout, or flat).
"""
import hashlib
import os
from pathlib import Path
from typing import Optional, Tuple, Union

import torch

from ..safe_loading import load_foreign_checkpoint
from ..models.backbones.swinv2_convert import convert_checkpoint
from .table import HUB_REPO, HUB_REVISION, ZooEntry, find

DEFAULT_OUT_DIR = 'work_dirs/pretrained'


def is_finetuned_name(name: str) -> bool:
    """Whether a zoo name is that of a fine-tuned classifier (``finetune_swinv2_...``)."""
    entry = find(name)
    return Path(name).stem == entry.finetuned_name


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(1 << 20), b''):
            digest.update(block)
    return digest.hexdigest()


def _verify(path: Path, expected_sha256: Optional[str]):
    """The hub names a large (LFS) file by its SHA-256: the cached copy must have it."""
    if expected_sha256 is None or len(expected_sha256) != 64:
        return  # not an LFS file: the hub gives no SHA-256 for it
    blob = path.resolve()  # the cache links snapshot entries to blobs
    actual = _sha256(blob)
    if actual != expected_sha256:
        # A corrupt copy would otherwise be served from the cache from now on.
        blob.unlink()
        path.unlink(missing_ok=True)
        raise OSError(f'{path.name}: SHA-256 {actual} differs from the hub\'s '
                      f'{expected_sha256}; the corrupt copy was removed from the cache, run the '
                      f'command again to download it')


def download(entry: ZooEntry, finetuned: bool = False, source: Optional[str] = None,
             cache_dir: Optional[str] = None) -> Path:
    """Local path of a released file, downloaded into the cache on first use.

    Args:
        source: None for the hub (or ``HF_ENDPOINT``), an ``http(s)://`` base address of a
            mirror of the hub, or a local folder with the released files.
        cache_dir: huggingface_hub's cache (default: ``HF_HUB_CACHE``).
    """
    hub_path = entry.hub_path(finetuned)
    if source is not None and not source.startswith(('http://', 'https://')):
        folder = Path(source).expanduser()
        candidates = (folder / hub_path, folder / Path(hub_path).name)
        for candidate in candidates:
            if candidate.is_file():
                return candidate
        raise FileNotFoundError(f'{Path(hub_path).name} is not in the local folder {folder} '
                                f'(looked for {" and ".join(map(str, candidates))})')

    from huggingface_hub import hf_hub_download, try_to_load_from_cache
    from huggingface_hub.file_download import get_hf_file_metadata, hf_hub_url

    endpoint = source.rstrip('/') if source else None
    cached = try_to_load_from_cache(HUB_REPO, hub_path, cache_dir=cache_dir,
                                    revision=HUB_REVISION)
    if isinstance(cached, str):
        return Path(cached)  # verified when it was downloaded; no network needed
    path = Path(hf_hub_download(HUB_REPO, hub_path, revision=HUB_REVISION, cache_dir=cache_dir,
                                endpoint=endpoint))
    # huggingface_hub checks the size only; the hub names a large file by its SHA-256.
    url = hf_hub_url(HUB_REPO, hub_path, revision=HUB_REVISION, endpoint=endpoint)
    _verify(path, get_hf_file_metadata(url, endpoint=endpoint).etag)
    return path


def output_path(name: str, out_dir: Union[str, Path] = DEFAULT_OUT_DIR) -> Path:
    """Where :func:`fetch` writes the converted checkpoint of a zoo name."""
    return Path(out_dir) / f'{Path(name).stem}.pth'


def fetch(name: str, out_dir: Union[str, Path] = DEFAULT_OUT_DIR, source: Optional[str] = None,
          cache_dir: Optional[str] = None) -> Tuple[Path, dict]:
    """Download (once) and convert a released checkpoint; returns the written file and the
    converted checkpoint. A pre-trained name gives a ``mim_scaling.SimMIM`` checkpoint with
    the decoder (``load_from``, ``tools/test.py``, a backbone's ``init_cfg``), a fine-tuned
    name an mmpretrain ``ImageClassifier`` checkpoint for ``tools/test.py``."""
    entry, finetuned = find(name), is_finetuned_name(name)
    src = download(entry, finetuned, source, cache_dir)
    converted = convert_checkpoint(load_foreign_checkpoint(src))
    expected = 'ImageClassifier' if finetuned else 'SimMIM'
    if converted['meta']['model'] != expected:
        raise ValueError(f'{src}: expected a released {expected} checkpoint for {name}, found '
                         f'a {converted["meta"]["model"]} checkpoint')
    converted['meta']['zoo_name'] = Path(name).stem
    out = output_path(name, out_dir)
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + '.partial')
    torch.save(converted, partial)
    os.replace(partial, out)  # an interrupted run leaves no truncated checkpoint behind
    return out, converted
