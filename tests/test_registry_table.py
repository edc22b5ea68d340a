"""README.md's table of registered types lists every type the package registers, and only
those: a type registered without a row (or a row left behind by a removed type) fails here
with the rows to add or remove."""
import inspect
import os.path as osp
import re

from mmengine.registry import Registry

import mim_scaling  # noqa: F401  (registers everything)
from mim_scaling import registry as package_registries

README = osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))), 'README.md')
TABLE_HEADER = '| type | what |'


def readme_table_names():
    """The ``mim_scaling.X`` names in the first column of the table of registered types."""
    lines = open(README, encoding='utf-8').read().splitlines()
    start = lines.index(TABLE_HEADER) + 2  # after the header and its |---| line
    names = set()
    for line in lines[start:]:
        if not line.startswith('|'):
            break
        first_cell = line.split('|')[1]
        names.update(re.findall(r'`mim_scaling\.(\w+)`', first_cell))
    return names


def registered_types():
    """name -> (registry name, defining module) of everything the package registers under
    its scope (tests register stand-ins there too, which the README does not list)."""
    found = {}
    for reg in vars(package_registries).values():
        if isinstance(reg, Registry) and reg.scope == package_registries.SCOPE:
            reg.import_from_location()
            for name, cls in reg.module_dict.items():
                module = inspect.getmodule(cls).__name__
                if module.split('.')[0] == 'mim_scaling':
                    found[name] = (reg.name, module)
    return found


def test_readme_lists_every_registered_type_and_no_other():
    registered = registered_types()
    listed = readme_table_names()
    missing = sorted(set(registered) - listed)
    stale = sorted(listed - set(registered))
    assert not missing, (
        'README.md\'s table of registered types ("What is in the package") lacks rows for:\n'
        + '\n'.join(f'  | `mim_scaling.{name}` | ... |   (registry "{registered[name][0]}", '
                    f'{registered[name][1]})' for name in missing))
    assert not stale, f'README.md lists types that are not registered: {stale}'
