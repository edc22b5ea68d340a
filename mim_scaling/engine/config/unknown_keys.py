"""Unknown keys of a config, refused before anything is built, with the closest valid key.

mmengine passes the keys of a hook, loop, optimizer wrapper or optimizer to its class only
when it builds it, and some not even then: ``CheckpointHook`` hands keys it does not know
to ``Runner.save_checkpoint``, so ``default_hooks.checkpoint.max_keep_ckpt=1`` fails at the
first save, hours into a run; ``paramwise_cfg``, ``auto_scale_lr`` and ``env_cfg`` are read
with ``dict.get``, so a misspelt key there is ignored for good. :func:`key_problems` reads
the config only (nothing is built) and names each such key:

* ``default_hooks`` and ``custom_hooks``, ``train_cfg``/``val_cfg``/``test_cfg``,
  ``optim_wrapper`` and its ``optimizer``: each type is resolved through mmengine's
  registries (the config's ``default_scope``, and scoped names such as
  ``'mim_scaling.AtomicCheckpointHook'``), and its keys are checked against the parameters
  of its ``__init__``. A ``**kwargs`` of a class of OpenMMLab's libraries, PyTorch or this
  package is followed to where it goes (the base class's ``__init__``,
  ``Runner.save_checkpoint`` for checkpoint hooks, the wrapped optimizer of a ZeRO
  optimizer); one of any other class (a user's own hook) may read options of its own,
  so that class takes any key;
* ``optim_wrapper.paramwise_cfg`` of the package's constructors, ``auto_scale_lr``,
  ``env_cfg`` and its ``mp_cfg``, and the dict-valued keys of the package
  (:data:`~mim_scaling.engine.config.package_keys.PACKAGE_KEYS`);
* an unregistered ``type``, with the class of that name in another scope
  (``'LossCurveHook'`` -> ``'mim_scaling.LossCurveHook'``) before any similar name.

Top-level keys are not refused: configs hold variables of their own (``max_iters``,
``conv_cfg``, ``val_evaluator_subset``); :func:`key_problems` returns a warning for one
that is close to a key of the Runner or of this package (``skip_unreadable_image``).
"""
import difflib
import functools
import inspect
from typing import Callable, Dict, List, Optional, Set, Tuple

from mmengine.registry import HOOKS, LOOPS, OPTIM_WRAPPERS, OPTIMIZERS, RUNNERS, Registry
from mmengine.runner import Runner
from mmengine.utils.dl_utils import set_multi_processing

from mim_scaling.engine.optimizers import (LayerDecayOptimWrapperConstructor,
                                           MergedGroupsOptimWrapperConstructor)
from mim_scaling.registry import SCOPE
from .package_keys import PACKAGE_KEYS

__all__ = ['key_problems', 'accepted_keys', 'PARAMWISE_KEYS', 'RUNNER_CFG_KEYS']

# Keys of a config that are not arguments of the Runner.
CONFIG_KEYS = ('custom_imports', 'runner_type', 'default_scope')
# Keys that mmengine's Runner (0.10) reads from its config itself rather than taking as
# arguments (tests/engine/config/test_unknown_keys.py compares them with its source).
RUNNER_CFG_KEYS = ('model_wrapper_cfg', 'sync_bn', 'find_unused_parameters',
                   'activation_checkpointing', 'efficient_conv_bn_eval', 'compile')
# A top-level key this close to a known one (difflib's ratio) is warned of as a misspelling.
TOP_LEVEL_CUTOFF = 0.85
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
# paramwise_cfg keys that the package's constructors read: those of mmengine 0.10's default
# constructor and of mmpretrain 1.2's layer-decay one, which they extend, and the key of the
# no-weight-decay rule (engine/optimizers/no_weight_decay.py). Other constructors are not
# checked: mmengine's own ignores keys it does not know, and configs of the stack hold some
# (mmpretrain's twins configs: '_delete').
_DEFAULT_PARAMWISE = ('custom_keys', 'bias_lr_mult', 'bias_decay_mult', 'norm_decay_mult',
                      'dwconv_decay_mult', 'flat_decay_mult', 'bypass_duplicate',
                      'dcn_offset_lr_mult')
