"""Runners: when to report. Two behind one interface, ``start()`` and ``stop(deadline=5.0)``.

``runners.thread.ThreadRunner`` suits any program; ``runners.twisted.TwistedRunner`` keeps time
with a reactor (and is the only module that imports Twisted). Both tick on interval boundaries
(:mod:`.schedule`) and send on a thread of their own (:mod:`.pipeline`); the ThreadRunner collects
on its ticker thread, the TwistedRunner on the reactor thread in slices of about a millisecond.
"""
