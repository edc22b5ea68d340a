"""mim_scaling.study computes numbers; the figures are mim_scaling.visualization's and the
Markdown tools/analysis/'s, so a study module imports neither matplotlib nor them."""
import ast
from pathlib import Path

import mim_scaling.study

PLOTTING = ('matplotlib', 'mim_scaling.visualization')


def imported_modules(path: Path):
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            yield node.module


def test_no_study_module_imports_plotting_code():
    study = Path(mim_scaling.study.__file__).parent
    found = {f'{path.name}: {module}' for path in sorted(study.glob('*.py'))
             for module in imported_modules(path)
             if module and module.startswith(PLOTTING)}
    assert not found, sorted(found)
