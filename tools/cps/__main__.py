from cps.cli import main

raise SystemExit(main())
