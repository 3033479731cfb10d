"""Build the CDK app: validated context -> stack -> cdk-nag checks."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aws_cdk import App

from infra.config import StackConfig
from infra.nag import add_checks
from infra.stack import STACK_NAME, KopsIamStack


def build_app(context: Mapping[str, Any] | None = None, outdir: str | None = None) -> App:
    """The kops-iam CDK app with its one stack.

    Parameters
    ----------
    context
        CDK context (tests pass ``cdk.json``'s plus overrides; the CLI passes its own).
    outdir
        Cloud assembly directory (default: CDK's, ``cdk.out`` under the CLI).

    Raises
    ------
    infra.config.ConfigError
        When a ``kops-iam:*`` context value is invalid.
    """
    app = App(context=dict(context) if context is not None else None, outdir=outdir)
    config = StackConfig.from_context(app.node.get_all_context())
    KopsIamStack(app, STACK_NAME, config=config)
    add_checks(app)
    return app
