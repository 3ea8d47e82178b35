#include "http_message.hpp"

#include <nlohmann/json.hpp>

namespace keyledger::api {

HttpResponse problem(int status, std::string code, std::string title, std::string detail) {
  nlohmann::json body{{"type", "https://keyledger.dev/problems/" + code},
                      {"title", std::move(title)},
                      {"status", status},
                      {"detail", std::move(detail)},
                      {"code", std::move(code)}};
  return HttpResponse{status, "application/problem+json", body.dump(), {}, {}};
}

}  // namespace keyledger::api
