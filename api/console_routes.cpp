#include "console_routes.hpp"

#include <string>

#include "console_files.hpp"
#include "problem.hpp"

namespace keyledger::api {

namespace {

std::string content_type_of(std::string_view name) {
  if (name.ends_with(".html")) return "text/html; charset=utf-8";
  if (name.ends_with(".js")) return "text/javascript; charset=utf-8";
  if (name.ends_with(".css")) return "text/css; charset=utf-8";
  if (name.ends_with(".svg")) return "image/svg+xml";
  return "application/octet-stream";
}

// What every console answer carries: nothing runs or loads that is not one of these files,
// no page may frame the console, and the browser neither guesses types nor sends referrers.
void secure(HttpResponse& response) {
  response.headers.emplace_back("Content-Security-Policy",
                                "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
                                "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'");
  response.headers.emplace_back("X-Content-Type-Options", "nosniff");
  response.headers.emplace_back("X-Frame-Options", "DENY");
  response.headers.emplace_back("Referrer-Policy", "no-referrer");
  response.headers.emplace_back("Cross-Origin-Opener-Policy", "same-origin");
  response.headers.emplace_back("Cache-Control", "no-cache");
}

Result file_response(std::string_view name) {
  for (const auto& file : console_files()) {
    if (file.name != name) continue;
    HttpResponse response{200, content_type_of(name), std::string(file.content), {}, {}};
    secure(response);
    return response;
  }
  return std::unexpected(not_found("the console has no file " + std::string(name)));
}

}  // namespace

void add_console_routes(Router& router) {
  router.add("GET", "/console", [](RequestContext&) -> Result {
    HttpResponse response{308, "text/plain; charset=utf-8", "the console is at /console/\n", {{"Location", "/console/"}}, {}};
    secure(response);
    return response;
  });
  router.add("GET", "/console/", [](RequestContext&) { return file_response("index.html"); });
  router.add("GET", "/console/{file}", [](RequestContext& ctx) { return file_response(ctx.param("file")); });
}

}  // namespace keyledger::api
