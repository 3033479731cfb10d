"""CLI subcommands; each module exposes ``add_arguments(name, parser)`` and ``run(args)``."""
