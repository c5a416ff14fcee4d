"""What every long-running process of catalog-stream shares at run time: JSON logs with outage
summaries (logs, quiet_logs), garbage-collector tuning (tuning) and the RFC 9457 problem
document both HTTP services answer refusals with (problems). It imports no service and
no ops command, so the receiver, the projector and catalog_stream can all depend on it."""
