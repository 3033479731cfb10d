"""AWS adapters: the only code that calls AWS, each module one service and one direction.

``iam_read``   observe a cluster's roles and instance profiles
``iam_diff``   pure: plan + observed state -> the writes to make and a readable diff
``iam_write``  perform those writes (explicit dispatch, error classification)
``s3_source``  the spec objects: HEAD, pinned GET, listing
``kms``        KMS alias resolution
``audit``      audit events: the contract, their size, the publisher
``events``     the Lambda's input events, parsed
``errors``     AWS error codes
"""
