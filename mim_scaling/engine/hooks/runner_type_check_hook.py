"""Stops a run of a mim_scaling config that a Runner other than the package's has built."""
from mmengine.hooks import Hook

from mim_scaling.registry import HOOKS


@HOOKS.register_module()
class RunnerTypeCheckHook(Hook):
    """Refuses to run under any Runner but :class:`mim_scaling.engine.Runner`.

    Every config of the package names ``runner_type = 'mim_scaling.Runner'``, which the
    OpenMMLab tools and ``RUNNERS.build(cfg)`` honour; mmengine's own
    ``Runner.from_cfg(cfg)`` does not, and would run without what the package's Runner
    carries out (``memory_saving``, ``skip_unreadable_images``, ``tensorboard``,
    ``decode_on_device``, the preemption checkpoint, the build-time checks) without a word.
    The runtime bases of the package's configs list this hook in ``default_hooks``, so such
    a run stops before its first iteration and says how to build it.
    """

    priority = 'VERY_HIGH'

    def before_run(self, runner) -> None:
        from mim_scaling.engine.config import Runner  # the hook is imported by it
        if isinstance(runner, Runner):
            return
        kind = f'{type(runner).__module__}.{type(runner).__qualname__}'
        raise RuntimeError(
            f'This config is to be run by mim_scaling.Runner (its runner_type), but {kind} '
            'built it, which does not carry out the config\'s mim_scaling keys '
            '(memory_saving, skip_unreadable_images, tensorboard, decode_on_device), its '
            'preemption checkpoint or its checks. Build it with RUNNERS.build(cfg) (from '
            'mmengine.registry) or mim_scaling.engine.Runner.from_cfg(cfg).')
