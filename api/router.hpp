// The route table as a value: built once when the application is assembled, each route group
// adding its own routes; matching a request is a pure function of method and path.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "problem.hpp"
#include "request_context.hpp"

namespace keyledger::api {

class Router {
 public:
  using Handler = std::function<Result(RequestContext&)>;
  struct Route {
    std::string method;
    std::string pattern;  // "/v1/dashboards/{d}/email/keys/{id}"
    Handler handler;
    std::vector<std::string> segments;  // the pattern split at '/'
  };
  struct Match {
    const Route* route;
    std::map<std::string, std::string> params;  // percent-decoded
  };

  void add(std::string method, std::string pattern, Handler handler);
  // The route for a request, or the 404 (no route for the path) or 405 (with Allow) answer.
  Expected<Match> match(std::string_view method, std::string_view path) const;
  const std::vector<Route>& routes() const { return routes_; }

 private:
  std::vector<Route> routes_;
};

}  // namespace keyledger::api
