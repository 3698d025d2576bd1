"""The ``cps`` command line."""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

from cps import __version__
from cps.diagnostics import FORMATTERS, RULES, format_human, has_errors

EXIT_OK, EXIT_ERRORS, EXIT_USAGE = 0, 1, 2

# Command groups provided by other modules: (module, description). Each module has
# ``add_parser(subparsers)`` and ``run(args) -> int``.
PLUGINS = ("cps.conformance.cli", "cps.diffcli", "cps.release")


class UsageError(Exception):
    pass


class Parser(argparse.ArgumentParser):
    def error(self, message: str):  # usage errors exit 2 without a traceback
        self.print_usage(sys.stderr)
        print(f"{self.prog}: error: {message}", file=sys.stderr)
        raise SystemExit(EXIT_USAGE)


def _root(args) -> Path:
    from cps.loader import NotARepository, find_root

    start = Path(args.root) if args.root else None
    if start is not None and not start.is_dir():
        raise UsageError(f"--root {args.root}: no such directory")
    try:
        return find_root(start)
    except NotARepository as exc:
        raise UsageError(str(exc)) from None


def load_spec(args):
    from cps.loader import load

    return load(_root(args))


def optional_modules(names):
    """Import each module that is present; a module missing from the package is skipped."""
    for name in names:
        try:
            yield importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise


CHECK_MODULES = ("cps.fidelity", "cps.frozen", "cps.conformance.catalog")


def all_checks(spec):
    """Every check of the toolkit, including those of optional modules that are installed."""
    from cps.checks import run_checks

    return run_checks(spec, [fn for mod in optional_modules(CHECK_MODULES) for fn in getattr(mod, "CHECKS", [])])


def print_diagnostics(diags, fmt: str, root: Path) -> None:
    if fmt == "human":
        print(format_human(diags, root))
    else:
        print(FORMATTERS[fmt](diags))


def cmd_check(args) -> int:
    spec = load_spec(args)
    diags = all_checks(spec)
    print_diagnostics(diags, args.format, spec.root)
    return EXIT_ERRORS if has_errors(diags) else EXIT_OK


def cmd_fmt(args) -> int:
    from cps.fmt import run_fmt

    root = _root(args)
    diags, changed, diffs = run_fmt(root, args.check)
    if args.check:
        if args.diff:
            for d in diffs:
                sys.stdout.write(d)
        print_diagnostics(diags, args.format, root)
        return EXIT_ERRORS if diags else EXIT_OK
    for rel in changed:
        print(f"reformatted {rel}")
    if diags:
        print_diagnostics(diags, args.format, root)
        return EXIT_ERRORS
    print(f"{len(changed)} file{'s' if len(changed) != 1 else ''} reformatted.")
    return EXIT_OK


def cmd_build(args) -> int:
    from cps.build import build

    root = _root(args)
    return build(root, fmt=args.format, site=not args.no_site, dist=not args.no_dist)


def cmd_preview(args) -> int:
    from cps.build import preview

    return preview(_root(args), host=args.host, port=args.port)


def cmd_rules(args) -> int:
    list(optional_modules(("cps.checks", "cps.fmt", *CHECK_MODULES, "cps.differ")))  # registers their rules
    for code in sorted(RULES):
        r = RULES[code]
        print(f"{code}  {r.name:<28} {r.summary}")
    return EXIT_OK


def make_parser() -> argparse.ArgumentParser:
    p = Parser(prog="cps", description="Validate, build, diff and release the Cloud Portable Storage specification.")
    p.add_argument("--version", action="version", version=f"cps {__version__}")
    p.add_argument("--root", help="repository to work on (default: the one containing the current directory)")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)

    fmt_choices = sorted(FORMATTERS)
    c = sub.add_parser("check", help="run every check and report problems as path:line:col: CODE message")
    c.add_argument("--format", choices=fmt_choices, default="human")
    c.set_defaults(func=cmd_check)

    f = sub.add_parser("fmt", help="rewrite YAML sources in canonical layout (comments kept)")
    f.add_argument("--check", action="store_true", help="only report files that are not canonical (exit 1)")
    f.add_argument("--diff", action="store_true", help="with --check: print the changes fmt would make")
    f.add_argument("--format", choices=fmt_choices, default="human")
    f.set_defaults(func=cmd_fmt)

    b = sub.add_parser("build", help="check, then render site/ and write dist/")
    b.add_argument("--format", choices=fmt_choices, default="human", help="format of diagnostics")
    b.add_argument("--no-site", action="store_true", help="skip the site")
    b.add_argument("--no-dist", action="store_true", help="skip the artifacts")
    b.set_defaults(func=cmd_build)

    v = sub.add_parser("preview", help="serve the site with live reload")
    v.add_argument("--host", default="127.0.0.1")
    v.add_argument("--port", type=int, default=8000)
    v.set_defaults(func=cmd_preview)

    r = sub.add_parser("rules", help="list every check rule and its stable code")
    r.set_defaults(func=cmd_rules)

    for mod in optional_modules(PLUGINS):
        mod.add_parser(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = make_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        return int(args.func(args) or 0)
    except UsageError as exc:
        print(f"cps: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("cps: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return EXIT_OK
