"""kops-iam: keep the IAM roles of kops clusters exactly as their cluster specs say.

This package is the Lambda asset, and holds only what the function runs, in three layers
(each imports only the ones before it):

``kops_iam.domain``       pure: parse and validate a spec, check ``additionalPolicies``,
                          compute kops' policies. No I/O.
``kops_iam.aws``          AWS adapters: IAM read, the pure IAM diff, IAM write; the S3 spec
                          source; the audit publisher; the event models; KMS lookups.
``kops_iam.application``  the reconciler's orchestration, the settings and the Lambda handler.

The tools (CLI, demo, rendering, emulator) are the separate package ``kops_iam_tools``.
"""

__version__ = "0.1.0"
