from .random_states import (capture_random_states, preserved_random_states,
                            restore_random_states, seeded_random_states)

__all__ = [
    'capture_random_states', 'restore_random_states', 'preserved_random_states',
    'seeded_random_states'
]
