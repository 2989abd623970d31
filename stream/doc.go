// Package stream moves bytes between ropcwatch and the outside: Kafka and
// Azure Event Hubs (its Kafka endpoint) on franz-go — consumer groups with
// manual commits or transactions, an idempotent producer, TLS and SASL,
// topic creation, partition reads and lag — and files (plain or gzip; one
// message per line, or one per event of an Event Hubs Capture Avro file).
// It knows nothing about sign-ins.
package stream