_NO_WEIGHT_DECAY_RULE = ('no_decay_rule', )
PARAMWISE_KEYS = {
    MergedGroupsOptimWrapperConstructor: _DEFAULT_PARAMWISE + _NO_WEIGHT_DECAY_RULE,
    LayerDecayOptimWrapperConstructor: ('custom_keys', 'layer_decay_rate', 'bias_decay_mult',
                                        'norm_decay_mult', 'flat_decay_mult')
    + _NO_WEIGHT_DECAY_RULE,
}
# Keys of auto_scale_lr (Runner.scale_lr) and env_cfg (Runner.setup_env).
AUTO_SCALE_LR_KEYS = ('enable', 'base_batch_size')
ENV_CFG_KEYS = ('cudnn_benchmark', 'mp_cfg', 'dist_cfg', 'resource_limit')
# Libraries whose classes pass **kwargs on to their base class or to a known function.
_KNOWN_LIBRARIES = ('mmengine', 'mmcv', 'mmpretrain', 'mmdet', 'mmseg', 'torch', SCOPE)

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


def _names_in_scope(registry: Registry, scope: str) -> List[str]:
    """The names a ``type`` resolves in ``scope``: that registry's and its parents'."""
    names = []
    with registry.switch_scope_and_registry(scope) as scoped:
        while scoped is not None:
            names += list(scoped.module_dict)
            scoped = scoped.parent
    return names


def _children(registry: Registry) -> Dict[str, Registry]:
    """The registries of every scope (``mim_scaling``, ``mmpretrain``, ...) by scope."""
    todo, found = [registry._get_root_registry()], {}
    while todo:
        node = todo.pop()
        found[node.scope] = node
        todo += list(node.children.values())
    return found


def _meant(registry: Registry, name: str, scope: str) -> Optional[str]:
    """The type a ``type`` that is not registered was most likely meant to name: the class
    of that very name in another scope (this package's first: its classes add guarantees
    to the stack's, e.g. FiniteLossOptimWrapper to OptimWrapper, so a base class must not
    be offered for them), else the closest name in the given scope or in this package's."""
    prefix, _, bare = name.rpartition('.')
    scopes = _children(registry)
    if prefix:
        child = scopes.get(prefix)
        candidates = [f'{prefix}.{n}' for n in (child.module_dict if child else ())]
        close = difflib.get_close_matches(name, candidates, n=1)
        return close[0] if close else None
    ours = scopes.get(SCOPE)
    if ours is not None and bare in ours.module_dict:
        return f'{SCOPE}.{bare}'
    for other, child in sorted(scopes.items()):
        if bare in child.module_dict and other != scope:
            return f'{other}.{bare}'
    # Qualified with their scope where the default scope does not see them.
    candidates = {n: n for n in _names_in_scope(registry, scope)}
    for n in (ours.module_dict if ours is not None else ()):
        candidates.setdefault(n, f'{SCOPE}.{n}')
    close = difflib.get_close_matches(bare, list(candidates), n=1)
    return candidates[close[0]] if close else None


def _passes_kwargs_on(klass: type) -> bool:
    """Whether a ``**kwargs`` of ``klass.__init__`` is known to go on to its base class
    (classes of the stack and of this package); a user's own class may read it itself."""
    return klass.__module__.split('.')[0] in _KNOWN_LIBRARIES


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
        if not _passes_kwargs_on(klass):
            return None
    return None


def _suggest(key: str, valid) -> str:
    close = difflib.get_close_matches(key, sorted(valid), n=1)
    if close:
        return f"; did you mean '{close[0]}'?"
    return f'; it takes {", ".join(sorted(valid))}'


def _shown(kind) -> str:
    """A ``type`` as the config wrote it (a name with its scope, or a class's name)."""
    return kind if isinstance(kind, str) else getattr(kind, '__name__', str(kind))


