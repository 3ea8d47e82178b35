// The verify hot path answered inside the connection (http_server's InlineEndpoint): a
// request with the service token and a well-formed body of plain strings, read without a
// DOM, answered from the verify index into the session's buffer. Anything else it declines,
// and the generic route answers it, errors and all, as before: also a key whose partition's
// copy is stale here (503 replica_stale).
#pragma once

#include <string>

#include "http_server.hpp"
#include "metrics.hpp"
#include "projections/verify_index.hpp"
#include "replica_freshness.hpp"

namespace keyledger::api {

class VerifyEndpoint final : public InlineEndpoint {
 public:
  VerifyEndpoint(std::string service_token, const projections::VerifyIndex& index, const ReplicaFreshness& freshness,
                 Metrics& metrics)
      : service_token_(std::move(service_token)), index_(index), freshness_(freshness), metrics_(metrics) {}

  bool answer(const Request& request, std::string& json_body, std::string& request_id) override;

 private:
  std::string service_token_;
  const projections::VerifyIndex& index_;
  const ReplicaFreshness& freshness_;
  Metrics& metrics_;
};

}  // namespace keyledger::api
