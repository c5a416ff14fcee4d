"""What every long-running process of catalog-stream shares at run time: JSON logs with outage
summaries (logs, quiet_logs) and garbage-collector tuning (tuning). It imports no service and
no ops command, so the receiver, the projector and catalog_stream can all depend on it."""
