"""Running and reading a data-scaling study: grids of pre-training runs with their
fine-tunings (the released one or one's own), and their results in the zoo file's columns."""
from .grid import (FROM_SCRATCH, StudyRun, final_checkpoint, grid_from_file, read_run_config,
                   zoo_grid)
from .results import (StudyResult, backbone_params, collect_results, read_results,
                      released_results, results_markdown, write_results)

__all__ = ['FROM_SCRATCH', 'StudyRun', 'final_checkpoint', 'grid_from_file', 'read_run_config',
           'zoo_grid', 'StudyResult', 'backbone_params', 'collect_results', 'read_results',
           'released_results', 'results_markdown', 'write_results']
