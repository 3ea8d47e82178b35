// The OpenAPI 3.1 document of every route (api/openapi.json, compiled in).
#pragma once

#include <string_view>

namespace keyledger::api {

std::string_view openapi_document();

}  // namespace keyledger::api
