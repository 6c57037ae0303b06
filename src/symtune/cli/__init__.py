"""The command line: `main` (the app and every command but evaluation's), `evaluate` (eval,
eval export, scan), `console` (progress, --json, the one error path) and `options` (options
generated from the config dataclasses)."""
