from cps.conformance.cli import main

raise SystemExit(main(["conformance", *__import__("sys").argv[1:]]))
