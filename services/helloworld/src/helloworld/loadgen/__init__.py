"""Demo load generator for the stack: ``python3 -m helloworld.loadgen`` (stdlib only, no Twisted)."""
