"""``python -m codecstudy``: the same entry point as the ``codecstudy`` script.

It exists so that ``torchrun --nproc_per_node N -m codecstudy train ...`` can start one trainer per process.
"""

import sys

from codecstudy.cli import main

if __name__ == "__main__":
    sys.exit(main())
