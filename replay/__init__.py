"""Turn real (or synthetic) shop data into contract events and produce them to Kafka."""
