"""Federated mode: sites that may not send images out export a signed site bundle.

A site runs the workflow on its own partitions, then
:func:`~validation.federated.bundle.export_bundle` writes one file holding its predictions by
every locked model version, its sealed reference readings, its accounting and the protocol's
lock record (no pixels, no identifying headers), signed with the site's Ed25519 key
(:mod:`~validation.federated.keys`). The coordinating centre verifies every bundle's signature
and lock (:func:`~validation.federated.bundle.verify_bundle`) and pools them with the same
analysis as a centralised run (:mod:`~validation.federated.pool`).
"""
