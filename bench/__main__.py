"""`python -m bench` (what `make bench` runs); `--help` lists the options."""

import sys

from .run import main

sys.exit(main())
