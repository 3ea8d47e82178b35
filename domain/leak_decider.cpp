// Leak reports from secret scanners: a live key found in public is taken out of service at
// once. The RCS key is only flagged, since no user can rotate it; the operator reissues it.
#include "decider_support.hpp"
#include "validation.hpp"

namespace keyledger::domain::detail {

Outcome decide_one(const DashboardState& s, const ReportKeyLeak& c, const Context& ctx) {
  if (!s.exists) return not_found("no such dashboard");
  if (ctx.actor.kind != ActorKind::service && ctx.actor.kind != ActorKind::system) {
    return deny<ReportKeyLeak>(RejectionCode::forbidden, c.key_id,
                               "only a service may report leaks");
  }
  auto it = s.keys.find(c.key_id);
  if (it == s.keys.end()) return not_found("no such key");
  const ApiKey& key = it->second;
  KeyLeakReported report{c.key_id, key.channel, c.url, c.source, LeakResponse::already_inactive};
  if (key.revoked) return accept({report});
  switch (key.channel) {
    case Channel::email:
      report.response = LeakResponse::revoked;
      return accept({report, EmailKeyRevoked{c.key_id}});
    case Channel::whatsapp:
      report.response = LeakResponse::revoked;
      return accept({report, WhatsAppKeyRevoked{c.key_id}});
    case Channel::sms:
      // Revoking alone would leave a registered number without its one key.
      if (!c.replacement) return refuse(invalid_field("replacement", "is required for SMS keys"));
      report.response = LeakResponse::rotated;
      return accept({report, SmsKeyRotated{key.name, c.key_id, *c.replacement}});
    case Channel::rcs:
      report.response = LeakResponse::flagged_for_operator;
      return accept({report});
  }
  return accept({report});
}

}  // namespace keyledger::domain::detail
