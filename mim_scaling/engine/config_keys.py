"""Misspelt keys of a config, refused before anything is built, with the closest valid key.

mmengine passes the keys of a hook, loop, optimizer wrapper or optimizer to its class only
when it builds it, and some not even then: ``CheckpointHook`` hands keys it does not know
to ``Runner.save_checkpoint``, so ``default_hooks.checkpoint.max_keep_ckpt=1`` fails at the
first save, hours into a run. Top-level keys are never checked at all: a misspelt
``skip_unreadable_image=True`` is silently ignored. :func:`unknown_key_problems` reads the
config only (nothing is built) and names each such key:

* ``default_hooks`` and ``custom_hooks``, ``train_cfg``/``val_cfg``/``test_cfg``,
  ``optim_wrapper`` and its ``optimizer``: each type is resolved through mmengine's
  registries (the config's ``default_scope``, and scoped names such as
  ``'mim_scaling.AtomicCheckpointHook'``), and its keys are checked against the parameters
  of its ``__init__``, following ``**kwargs`` to where they go (the base class's
  ``__init__``, ``Runner.save_checkpoint`` for checkpoint hooks, the wrapped optimizer of a
  ZeRO optimizer); a class whose ``**kwargs`` go nowhere known is not checked;
* top-level keys: configs hold their own variables (``max_iters = 125_000``), so only a key
  that is none of the Runner's and the package's keys but close to one is refused;
* the sub-keys of ``memory_saving``.
"""
import difflib
import functools
import inspect
import re
from typing import Callable, Dict, List, Optional, Set

from mmengine.registry import HOOKS, LOOPS, OPTIM_WRAPPERS, OPTIMIZERS, RUNNERS, Registry
from mmengine.runner import Runner

from .memory_saving import MEMORY_SAVING_KEYS

__all__ = ['PACKAGE_KEYS', 'unknown_key_problems', 'accepted_keys']

# The top-level keys this package reads (mim_scaling.engine.runner.rewrite_config): a new
# one must be added here, else a config that sets it is refused as a near-miss of another.
PACKAGE_KEYS = ('skip_unreadable_images', 'memory_saving', 'tensorboard', 'decode_on_device')
# Keys of a config that are not arguments of the Runner.
CONFIG_KEYS = ('custom_imports', 'runner_type', 'default_scope')
# A top-level key this close to a known one (difflib's ratio) is taken for a misspelling.
TOP_LEVEL_CUTOFF = 0.8
# What mmengine's Runner builds a part with, besides the config's own keys.
LOOP_ARGUMENTS = {'train_cfg': ('runner', 'dataloader'),
                  'val_cfg': ('runner', 'dataloader', 'evaluator'),
                  'test_cfg': ('runner', 'dataloader', 'evaluator')}
# Keys of optim_wrapper that mmengine's build_optim_wrapper and the constructors take.
OPTIM_WRAPPER_KEYS = ('type', 'optimizer', 'constructor', 'paramwise_cfg')
# The arguments CheckpointHook passes to Runner.save_checkpoint itself; its **kwargs can
# only add the others.
SAVE_CHECKPOINT_ARGUMENTS = ('out_dir', 'filename', 'file_client_args', 'save_optimizer',
                             'save_param_scheduler', 'meta', 'by_epoch', 'backend_args')

_NAMED = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)


_FOUND: Dict[tuple, type] = {}  # switching scopes is slow; a registered name stays so


def _registered(registry: Registry, kind, scope: str):
    """The class a config's ``type`` names, in the config's default scope; None if none."""
    if not isinstance(kind, str):
        return kind  # a class given as it is
    key = (registry.name, kind, scope)
    if key not in _FOUND:
        with registry.switch_scope_and_registry(scope) as scoped:
            found = scoped.get(kind)
        if found is None:
            return None
        _FOUND[key] = found
    return _FOUND[key]


