// What a route handler is given: the request, its path parameters and query, who is calling,
// and its body read field by field.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "http_message.hpp"
#include "problem.hpp"

namespace keyledger::api {

// The query of a request target ("?a=1&b=x+y"), percent-decoded.
std::map<std::string, std::string> parse_query(std::string_view target);
std::string percent_decode(std::string_view text);
// A whole number written in decimal digits only (at most 20) that fits in 64 bits, or nothing.
std::optional<std::uint64_t> parse_decimal(std::string_view text);

// Who is calling, from the bearer token.
struct Principal {
  enum class Kind { anonymous, platform_operator, service, user } kind = Kind::anonymous;
  std::string dashboard_id;  // users only
  std::string email;         // users only
};

// Reads the fields of a JSON object. The first missing or mistyped field is remembered as a
// 400 naming it, and every later read returns an empty value: a handler reads all its
// fields, then checks ok() once.
class Fields {
 public:
  explicit Fields(const nlohmann::json& object) : object_(&object) {}
  // Fields that are already in error (a body that is not a JSON object, say).
  static Fields failed(ApiError error);

  std::string required_string(const std::string& name);
  std::optional<std::string> optional_string(const std::string& name);
  std::optional<std::vector<std::string>> optional_string_array(const std::string& name);
  std::optional<std::int64_t> optional_integer(const std::string& name);
  // A nested object's fields; `what` says what it must hold when it is missing.
  Fields object(const std::string& name, const std::string& what);

  bool ok() const { return !error_; }
  std::unexpected<ApiError> error() const { return std::unexpected(*error_); }

 private:
  const nlohmann::json* field(const std::string& name);  // nullptr when absent or null, or after an error
  void fail(const std::string& field, const std::string& what);

  const nlohmann::json* object_;
  std::optional<ApiError> error_;
};

struct RequestContext {
  RequestContext(const HttpRequest& r, std::string id)
      : request(r), query(parse_query(r.target)), request_id(std::move(id)), client_ip(r.remote_ip) {}

  const HttpRequest& request;
  std::map<std::string, std::string> params;  // path parameters, percent-decoded
  std::map<std::string, std::string> query;
  Principal principal;
  std::string request_id;
  // The caller's address: the connection's, or for a command another process of the cluster
  // forwarded, the one that process was called from (forwarder.hpp).
  std::string client_ip;
  bool from_peer = false;  // forwarded by another process of the cluster: never forwarded again
  bool honours_idempotency_key = true;  // false where one request runs several commands
  // What the request's commands wrote: partition → offset of the last record there (the
  // answer's Keyledger-Position, see positions.hpp).
  std::map<std::uint32_t, std::uint64_t> written;

  const std::string& param(const std::string& name) const { return params.at(name); }
  // The body's fields; in error when the body is not a JSON object.
  Fields fields() const;
  // The query parameter `name` as a whole number in [min, max], `fallback` when absent; a
  // 400 naming it otherwise.
  Expected<std::uint64_t> number(const char* name, std::uint64_t fallback, std::uint64_t min, std::uint64_t max) const;

 private:
  mutable std::optional<nlohmann::json> parsed_body_;
};

}  // namespace keyledger::api
