#!/usr/bin/env python3
"""CDK entry point (``cdk.json``): builds the kops-iam app and synthesizes it."""

from infra.app import build_app

build_app().synth()
