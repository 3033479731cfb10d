"""kops-iam's tools: the ``kops-iam`` CLI, the embedded AWS emulator, the demo and its rendering.

They import the Lambda package :mod:`kops_iam`, never the other way round, and none of them
is part of the Lambda asset.
"""
