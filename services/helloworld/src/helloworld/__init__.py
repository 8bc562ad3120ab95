"""The instrumented Twisted HelloWorld service and its demo load generator.

Kept free of imports so that ``helloworld.loadgen`` runs without Twisted.
"""