class _Checker:
    """Collects the problems and warnings of one config."""

    def __init__(self, cfg):
        self.cfg = cfg
        self.scope = cfg.get('default_scope') or 'mmengine'
        self.runner_cls = _registered(RUNNERS, cfg.get('runner_type', 'Runner'),
                                      self.scope) or Runner
        self.problems: List[str] = []
        self.warnings: List[str] = []

    def save_checkpoint_keys(self) -> Optional[Set[str]]:
        """What CheckpointHook's **kwargs can add: the Runner's save_checkpoint arguments
        that the hook does not pass itself."""
        keys = accepted_keys(self.runner_cls.save_checkpoint)  # a function: with self
        return None if keys is None else keys - set(SAVE_CHECKPOINT_ARGUMENTS) - {'self'}

    def check(self, where: str, part, registry: Registry, what: str, default_type=None,
              extra=(), exclude=(), follow=None):
        """Checks the keys of ``part`` (a dict with a ``type``) against its class; returns
        the class, or None."""
        kind = part.get('type', default_type) if isinstance(part, dict) else None
        if kind is None:
            return None
        # _scope_: the library of a dict inherited from another's config ('mmpretrain::...')
        scope = part.get('_scope_', self.scope)
        cls = _registered(registry, kind, scope)
        if cls is None:
            meant = _meant(registry, _shown(kind), scope)
            self.problems.append(
                f"{where}: type '{_shown(kind)}' is not a registered {what} (scope '{scope}')"
                + (f"; did you mean '{meant}'?" if meant else ''))
            return None
        self.keys_of(where, part, accepted_keys(cls, follow), _shown(kind), exclude,
                     {'type', '_scope_', *extra})
        return cls

    def keys_of(self, where: str, part, keys, owner: Optional[str] = None, exclude=(),
                extra=()):
        """Refuses the keys of the dict ``part`` outside ``keys`` (None: takes any);
        ``owner`` names what reads them."""
        if keys is None or not isinstance(part, dict):
            return
        valid = (set(keys) - set(exclude)) | set(extra)
        of = f' of {owner}' if owner else ''
        for key in part:
            if key not in valid:
                self.problems.append(f"{where}: unknown key '{key}'{of}{_suggest(key, valid)}")

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
            if key == 'train_cfg' and ('type' in loop) == ('by_epoch' in loop):
                # mmengine refuses it only when it trains: a test run may still use the config
                self.warnings.append(
                    "train_cfg needs either a type or by_epoch (which then chooses the loop), "
                    f"and has {'both' if 'type' in loop else 'neither'}: mmengine's Runner "
                    'cannot train with it')
                continue
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
        self.paramwise_cfg(where, wrapper)

    def paramwise_cfg(self, where: str, wrapper: dict):
        """The keys of ``paramwise_cfg`` that its constructor reads (for the constructors
        of :data:`PARAMWISE_KEYS`)."""
        from mmengine.registry import OPTIM_WRAPPER_CONSTRUCTORS
        constructor = _registered(OPTIM_WRAPPER_CONSTRUCTORS,
                                  wrapper.get('constructor', 'DefaultOptimWrapperConstructor'),
                                  self.scope)
        keys = PARAMWISE_KEYS.get(constructor)
        self.keys_of(f'{where}.paramwise_cfg', wrapper.get('paramwise_cfg'), keys,
                     getattr(constructor, '__name__', 'its constructor'))

    def runner_dicts(self):
        """The dicts that mmengine's Runner reads with ``dict.get``."""
        self.keys_of('auto_scale_lr', self.cfg.get('auto_scale_lr'), AUTO_SCALE_LR_KEYS,
                     'Runner.scale_lr')
        env_cfg = self.cfg.get('env_cfg')
        self.keys_of('env_cfg', env_cfg, ENV_CFG_KEYS, 'Runner.setup_env')
        if isinstance(env_cfg, dict):
            self.keys_of('env_cfg.mp_cfg', env_cfg.get('mp_cfg'),
                         accepted_keys(set_multi_processing) - {'distributed'},
                         'set_multi_processing')

    def top_level(self):
        known = set(PACKAGE_KEYS) | set(CONFIG_KEYS) | _runner_keys(self.runner_cls)
        for key in self.cfg.keys():
            if key in known:
                continue
            close = difflib.get_close_matches(key, sorted(known), n=1, cutoff=TOP_LEVEL_CUTOFF)
            # val_evaluator_subset: a variable named after a key, not a misspelling of it
            if close and not key.startswith(f'{close[0]}_'):
                self.warnings.append(f"top-level key '{key}' is read by neither the Runner "
                                     f"nor mim_scaling; did you mean '{close[0]}'?")
        for key, entry in PACKAGE_KEYS.items():
            if entry.sub_keys:
                self.keys_of(key, self.cfg.get(key), entry.sub_keys)


@functools.lru_cache(maxsize=None)
def _runner_keys(runner_cls) -> Set[str]:
    """The keys a Runner reads from its config: its arguments, and those mmengine's Runner
    reads itself."""
    return (accepted_keys(runner_cls) or set()) | set(RUNNER_CFG_KEYS)


def key_problems(cfg) -> Tuple[List[str], List[str]]:
    """The unknown keys of ``cfg`` (see the module docstring): the problems, one sentence
    each, and the warnings about top-level keys; both empty if none."""
    checker = _Checker(cfg)
    checker.hooks()
    checker.loops()
    checker.optim_wrapper('optim_wrapper', cfg.get('optim_wrapper'))
    checker.runner_dicts()
    checker.top_level()
    return checker.problems, checker.warnings
