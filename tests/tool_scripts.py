"""The scripts under tools/ (not a package) as modules, for tests that call them in their own
process: faster than a subprocess, and the tool's exceptions reach the test."""
import importlib.util
from pathlib import Path
from types import ModuleType
from typing import Optional

TOOLS = Path(__file__).parents[1] / 'tools'


def load_tool(path: str) -> ModuleType:
    """``tools/<path>`` freshly loaded, as a module named after its path (so that
    tools/test.py does not take the place of the standard library's ``test``)."""
    name = 'tools_' + Path(path).with_suffix('').as_posix().replace('/', '_')
    spec = importlib.util.spec_from_file_location(name, TOOLS / path)
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    return tool


def call_tool(path: str, *args) -> Optional[str]:
    """``tools/<path>``'s ``main(args)``; its exit message if it exits, else None."""
    try:
        load_tool(path).main([str(a) for a in args])
    except SystemExit as e:
        return str(e.code)
    return None
