#include "routes.hpp"

namespace keyledger::api {

HttpResponse route(const HttpRequest& request) {
  const std::string path = request.path();
  if (path == "/healthz") {
    if (request.method != "GET") {
      HttpResponse r = problem(405, "method_not_allowed", "Method Not Allowed",
                               "use GET on /healthz");
      r.headers.emplace_back("Allow", "GET");
      return r;
    }
    return HttpResponse{200, "application/json", R"({"status":"ok"})", {}};
  }
  return problem(404, "not_found", "Not Found", "no route for " + request.method + " " + path);
}

}  // namespace keyledger::api
