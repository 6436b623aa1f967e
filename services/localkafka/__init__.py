"""The local development broker: real Apache Kafka (KRaft) from Maven Central's jars.

``kitestream kafka up|down|status`` drive :class:`~services.localkafka.broker.LocalBroker`.
Where Docker exists, ``deploy/compose.yml`` or testcontainers provide a broker instead,
and ``KAFKA_BOOTSTRAP_SERVERS`` always wins over both.
"""
