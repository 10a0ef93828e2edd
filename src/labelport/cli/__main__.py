"""``python -m labelport.cli``: the same command as ``labelport``."""

from labelport.cli import main

main()
