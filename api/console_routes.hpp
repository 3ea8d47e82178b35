// The web console (SPEC §12): the static files of console/, compiled into the binary, served
// at /console/ to anyone (they hold no data: every screen calls the public API with the
// token its user logged in with). Every answer carries a strict Content-Security-Policy —
// scripts, styles and API calls from this origin only, no inline script or style, no framing.
#pragma once

#include "router.hpp"

namespace keyledger::api {

void add_console_routes(Router& router);

}  // namespace keyledger::api
