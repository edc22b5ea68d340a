from .config_types import add_custom_hook, type_name
from .random_states import (capture_random_states, preserved_random_states,
                            restore_random_states, seeded_random_states)

__all__ = [
    'add_custom_hook', 'type_name',
    'capture_random_states', 'restore_random_states', 'preserved_random_states',
    'seeded_random_states'
]
