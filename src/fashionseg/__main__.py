from fashionseg.cli import main

raise SystemExit(main())
