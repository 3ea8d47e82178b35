// The route table as a value: built once when the application is assembled, each route group
// adding its own routes; matching a request is a pure function of method and path.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "problem.hpp"
#include "request_context.hpp"
#include "task.hpp"

namespace keyledger::api {

class Router {
 public:
  // A handler answers at once, or (a command's, which waits for the log) is a coroutine.
  using Handler = std::function<Result(RequestContext&)>;
  using WaitingHandler = std::function<Task<Result>(RequestContext&)>;
  struct Route {
    std::string method;
    std::string pattern;  // "/v1/dashboards/{d}/email/keys/{id}"
    Handler handler;                    // one of these two is set
    WaitingHandler waiting_handler;
    std::vector<std::string> segments;  // the pattern split at '/'
  };
  struct Match {
    const Route* route;
    std::map<std::string, std::string> params;  // percent-decoded
  };

  // `handler` returns Result or Task<Result>.
  template <class F>
  void add(std::string method, std::string pattern, F handler) {
    if constexpr (std::is_same_v<std::invoke_result_t<F&, RequestContext&>, Task<Result>>) {
      add_route(std::move(method), std::move(pattern), {}, WaitingHandler(std::move(handler)));
    } else {
      add_route(std::move(method), std::move(pattern), Handler(std::move(handler)), {});
    }
  }
  // The route for a request, or the 404 (no route for the path) or 405 (with Allow) answer.
  Expected<Match> match(std::string_view method, std::string_view path) const;
  const std::vector<Route>& routes() const { return routes_; }

 private:
  void add_route(std::string method, std::string pattern, Handler handler, WaitingHandler waiting_handler);
  std::vector<Route> routes_;
};

}  // namespace keyledger::api
