// The route table of the HTTP API: maps a request to the handler of its route group.
#pragma once

#include "http_message.hpp"

namespace keyledger::api {

HttpResponse route(const HttpRequest& request);

}  // namespace keyledger::api
