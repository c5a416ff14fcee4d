"""Operating catalog-stream: the `catalog-stream` command, the local broker, topic set-up."""
