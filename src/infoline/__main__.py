from infoline.cli import main

raise SystemExit(main())
