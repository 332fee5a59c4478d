"""``python -m podsim``: the command-line interface (see :mod:`podsim.cli`)."""

from podsim.cli import main

raise SystemExit(main())