def _registered_names(registry: Registry, kind: str, scope: str) -> List[str]:
    """The names a ``type`` could have meant: those of its scope (``mim_scaling.X``) with
    that prefix, else those seen from the default scope."""
    prefix, _, _ = kind.rpartition('.')
    if prefix:
        child = registry._get_root_registry()._search_child(prefix)
        return [f'{prefix}.{name}' for name in (child.module_dict if child else ())]
    names = []
    with registry.switch_scope_and_registry(scope) as scoped:
        while scoped is not None:
            names += list(scoped.module_dict)
            scoped = scoped.parent
    return names


def accepted_keys(cls, follow: Optional[Dict[type, Callable]] = None) -> Optional[Set[str]]:
    """The keyword arguments ``cls(...)`` takes (``cls`` a class or a function): the named
    parameters of its ``__init__`` and, where it has ``**kwargs``, those of the ``__init__``
    of the next class of its MRO (the usual ``super().__init__(**kwargs)``), or ``follow
    [klass]()`` for a class that passes them elsewhere. None when they go nowhere known
    (then anything is taken)."""
    if not isinstance(cls, type):  # a function
        parameters = inspect.signature(cls).parameters.values()
        if any(p.kind == inspect.Parameter.VAR_KEYWORD for p in parameters):
            return None
        return {p.name for p in parameters if p.kind in _NAMED}
    names: Set[str] = set()
    for klass in inspect.getmro(cls):
        init = klass.__dict__.get('__init__')
        if init is None:
            continue
        if klass is object:
            return None  # a **kwargs that no base class takes: kept by the class itself
        parameters = list(inspect.signature(init).parameters.values())[1:]  # less self
        names |= {p.name for p in parameters if p.kind in _NAMED}
        if not any(p.kind == inspect.Parameter.VAR_KEYWORD for p in parameters):
            return names
        if follow and klass in follow:
            more = follow[klass]()
            return None if more is None else names | more
    return None


def _suggest(key: str, valid) -> str:
    close = difflib.get_close_matches(key, sorted(valid), n=1)
    if close:
        return f"; did you mean '{close[0]}'?"
    return f'; it takes {", ".join(sorted(valid))}'


def _type_name(kind) -> str:
    return kind if isinstance(kind, str) else getattr(kind, '__name__', str(kind))


