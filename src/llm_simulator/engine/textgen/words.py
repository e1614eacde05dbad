"""Word lists for the word-salad strategies (lorem, random)."""

from __future__ import annotations

LOREM_WORDS: tuple[str, ...] = tuple(
    """lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt
    ut labore et dolore magna aliqua enim ad minim veniam quis nostrud exercitation ullamco
    laboris nisi aliquip ex ea commodo consequat duis aute irure in reprehenderit voluptate
    velit esse cillum fugiat nulla pariatur excepteur sint occaecat cupidatat non proident
    sunt culpa qui officia deserunt mollit anim id est laborum""".split()
)

COMMON_WORDS: tuple[str, ...] = tuple(
    """the of and to in is you that it he was for on are as with his they at be this have
    from or one had by word but not what all were we when your can said there use an each
    which she do how their if will up other about out many then them these so some her would
    make like him into time has look two more write go see number no way could people my than
    first water been call who oil its now find long down day did get come made may part
    system model data token stream request response latency server client network value
    simple quick bright small large early later often always never every little great""".split()
)
