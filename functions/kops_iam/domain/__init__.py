"""The domain: a kops cluster spec in, kops' IAM roles and policies out. Pure, no I/O.

``parsing``              bytes -> document (safe YAML/JSON)
``spec``                 document -> validated :class:`~kops_iam.domain.spec.ClusterSpec`
``additional_policies``  the checks of ``additionalPolicies`` statements
``catalogue``            the offline IAM action catalogue
``guardrail``            the privilege-escalation guardrail
``naming``               kops' role names, truncation, partitions, ownership tags
``state_store``          the kops state-store key layout
``policy``               validated spec -> :class:`~kops_iam.domain.model.ClusterPlan`
``pipeline``             the three together: :func:`validate_spec`, :func:`plan_spec`

Lookups the policy needs (KMS aliases) arrive as functions from the caller.
"""
