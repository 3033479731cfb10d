"""kops-iam: keep the IAM roles of kops clusters exactly as their cluster specs say.

Layers, each a module with one job:

``parsing``  bytes -> document (safe YAML/JSON)
``spec``     document -> validated :class:`~kops_iam.spec.ClusterSpec` (pydantic)
``policy``   validated spec -> :class:`~kops_iam.model.ClusterPlan` (pure)
``reconcile`` plan -> IAM (boto3, diff then write)
``audit``    outcome -> EventBridge
``handler``  the Lambda entry point (thin glue)
"""

__version__ = "0.1.0"
