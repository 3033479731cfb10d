"""The application: the reconciler's orchestration, its settings and the Lambda handler.

``settings``       what the operator decides (one table: context keys, environment, CLI flags)
``reconciler``     read-apply-verify of one spec key, with its audit event
``audit_details``  the audit detail and outcome of one reconcile
``scan``           the scheduled drift run over the bucket
``document``       a spec file against live IAM (``kops-iam plan``/``apply``)
``handler``        the Lambda entry point (thin glue)
"""
