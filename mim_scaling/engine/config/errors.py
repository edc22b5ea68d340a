"""The error of a config that cannot run: every problem named by the config fields."""
from typing import Optional, Sequence

__all__ = ['ConfigError']


class ConfigError(ValueError):
    """Config fields that contradict each other or that this machine cannot honour; the
    message lists each problem."""

    def __init__(self, problems: Sequence[str], filename: Optional[str] = None) -> None:
        self.problems = list(problems)
        self.filename = filename
        where = f' {filename}' if filename else ''
        super().__init__(f'the config{where} cannot work ({len(self.problems)} problem'
                         f'{"s" if len(self.problems) > 1 else ""}):\n  - '
                         + '\n  - '.join(self.problems))
