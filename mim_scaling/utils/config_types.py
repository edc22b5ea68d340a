"""The types a config names: their class names, and hooks added unless one is present."""
from typing import Any

__all__ = ['type_name', 'add_custom_hook']


def type_name(kind: Any) -> str:
    """The class name a config's ``type`` gives, without its scope: ``'AdamW'`` for
    ``'AdamW'``, ``'mmpretrain.AdamW'`` or the class itself."""
    return kind.__name__ if isinstance(kind, type) else str(kind).split('.')[-1]


def add_custom_hook(cfg, hook: dict) -> None:
    """Appends ``hook`` to ``cfg.custom_hooks`` unless a hook of its class is there already
    (a config rewritten before, e.g. the one a run dumps into its work dir, or a config
    that lists the hook with options of its own)."""
    hooks = list(cfg.get('custom_hooks') or [])
    name = type_name(hook['type'])
    if not any(type_name(present.get('type')) == name for present in hooks):
        cfg.custom_hooks = [*hooks, hook]
