"""``python -m signaling`` is the same as the ``phonghop`` command."""

from signaling.cli import main

main()
