// The Kafka log learns where each record of a transaction landed from the producer's
// delivery reports. A transaction given up (fenced, aborted) still has its records reported
// later, when the producer purges them: those reports must change nothing of the transaction
// that follows. Exercised with a real librdkafka producer whose broker cannot be reached, so
// every record is reported, failed, once its message timeout is up.
#include <catch2/catch.hpp>

#include <librdkafka/rdkafkacpp.h>

#include <memory>
#include <string>

#include "eventstore/kafka_delivery.hpp"

namespace es = keyledger::eventstore;

namespace {
std::unique_ptr<RdKafka::Producer> unreachable_producer(es::DeliveryReports& reports) {
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  std::string error;
  for (const auto& [name, value] : {std::pair{"bootstrap.servers", "127.0.0.1:1"},  // nothing listens there
                                    {"linger.ms", "0"}, {"log_level", "0"}}) {
    REQUIRE(conf->set(name, value, error) == RdKafka::Conf::CONF_OK);
  }
  REQUIRE(conf->set("dr_cb", static_cast<RdKafka::DeliveryReportCb*>(&reports), error) == RdKafka::Conf::CONF_OK);
  std::unique_ptr<RdKafka::Producer> producer(RdKafka::Producer::create(conf.get(), error));
  REQUIRE(producer);
  return producer;
}

// A topic whose records are reported failed `timeout_ms` after they are produced.
std::unique_ptr<RdKafka::Topic> topic(RdKafka::Producer& producer, const std::string& name, int timeout_ms) {
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_TOPIC));
  std::string error;
  REQUIRE(conf->set("message.timeout.ms", std::to_string(timeout_ms), error) == RdKafka::Conf::CONF_OK);
  std::unique_ptr<RdKafka::Topic> made(RdKafka::Topic::create(&producer, name, conf.get(), error));
  REQUIRE(made);
  return made;
}

void produce(RdKafka::Producer& producer, RdKafka::Topic& topic, std::int32_t partition, void* tag) {
  std::string value = "record";
  REQUIRE(producer.produce(&topic, partition, RdKafka::Producer::RK_MSG_COPY, value.data(), value.size(), nullptr,
                           tag) == RdKafka::ERR_NO_ERROR);
}
}  // namespace

TEST_CASE("kafka delivery reports: reports of a transaction given up change nothing of the next one's, whose records are each placed by their own", "[librdkafka]") {
  es::DeliveryReports reports;  // before the producer, which reports to it
  auto producer = unreachable_producer(reports);
  // The given-up transaction's records are reported after the next one's, as a purge at the
  // producer's flush reports them.
  auto late = topic(*producer, "keyledger-delivery-late", 3000);
  auto soon = topic(*producer, "keyledger-delivery-soon", 100);

  // A transaction of two records (to partition 5), given up before any report came...
  reports.expect(2);
  produce(*producer, *late, 5, reports.tag(0));
  produce(*producer, *late, 5, reports.tag(1));
  // ...then the next one: one record to partition 2, and one the log does not place.
  const auto landed = reports.expect(1);
  produce(*producer, *soon, 2, reports.tag(0));
  produce(*producer, *soon, 2, nullptr);
  REQUIRE(landed[0].error == RdKafka::ERR__STATE);  // nothing reported yet

  REQUIRE(producer->flush(10000) == RdKafka::ERR_NO_ERROR);  // every report served
  REQUIRE(producer->outq_len() == 0);
  REQUIRE(landed.size() == 1);
  CHECK(landed[0].partition == 2);  // its own report, not one of the earlier transaction's
  CHECK(landed[0].error != RdKafka::ERR__STATE);
  CHECK(landed[0].error != RdKafka::ERR_NO_ERROR);
  CHECK(landed[0].offset < 0);
}
