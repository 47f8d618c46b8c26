"""The role names of the per-study table columns, whatever the protocol measures.

``predictions.csv`` holds the model's :data:`MEASUREMENT` and :data:`PROBABILITY`; ``analysed.csv``
adds the reference standard's :data:`REFERENCE` (the measurement) and :data:`LABEL` (0/1), the
device's :data:`PREDICTED` call and the :data:`DIFFERENCE` (device minus reference). What the
measurement is (its name, label and unit) is the protocol's ``outputs`` (and ``results.json``'s
``outputs``), never a column name: the tables of any two studies have the same columns.
"""

from __future__ import annotations

#: The device's measurement, in the protocol's unit (``outputs.measurement.unit``).
MEASUREMENT = "measurement"
#: The device's probability of the finding (``outputs.finding``), in [0, 1].
PROBABILITY = "probability"
#: The reference standard's measurement.
REFERENCE = "reference"
#: The reference standard's label of the finding: 1 present, 0 absent.
LABEL = "label"
#: The device's call: 1 when :data:`PROBABILITY` is at or above the finding's threshold.
PREDICTED = "predicted"
#: :data:`MEASUREMENT` minus :data:`REFERENCE`.
DIFFERENCE = "difference"