class _Checker:
    """Collects the problems of one config."""

    def __init__(self, cfg):
        self.cfg = cfg
        self.scope = cfg.get('default_scope') or 'mmengine'
        self.runner_cls = _registered(RUNNERS, cfg.get('runner_type', 'Runner'),
                                      self.scope) or Runner
        self.problems: List[str] = []

    def save_checkpoint_keys(self) -> Optional[Set[str]]:
        """What CheckpointHook's **kwargs can add: the Runner's save_checkpoint arguments
        that the hook does not pass itself."""
        keys = accepted_keys(self.runner_cls.save_checkpoint)  # a function: with self
        return None if keys is None else keys - set(SAVE_CHECKPOINT_ARGUMENTS) - {'self'}

    def check(self, where: str, part, registry: Registry, what: str, default_type=None,
              extra=(), exclude=(), follow=None):
        """Checks the keys of ``part`` (a dict with a ``type``) against its class."""
        kind = part.get('type', default_type) if isinstance(part, dict) else None
        if kind is None:
            return
        # _scope_: the library of a dict inherited from another's config ('mmpretrain::...')
        scope = part.get('_scope_', self.scope)
        cls = _registered(registry, kind, scope)
        if cls is None:
            name = _type_name(kind)
            close = difflib.get_close_matches(
                name, _registered_names(registry, name, scope), n=1)
            self.problems.append(
                f"{where}: type '{name}' is not a registered {what} (scope '{scope}')"
                + (f"; did you mean '{close[0]}'?" if close else ''))
            return
        keys = accepted_keys(cls, follow)
        if keys is None:
            return
        valid = (keys - set(exclude)) | {'type', '_scope_'} | set(extra)
        for key in part:
            if key not in valid:
                self.problems.append(f"{where}: unknown key '{key}' of "
                                     f"{_type_name(kind)}{_suggest(key, valid)}")

    def hooks(self):
        from mmengine.hooks import CheckpointHook
        follow = {CheckpointHook: self.save_checkpoint_keys}
        for name, hook in (self.cfg.get('default_hooks') or {}).items():
            self.check(f'default_hooks.{name}', hook, HOOKS, 'hook', extra=('priority', ),
                       follow=follow)
        for i, hook in enumerate(self.cfg.get('custom_hooks') or []):
            self.check(f'custom_hooks[{i}]', hook, HOOKS, 'hook', extra=('priority', ),
                       follow=follow)

    def loops(self):
        defaults = {'val_cfg': 'ValLoop', 'test_cfg': 'TestLoop'}
        for key, arguments in LOOP_ARGUMENTS.items():
            loop = self.cfg.get(key)
            if not isinstance(loop, dict):
                continue
            default, extra = defaults.get(key), ()
            if key == 'train_cfg' and 'type' not in loop:
                # mmengine picks the loop by by_epoch, and pops it
                default = 'EpochBasedTrainLoop' if loop.get('by_epoch') else 'IterBasedTrainLoop'
                extra = ('by_epoch', )
            self.check(key, loop, LOOPS, 'loop', default, extra, exclude=arguments)

    def optimizer_type_keys(self, optimizer: dict) -> Callable:
        """A ZeRO optimizer's **kwargs go to the optimizer it wraps (``optimizer_type``)."""
        def keys():
            inner = _registered(OPTIMIZERS, optimizer.get('optimizer_type'), self.scope)
            return None if inner is None else accepted_keys(inner)
        return keys

    def optim_wrapper(self, where: str, wrapper):
        if not isinstance(wrapper, dict):
            return
        if 'optimizer' not in wrapper and 'type' not in wrapper and wrapper and all(
                isinstance(value, dict) for value in wrapper.values()):
            for name, value in wrapper.items():  # one wrapper per optimizer (OptimWrapperDict)
                self.optim_wrapper(f'{where}.{name}', value)
            return
        self.check(where, wrapper, OPTIM_WRAPPERS, 'optimizer wrapper', 'OptimWrapper',
                   extra=OPTIM_WRAPPER_KEYS)
        optimizer = wrapper.get('optimizer')
        if isinstance(optimizer, dict):
            cls = _registered(OPTIMIZERS, optimizer.get('type'), self.scope)
            # mmengine's and this package's ZeRO optimizers (and torch's, their base)
            follow = {klass: self.optimizer_type_keys(optimizer)
                      for klass in inspect.getmro(cls)} if isinstance(cls, type) else None
            self.check(f'{where}.optimizer', optimizer, OPTIMIZERS, 'optimizer',
                       exclude=('params', ), follow=follow)

    def top_level(self):
        known = set(PACKAGE_KEYS) | set(CONFIG_KEYS) | _runner_keys(self.runner_cls)
        for key in self.cfg.keys():
            if key in known:
                continue
            close = difflib.get_close_matches(key, sorted(known), n=1, cutoff=TOP_LEVEL_CUTOFF)
            if close:
                self.problems.append(f"unknown top-level key '{key}'; did you mean "
                                     f"'{close[0]}'?")
        settings = self.cfg.get('memory_saving')
        if isinstance(settings, dict):
            for key in settings:
                if key not in MEMORY_SAVING_KEYS:
                    self.problems.append(f"memory_saving: unknown key '{key}'"
                                         f"{_suggest(key, MEMORY_SAVING_KEYS)}")


@functools.lru_cache(maxsize=None)
def _runner_keys(runner_cls) -> Set[str]:
    """The keys a Runner reads from its config: its arguments, and the keys its methods
    read with ``cfg.get('...')`` / ``cfg['...']`` (``compile``, ``sync_bn``, ...)."""
    keys = accepted_keys(runner_cls) or set()
    for klass in inspect.getmro(runner_cls):
        if klass is object:
            continue
        source = inspect.getsource(inspect.getmodule(klass))
        keys |= set(re.findall(r"\bcfg(?:\.get\(|\[)'(\w+)'", source))
    return keys


def unknown_key_problems(cfg) -> List[str]:
    """One sentence per unknown key of ``cfg`` (see the module docstring); empty if none."""
    checker = _Checker(cfg)
    checker.hooks()
    checker.loops()
    checker.optim_wrapper('optim_wrapper', cfg.get('optim_wrapper'))
    checker.top_level()
    return checker.problems
