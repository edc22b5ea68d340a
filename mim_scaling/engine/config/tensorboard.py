"""``tensorboard=True``: mmengine's TensorBoard backend added to the run's visualizer."""
from .errors import ConfigError

__all__ = ['add_tensorboard']


def add_tensorboard(cfg) -> None:
    """With ``tensorboard=True``, adds ``TensorboardVisBackend`` next to the json logs, in
    place; events go to ``<work_dir>/<timestamp>/vis_data/``. Raises
    :class:`~mim_scaling.engine.config.errors.ConfigError` without the package."""
    if not cfg.get('tensorboard', False):
        return
    try:
        import tensorboard  # noqa: F401
    except ImportError:
        raise ConfigError(['tensorboard=True needs the tensorboard package: '
                           'pip install -e ".[tensorboard]"'], cfg.filename) from None
    # Without a visualizer in the config, the Runner's default one (json scalars).
    visualizer = cfg.get('visualizer') or dict(
        type='Visualizer', vis_backends=[dict(type='LocalVisBackend')])
    backends = visualizer.setdefault('vis_backends', [])
    if not any(backend.get('type') == 'TensorboardVisBackend' for backend in backends):
        backends.append(dict(type='TensorboardVisBackend'))
    cfg.visualizer = visualizer
