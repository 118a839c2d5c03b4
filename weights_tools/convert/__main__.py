"""`python3 -m weights_tools.convert`: runs the converter's CLI (converter.main); nothing else."""

import sys

from .converter import main

sys.exit(main())
