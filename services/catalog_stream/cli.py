"""`catalog-stream`'s entry point (the console script, and `python -m catalog_stream.cli`):
parses the command line (`cli_parser`), runs the subcommand's handler (`cli_handlers`), and
turns a failure into a message on stderr and the exit code."""

from __future__ import annotations

import sys

from catalog_stream.cli_parser import build_parser
from catalog_stream.errors import CatalogStreamError, UsageError


def exit_code(exc: CatalogStreamError) -> int:
    """The one place a failed command's exit code is decided: 2 for a command-line value it
    cannot use, 75 (EX_TEMPFAIL) when running it again later may work, else 1."""
    if isinstance(exc, UsageError):
        return 2
    return 75 if exc.retryable else 1


def main(argv: list[str] | None = None) -> int:
    from pydantic import ValidationError

    args = build_parser().parse_args(argv)
    try:
        code: int = args.handler(args)
    except ValidationError as exc:  # e.g. KAFKA_SECURITY_PROTOCOL=SASL_SSL without a username
        print(f"error: invalid settings: {exc}", file=sys.stderr)
        return 2
    except CatalogStreamError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exit_code(exc)
    return code


if __name__ == "__main__":
    sys.exit(main())
