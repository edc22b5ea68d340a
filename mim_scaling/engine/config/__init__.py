"""Turning a config into a run: the package's Runner, the keys it carries out and the checks
it runs first."""
from .checks import check_config
from .errors import ConfigError
from .package_keys import PACKAGE_KEYS
from .rewrite import rewrite_config
from .runner import Runner

__all__ = ['ConfigError', 'PACKAGE_KEYS', 'Runner', 'check_config', 'rewrite_config']
