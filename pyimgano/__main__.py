"""``python -m pyimgano`` runs ``pyimgano-benchmark``."""

import sys

from pyimgano.cli.benchmark import main

sys.exit(main())
