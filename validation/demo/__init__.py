"""The synthetic demo study: a product feature, deterministic from a seed.

Only the command line and the workflow import this package (see DESIGN.md, "Directions").
"""

#: The demo model's name and the folder of its versions (``<MODEL_DIR>/<version>``).
MODEL_NAME = "ivsd-cnn"
MODEL_DIR = f"models/{MODEL_NAME}"
