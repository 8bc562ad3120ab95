"""pyformance's ``reporters`` package: the reporters a Graphite user needs, over the core ones.

pyformance's CSV, syslog, New Relic, InfluxDB and OpenTSDB reporters have no counterpart.
"""

from graphmetrics.compat.pyformance.reporters.carbon_reporter import CarbonReporter, UdpCarbonReporter
from graphmetrics.compat.pyformance.reporters.console_reporter import ConsoleReporter
from graphmetrics.compat.pyformance.reporters.hosted_graphite_reporter import HostedGraphiteReporter
from graphmetrics.compat.pyformance.reporters.reporter import Reporter

__all__ = ["Reporter", "HostedGraphiteReporter", "CarbonReporter", "UdpCarbonReporter", "ConsoleReporter"]
