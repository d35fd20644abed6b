"""`python -m podsift` and the `podsift` command."""

import gc

# The imports below build a heap of modules and classes that lives until exit; collecting
# while they run only walks it again and again (70 ms of a 0.64 s start). main() turns the
# collector back on, with that heap frozen out of its reach.
gc.disable()

from podsift.cli import main  # noqa: E402

if __name__ == "__main__":
    main()
