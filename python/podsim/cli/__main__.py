"""``python -m podsim.cli``, the same as ``podsim`` and ``python -m podsim``."""

from podsim.cli.entry import main

raise SystemExit(main())
