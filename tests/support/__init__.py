"""The test world: one AWS on moto for every kind of test (see ``tests/README.md``).

* :mod:`support.world`: in-process (``mock_aws``): :func:`world`, :class:`World`;
* :mod:`support.served`: over HTTP (the emulator and its runner): :func:`served_world`;
* :mod:`support.wire`: call counting (:class:`CallLog`) and fault injection (:class:`Fault`);
* :mod:`support.iam_state`: reading IAM back;
* :mod:`support.golden`: golden files (``make golden``).

Both worlds are built by :mod:`kops_iam_tools.world` (the stack's names, provisioning,
event builders, moto's quirks), the code the emulator runs on.
"""
