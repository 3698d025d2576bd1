"""CPS conformance suite: tests as data (YAML vectors) plus a few code-based tests, one runner.

Modules:

* :mod:`cps.conformance.catalog` loads the vectors and code-based tests (``load_tests``), checks
  traceability against the spec (``check_traceability``) and computes ``coverage``.
* :mod:`cps.conformance.runner` runs tests against an endpoint and decides outcomes.
* :mod:`cps.conformance.wire` signs (SigV4) and sends raw HTTP requests; it never retries and
  never adds checksums by itself.
* :mod:`cps.conformance.report` writes ``result.json``, ``junit.xml`` and ``report.html``.
* :mod:`cps.conformance.cli` is the ``cps conformance`` command group.
"""

SUITE_VERSION = "0.1.0"
