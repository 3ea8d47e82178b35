// A dashboard's Kafka partition is the one Kafka's own clients give its id (SPEC §10), so
// that every process and every other Kafka client agrees where its events are.
#include <catch2/catch.hpp>

#include "eventstore/kafka_client.hpp"

namespace es = keyledger::eventstore;

TEST_CASE("kafka partition: murmur2 of the key as Kafka's Java clients compute it, modulo the partitions") {
  // Partitions from org.apache.kafka.common.utils.Utils.murmur2 and toPositive (kafka-clients
  // 4.1.1) for 3, 6 and 12 partitions: keys of every length modulo 4, and a dashboard id.
  struct Vector {
    const char* key;
    std::uint32_t of3, of6, of12;
  };
  for (const Vector& v : {Vector{"", 0, 3, 9}, {"a", 1, 4, 4}, {"ab", 2, 2, 2}, {"abc", 0, 3, 3},
                          {"abcd", 2, 2, 8}, {"21", 0, 0, 0}, {"keyledger", 1, 1, 7},
                          {"0190f1a2-7b3c-7d4e-8f50-61728394a5b6", 2, 2, 2}, {"d1", 1, 1, 1},
                          {"d2", 1, 4, 10}, {"dashboard-x", 2, 5, 11}}) {
    INFO("key \"" << v.key << "\"");
    REQUIRE(es::kafka_partition(v.key, 3) == v.of3);
    REQUIRE(es::kafka_partition(v.key, 6) == v.of6);
    REQUIRE(es::kafka_partition(v.key, 12) == v.of12);
  }
  REQUIRE(es::kafka_partition("anything", 1) == 0);
}
