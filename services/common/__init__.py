"""What every kitestream service shares: Kafka clients, topics, settings, logging."""
