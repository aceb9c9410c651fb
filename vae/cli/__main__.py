"""`python -m vae.cli ...` is `vae-lab ...` (torchrun starts workers this way: `torchrun -m vae.cli train`)."""

import sys

from vae.cli.main import main

sys.exit(main())
