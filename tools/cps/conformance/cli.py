"""The ``cps conformance`` command group: ``run`` (test an endpoint) and ``list`` (the catalogue).

Wired into the main CLI with :func:`add_parser` and :func:`run`; also runnable alone as
``python -m cps.conformance``. Exit codes: 0 every claimed profile conforms, 1 otherwise (or the
endpoint could not be used), 2 usage errors (bad arguments, invalid vector files).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

PROG = "cps conformance"


class UsageError(Exception):
    pass


def _split(values: list[str] | None) -> list[str]:
    out: list[str] = []
    for v in values or []:
        out += [x.strip() for x in v.split(",") if x.strip()]
    return out


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "conformance", help="run the conformance suite against an S3 endpoint, or list its tests",
        description="The CPS conformance suite: tests that tell an S3 endpoint, requirement by requirement, whether it conforms.")
    p.set_defaults(func=run)
    sub = p.add_subparsers(dest="conformance_command", metavar="{run,list}")
    sub.required = True

    r = sub.add_parser("run", help="run the suite against an endpoint",
                       description="Run the suite against ENDPOINT. Credentials come from --access-key/--secret-key, "
                                   "the environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN) or "
                                   "--config FILE, in that order of precedence; they are never printed.")
    r.add_argument("--endpoint", help="base URL of the server, e.g. http://127.0.0.1:9000")
    r.add_argument("--access-key", help="access key ID (prefer the environment or --config)")
    r.add_argument("--secret-key", help="secret access key (prefer the environment or --config)")
    r.add_argument("--session-token", help="session token, if any")
    r.add_argument("--alt-access-key", help="access key of a second identity that owns none of the run's buckets "
                                            "(enables the tests of access denied to others; also CPS_ALT_ACCESS_KEY_ID)")
    r.add_argument("--alt-secret-key", help="secret key of that second identity (also CPS_ALT_SECRET_ACCESS_KEY)")
    r.add_argument("--config", type=Path, help="YAML file with any of endpoint, region, access_key_id, secret_access_key, "
                                               "session_token, profiles, addressing, bucket, cors_bucket, "
                                               "alt_access_key_id, alt_secret_access_key, ca_bundle")
    r.add_argument("--region", help="SigV4 region (default: AWS_REGION, else us-east-1)")
    r.add_argument("--profile", action="append", dest="profiles", metavar="PROFILE",
                   help="claimed profile; repeat or comma-separate (default: core). Profiles they require are added.")
    r.add_argument("--addressing", choices=("path", "virtual"), help="bucket addressing style (default: path)")
    r.add_argument("--only", action="append", metavar="ID", help="run only these tests (test IDs, requirement IDs, shell patterns)")
    r.add_argument("--skip", action="append", metavar="ID", help="skip these tests (test IDs, requirement IDs, shell patterns)")
    r.add_argument("--jobs", "-j", type=int, default=4, help="tests run in parallel (default: 4)")
    r.add_argument("--bucket", help="use this existing bucket instead of creating one (objects the run writes are removed)")
    r.add_argument("--cors-bucket", metavar="NAME", help="a bucket configured out of band with the CORS test configuration "
                                                     "of spec/11-cors.md (default: a new bucket set up with PutBucketCors)")
    r.add_argument("--report", type=Path, metavar="DIR", help="write result.json, junit.xml and report.html into DIR")
    r.add_argument("--vectors", type=Path, metavar="DIR", help="read vectors from DIR instead of conformance/vectors")
    r.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for each response (default: 30)")
    r.add_argument("--ca-bundle", type=Path, help="PEM file of certificate authorities to trust for https "
                                                  "(default: AWS_CA_BUNDLE or the system's)")
    r.add_argument("--target-name", help="implementation name recorded in the report (e.g. moto)")
    r.add_argument("--target-version", help="implementation version recorded in the report")
    r.add_argument("--large", action="store_true", help="also run the tests that upload and copy objects over 5 GiB "
                                                        "(slow; needs that much space on the server)")
    r.add_argument("--no-progress", action="store_true", help="no progress bar (it is shown only on a terminal anyway)")
    r.add_argument("--quiet", "-q", action="store_true", help="print only the summary")

    ls = sub.add_parser("list", help="list the tests and the requirements they cite")
    ls.add_argument("--profile", action="append", dest="profiles", metavar="PROFILE", help="only tests of these profiles")
    ls.add_argument("--format", choices=("text", "json", "markdown"), default="text",
                    help="markdown: only the coverage table (for a CI summary or the site)")
    ls.add_argument("--coverage", action="store_true", help="print requirement coverage per profile")
    ls.add_argument("--vectors", type=Path, metavar="DIR", help="read vectors from DIR instead of conformance/vectors")
    for sp in (r, ls):
        if not any(a.dest == "root" for a in sp._actions):
            try:
                sp.add_argument("--root", type=Path, default=argparse.SUPPRESS, help="repository root (default: found from the current directory)")
            except argparse.ArgumentError:
                pass
    return p


def find_root(start: Path | None = None) -> Path:
    here = (start or Path.cwd()).resolve()
    for d in (here, *here.parents):
        if (d / "spec" / "cps.yaml").exists():
            return d
    return Path(__file__).resolve().parents[3]


def _err(msg: str) -> None:
    print(f"cps conformance: error: {msg}", file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    try:
        cmd = getattr(args, "conformance_command", None)
        if cmd == "run":
            return _run(args)
        if cmd == "list":
            return _list(args)
        _err("choose a subcommand: run or list")
        return 2
    except UsageError as exc:
        _err(str(exc))
        return 2
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 1


def _load(args) -> tuple[Path, Any, list, list]:
    from cps.conformance.catalog import load_tests
    from cps.conformance.reqs import load_spec

    root = Path(getattr(args, "root", None) or find_root())
    vdir = getattr(args, "vectors", None)
    if vdir is not None and not vdir.is_dir():
        raise UsageError(f"--vectors {vdir}: not a directory")
    tests, diags = load_tests(root, vdir.resolve() if vdir else None)
    spec = load_spec(root)
    return root, spec, tests, diags


def _print_diags(diags, root: Path) -> None:
    from cps.diagnostics import format_human

    print(format_human(diags, root, color=False), file=sys.stderr)


def _list(args) -> int:
    from cps.conformance.catalog import check_traceability, coverage

    root, spec, tests, diags = _load(args)
    if diags:
        _print_diags(diags, root)
        return 2
    want = set(_split(args.profiles))
    shown = [t for t in tests if not want or t.profile in want]
    cov = coverage(spec, tests)
    if args.format == "markdown":
        from cps.conformance.catalog import coverage_markdown

        print(coverage_markdown(spec, tests), end="")
        return 0
    if args.format == "json":
        out: dict[str, Any] = {"tests": [t.to_json() for t in shown]}
        if args.coverage:
            out["coverage"] = cov
        print(json.dumps(out, indent=2))
        return 0
    for t in shown:
        print(f"{t.id:<44} {t.profile:<18} {' '.join(t.requirements)}")
    print(f"{len(shown)} tests")
    if args.coverage:
        for p, d in cov["profiles"].items():
            if not d["requirements"]:
                print(f"  {p:<20} no server requirements verified by test")
                continue
            print(f"  {p:<20} {d['covered']}/{d['requirements']} requirements covered ({d['percent']}%), {d['tests']} tests")
            if d["uncovered"]:
                print(f"  {'':<20} untested: {' '.join(d['uncovered'])}")
        t = cov["total"]
        print(f"  {'total':<20} {t['covered']}/{t['requirements']} ({t['percent']}%)")
        trace = [d for d in check_traceability(spec, tests) if d.code != "CNF003"]
        if trace:
            _print_diags(trace, root)
    return 0


def _read_config(path: Path | None) -> dict[str, Any]:
    if path is None:
        return {}
    try:
        from ruamel.yaml import YAML

        data = YAML(typ="safe").load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(f"--config {path}: {exc.strerror or exc}") from None
    except Exception as exc:
        raise UsageError(f"--config {path}: not valid YAML ({type(exc).__name__})") from None
    if not isinstance(data, dict):
        raise UsageError(f"--config {path}: expected a mapping of settings")
    known = {"endpoint", "region", "access_key_id", "secret_access_key", "session_token", "profiles", "addressing",
             "bucket", "cors_bucket", "alt_access_key_id", "alt_secret_access_key", "ca_bundle"}
    unknown = set(data) - known
    if unknown:
        raise UsageError(f"--config {path}: unknown setting(s) {', '.join(sorted(unknown))} (known: {', '.join(sorted(known))})")
    return data


def build_config(args, spec) -> "Any":
    from urllib.parse import urlsplit

    from cps.conformance import wire
    from cps.conformance.reqs import profile_closure
    from cps.conformance.runner import Config

    cfg = _read_config(getattr(args, "config", None))
    endpoint = args.endpoint or cfg.get("endpoint") or os.environ.get("CPS_ENDPOINT")
    if not endpoint:
        raise UsageError("--endpoint is required (or endpoint: in --config)")
    parts = urlsplit(endpoint)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"--endpoint {endpoint!r}: expected a URL such as http://127.0.0.1:9000")
    try:
        parts.port
    except ValueError:
        raise UsageError(f"--endpoint {endpoint!r}: bad port") from None
    ak = args.access_key or os.environ.get("AWS_ACCESS_KEY_ID") or cfg.get("access_key_id")
    sk = args.secret_key or os.environ.get("AWS_SECRET_ACCESS_KEY") or cfg.get("secret_access_key")
    tok = args.session_token or os.environ.get("AWS_SESSION_TOKEN") or cfg.get("session_token")
    if not ak or not sk:
        raise UsageError("no credentials: give --access-key/--secret-key, set AWS_ACCESS_KEY_ID and "
                         "AWS_SECRET_ACCESS_KEY, or put access_key_id/secret_access_key in --config")
    region = args.region or cfg.get("region") or os.environ.get("AWS_REGION") or "us-east-1"
    addressing = args.addressing or cfg.get("addressing") or "path"
    if addressing not in ("path", "virtual"):
        raise UsageError(f"addressing {addressing!r}: expected path or virtual")
    claimed = _split(args.profiles) or _split(cfg.get("profiles") if isinstance(cfg.get("profiles"), list) else
                                              ([cfg["profiles"]] if cfg.get("profiles") else [])) or ["core"]
    known = list(spec.profiles) if isinstance(spec.profiles, dict) else []
    bad = [p for p in claimed if known and p not in known]
    if bad:
        raise UsageError(f"unknown profile(s) {', '.join(bad)} (known: {', '.join(known)})")
    if args.jobs < 1:
        raise UsageError("--jobs must be at least 1")
    bucket = args.bucket or cfg.get("bucket")
    alt_ak = args.alt_access_key or os.environ.get("CPS_ALT_ACCESS_KEY_ID") or cfg.get("alt_access_key_id")
    alt_sk = args.alt_secret_key or os.environ.get("CPS_ALT_SECRET_ACCESS_KEY") or cfg.get("alt_secret_access_key")
    if bool(alt_ak) != bool(alt_sk):
        raise UsageError("give both --alt-access-key and --alt-secret-key (or neither)")
    ca = getattr(args, "ca_bundle", None) or os.environ.get("AWS_CA_BUNDLE") or cfg.get("ca_bundle")
    if ca and not Path(ca).is_file():
        raise UsageError(f"--ca-bundle {ca}: no such file")
    return Config(
        endpoint=wire.Endpoint(endpoint.rstrip("/"), region, addressing, args.timeout, str(ca) if ca else None),
        credentials=wire.Credentials(str(ak), str(sk), str(tok) if tok else None),
        profiles=profile_closure(spec, claimed),
        only=_split(args.only), skip=_split(args.skip), jobs=args.jobs, bucket=bucket,
        cors_bucket=getattr(args, "cors_bucket", None) or cfg.get("cors_bucket"),
        alt_credentials=wire.Credentials(str(alt_ak), str(alt_sk)) if alt_ak else None,
        large=bool(getattr(args, "large", False)),
    )


class Progress:
    """A one-line progress bar on stderr (only on a terminal)."""

    def __init__(self, enabled: bool):
        self.enabled = enabled
        self.counts = {"pass": 0, "fail": 0, "blocked": 0, "error": 0, "skipped": 0}
        self.t0 = time.monotonic()

    def __call__(self, result, done: int, total: int) -> None:
        self.counts[result.outcome] = self.counts.get(result.outcome, 0) + 1
        if not self.enabled:
            return
        width = 28
        filled = int(width * done / max(total, 1))
        bar = "#" * filled + "-" * (width - filled)
        c = self.counts
        line = (f"\r[{bar}] {done}/{total} pass {c['pass']} fail {c['fail']} blocked {c['blocked']} "
                f"error {c['error']} {time.monotonic() - self.t0:5.1f}s {result.test.id[:30]:<30}")
        sys.stderr.write(line)
        sys.stderr.flush()

    def finish(self) -> None:
        if self.enabled:
            sys.stderr.write("\r" + " " * 120 + "\r")
            sys.stderr.flush()


def _run(args) -> int:
    from cps.conformance import report
    from cps.conformance.runner import Run, exit_code

    root, spec, tests, diags = _load(args)
    if diags:
        _print_diags(diags, root)
        _err("the conformance vectors are invalid (see above)")
        return 2
    config = build_config(args, spec)
    config.progress = (not args.no_progress) and sys.stderr.isatty()
    the_run = Run(config, tests, spec)
    if config.only:
        selected, _ = the_run.selection()
        matched = [t for t in tests if t in selected or any(
            _matches(t, p) for p in config.only)]
        if not matched:
            raise UsageError(f"--only {','.join(config.only)} matches no test (see `cps conformance list`)")
    _sigterm_as_interrupt()
    progress = Progress(config.progress)
    interrupted = False
    try:
        try:
            the_run.execute(progress)
        except KeyboardInterrupt:
            interrupted = True
            progress.finish()
            print("interrupted: removing what the run created…", file=sys.stderr)
    finally:
        progress.finish()
        try:
            left = the_run.cleanup()
        except KeyboardInterrupt:
            left = [f"cleanup interrupted: bucket {the_run.bucket} and objects under {the_run.prefix} may remain"]
        for msg in left:
            print(f"warning: {msg}", file=sys.stderr)
    target = {"endpoint": config.endpoint.url}
    if args.target_name:
        target["implementation"] = args.target_name
    if args.target_version:
        target["version"] = args.target_version
    result = report.build_result(the_run, spec, target)
    if args.report:
        try:
            secrets = [config.credentials.secret_key, config.credentials.token or ""]
            if config.alt_credentials:
                secrets.append(config.alt_credentials.secret_key)
            report.write_reports(result, args.report, secrets, spec)
        except OSError as exc:
            _err(f"cannot write the report into {args.report}: {exc.strerror or exc}")
            return 2
    _summary(result, the_run, args.quiet)
    if the_run.setup_error:
        _err(the_run.setup_error)
        return 1
    if interrupted:
        return 1
    return exit_code(result["profile_verdicts"], bool(config.only or config.skip))


def _matches(t, pattern: str) -> bool:
    import fnmatch

    if pattern.upper().startswith("CPS-"):
        return any(fnmatch.fnmatchcase(r, pattern.upper()) for r in t.requirements)
    return fnmatch.fnmatchcase(t.id, pattern)


def _sigterm_as_interrupt() -> None:
    """SIGTERM cleans up like Ctrl-C (CI runners stop jobs with SIGTERM)."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        return

    def handler(signum, frame):
        raise KeyboardInterrupt()

    try:
        signal.signal(signal.SIGTERM, handler)
    except (ValueError, OSError):
        pass


def _summary(result: dict, the_run, quiet: bool) -> None:
    out = sys.stdout
    if not quiet:
        for t in result["tests"]:
            if t["outcome"] in ("fail", "blocked", "error"):
                print(f"{t['outcome'].upper():<8} {t['id']} [{', '.join(t['requirements'])}]: {t['message']}", file=out)
    s = result["summary"]
    print(f"{s['tests']} tests: {s['pass']} pass, {s['fail']} fail, {s['blocked']} blocked, "
          f"{s['error']} error, {s['skipped']} skipped", file=out)
    for p, v in result["profile_verdicts"].items():
        c = v["counts"]
        print(f"  profile {p:<20} {v['verdict']:<17} ({c['pass']}/{v['tests']} pass)", file=out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="cps")
    parser.add_argument("--root", type=Path, help="repository root")
    sub = parser.add_subparsers(dest="command")
    sub.required = True
    add_parser(sub)
    args = parser.parse_args(argv)
    return run(args)
