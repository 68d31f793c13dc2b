"""`python -m pybp ...` is the `pybp` command."""
import sys

from .cli import main

sys.exit(main())
