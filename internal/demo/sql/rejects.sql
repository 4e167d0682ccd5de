-- Distinct rejected Kafka messages (one per topic, partition, offset).
SELECT count() FROM (SELECT kafka_topic, kafka_partition, kafka_offset FROM ingest_rejects GROUP BY kafka_topic, kafka_partition, kafka_offset)
