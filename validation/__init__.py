"""mval: multi-site prospective validation of medical-imaging AI.

The package holds all logic; the Snakemake workflow and the ``mval`` command line only call it.
"""

__version__ = "0.1.0"
