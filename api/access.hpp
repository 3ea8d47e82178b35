// Who may call what: the bearer token read as a principal (operator, service, or a user's
// signed session), and the checks handlers make before reading a dashboard. A user's role is
// read from the dashboard's state on every request, so a removed user is refused at once.
//
// Threading: any thread; reads the pipeline's state under its per-dashboard lock.
#pragma once

#include <initializer_list>
#include <string>

#include "config.hpp"
#include "domain/commands.hpp"
#include "eventstore/command_pipeline.hpp"
#include "problem.hpp"
#include "request_context.hpp"
#include "session_tokens.hpp"

namespace keyledger::api {

// The routes the processes of a cluster use among themselves: the request must carry this
// cluster's token (RequestContext::from_peer), otherwise 403.
Expected<void> require_peer(const RequestContext& ctx);

class Access {
 public:
  Access(const ServeConfig& config, const SessionTokens& sessions, const eventstore::CommandPipeline& pipeline)
      : config_(config), sessions_(sessions), pipeline_(pipeline) {}

  // Anonymous without a bearer token; 401 for a token that is not valid (any more).
  Expected<Principal> authenticate(const HttpRequest& request) const;
  // The caller must be of `kind`: 401 when anonymous, 403 otherwise.
  Expected<void> require_principal(const RequestContext& ctx, Principal::Kind kind) const;
  // The caller must be a user of the dashboard in the path with one of `roles`.
  Expected<domain::Role> require_member(const RequestContext& ctx, std::initializer_list<domain::Role> roles) const;
  // Who the events of this request will name.
  domain::Actor actor_of(const RequestContext& ctx) const;

 private:
  const ServeConfig& config_;
  const SessionTokens& sessions_;
  const eventstore::CommandPipeline& pipeline_;
};

// Every member of a dashboard may read its listings.
inline constexpr std::initializer_list<domain::Role> kEveryRole = {domain::Role::admin, domain::Role::developer,
                                                                   domain::Role::viewer};

}  // namespace keyledger::api
