// Errors as values through the handlers: an ApiError is the problem+json answer (RFC 9457,
// with SPEC §7's machine-readable `code`) that a handler returns instead of its response.
// No handler throws for a refusal; an exception that escapes one is a bug, answered 500.
#pragma once

#include <expected>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "http_message.hpp"

namespace keyledger::api {

struct ApiError {
  int status;
  std::string code;
  std::string detail;
  std::string field;  // for invalid_request: the input at fault
  std::vector<std::pair<std::string, std::string>> headers;
};

template <class T>
using Expected = std::expected<T, ApiError>;
// What a route handler returns.
using Result = Expected<HttpResponse>;

ApiError invalid_request(std::string field, std::string detail);
ApiError unauthenticated(std::string detail);
ApiError forbidden(std::string detail);
ApiError not_found(std::string detail);
// 503: on a Kafka cluster, another process decides this dashboard's commands now (SPEC §10).
ApiError not_owner();

HttpResponse problem_response(const ApiError& error);
// Invalid UTF-8 (which a handler could only have cut out of a caller's text) is replaced, not
// thrown on: an answer is always sent.
HttpResponse json_response(int status, const nlohmann::json& body);
// A body already written as JSON text (eventstore/json_writer), sent as it is.
HttpResponse json_text_response(int status, std::string body);
HttpResponse no_content();

}  // namespace keyledger::api

// Binds the value of `expr` (an Expected<T>) to `name`, or returns its error from the
// enclosing function.
#define KEYLEDGER_TRY(name, expr)                                                       \
  auto name##_or_error = (expr);                                                        \
  if (!name##_or_error) return std::unexpected(std::move(name##_or_error).error()); \
  auto& name = *name##_or_error
// Returns the error of `expr` (an Expected<T> whose value is not needed), if any.
#define KEYLEDGER_CHECK(expr)                                                           \
  do {                                                                                  \
    if (auto checked_ = (expr); !checked_) return std::unexpected(std::move(checked_).error()); \
  } while (false)
// The same two inside a coroutine (a handler returning Task<Result>, see task.hpp), and
// the same again awaiting a Task. The task is named before it is awaited: g++ 12 destroys
// temporaries of a co_await expression twice, so none may appear in one.
#define KEYLEDGER_CO_TRY(name, expr)                                                       \
  auto name##_or_error = (expr);                                                           \
  if (!name##_or_error) co_return std::unexpected(std::move(name##_or_error).error()); \
  auto& name = *name##_or_error
#define KEYLEDGER_CO_CHECK(expr)                                                           \
  do {                                                                                     \
    if (auto checked_ = (expr); !checked_) co_return std::unexpected(std::move(checked_).error()); \
  } while (false)
#define KEYLEDGER_CO_AWAIT_TRY(name, task)     \
  auto name##_task = (task);                    \
  KEYLEDGER_CO_TRY(name, co_await name##_task)
#define KEYLEDGER_CO_AWAIT_CHECK(name, task)    \
  auto name##_task = (task);                    \
  KEYLEDGER_CO_CHECK(co_await name##_task)
