"""``python -m genzoo`` (and ``torchrun -m genzoo train ...``)."""

import sys

from genzoo.cli.main import main

sys.exit(main())
