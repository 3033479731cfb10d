"""kops-iam infrastructure as code (AWS CDK): one construct per capability, one stack.

``app`` builds the app; ``stack`` composes ``specs`` (bucket + trigger), ``reconciler``
(function, role, logs), ``permissions`` (its IAM statements), ``audit`` (bus, archive, log),
``drift`` (schedule), ``delivery`` (failure queue, alarms); ``config`` validates the
``kops-iam:*`` context; ``bundling`` builds the Lambda asset without Docker; ``nag`` runs
cdk-nag.
"""
