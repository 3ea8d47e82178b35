#include "problem.hpp"

namespace keyledger::api {

using nlohmann::json;

namespace {
std::string title_of(int status) {
  switch (status) {
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 413: return "Payload Too Large";
    case 422: return "Unprocessable Content";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return "Error";
  }
}
}  // namespace

ApiError invalid_request(std::string field, std::string detail) {
  return ApiError{400, "invalid_request", std::move(detail), std::move(field), {}};
}
ApiError unauthenticated(std::string detail) { return ApiError{401, "unauthenticated", std::move(detail), "", {}}; }
ApiError forbidden(std::string detail) { return ApiError{403, "forbidden", std::move(detail), "", {}}; }
ApiError not_found(std::string detail) { return ApiError{404, "not_found", std::move(detail), "", {}}; }
ApiError not_owner() {
  return ApiError{503, "not_owner",
                  "this process does not hold the dashboard's partition now: another keyledger process of the cluster "
                  "does, or the cluster is handing it over (a process joined or failed, or the brokers were "
                  "unreachable); nothing was changed: retry",
                  "", {{"Retry-After", "1"}}};
}

HttpResponse problem_response(const ApiError& error) {
  json body{{"type", "https://keyledger.dev/problems/" + error.code},
            {"title", title_of(error.status)},
            {"status", error.status},
            {"detail", error.detail},
            {"code", error.code}};
  if (!error.field.empty()) body["field"] = error.field;
  return HttpResponse{error.status, "application/problem+json",
                      body.dump(-1, ' ', false, json::error_handler_t::replace), error.headers, {}};
}

HttpResponse json_response(int status, const json& body) {
  return HttpResponse{status, "application/json", body.dump(-1, ' ', false, json::error_handler_t::replace), {}, {}};
}

HttpResponse json_text_response(int status, std::string body) {
  return HttpResponse{status, "application/json", std::move(body), {}, {}};
}

HttpResponse no_content() { return HttpResponse{204, "application/json", "", {}, {}}; }

}  // namespace keyledger::api
