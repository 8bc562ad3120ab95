"""``python3 -m helloworld``: run the instrumented HelloWorld service (configured by environment)."""

from .service import main

raise SystemExit(main())
