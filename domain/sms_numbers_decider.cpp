// SMS: nobody generates an SMS key. Registering a number assigns exactly one key to it;
// deregistering the number revokes that key. A number is held by one dashboard platform-wide.
#include "decider_support.hpp"
#include "validation.hpp"

namespace keyledger::domain::detail {

namespace {
constexpr std::initializer_list<Role> kSmsRoles{Role::admin, Role::developer};

// Validates the number and finds its registration in this dashboard.
template <class C>
std::variant<Outcome, const SmsNumber*> registered_number(const DashboardState& s, const C& c) {
  auto number = validate_e164("number", c.number);
  if (!number) return refuse(number.error());
  auto it = s.numbers.find(*number);
  if (it == s.numbers.end()) return not_found("the number is not registered in this dashboard");
  return &it->second;
}
}  // namespace

Outcome decide_one(const DashboardState& s, const RegisterSmsNumber& c, const Context& ctx) {
  using C = RegisterSmsNumber;
  if (auto refusal = require_user<C>(s, ctx, kSmsRoles, c.number)) return *refusal;
  auto number = validate_e164("number", c.number);
  if (!number) return refuse(number.error());
  if (s.numbers.contains(*number)) {
    return deny<C>(RejectionCode::number_already_registered, *number,
                   "the number is already registered in this dashboard");
  }
  if (!c.registered_in_dashboard.empty() && c.registered_in_dashboard != s.id) {
    // Which dashboard holds it is another customer's business: not named here.
    return deny<C>(RejectionCode::number_already_registered, *number,
                   "the number is registered in another dashboard");
  }
  if (s.keys.contains(c.key_id)) return refuse(invalid_field("key_id", "is already in use"));
  return accept({SmsNumberRegistered{*number}, SmsKeyAssigned{*number, c.key_id, c.secret}});
}

Outcome decide_one(const DashboardState& s, const ViewSmsKey& c, const Context& ctx) {
  if (auto refusal = require_user<ViewSmsKey>(s, ctx, kSmsRoles, c.number)) return *refusal;
  auto found = registered_number(s, c);
  if (auto* refusal = std::get_if<Outcome>(&found)) return *refusal;
  const SmsNumber& n = *std::get<const SmsNumber*>(found);
  // No password: the help page asks none for SMS. The disclosure is still audited.
  return accept({SmsKeyViewed{n.number, n.key_id}});
}

Outcome decide_one(const DashboardState& s, const RotateSmsKey& c, const Context& ctx) {
  if (auto refusal = require_user<RotateSmsKey>(s, ctx, {Role::admin}, c.number)) return *refusal;
  auto found = registered_number(s, c);
  if (auto* refusal = std::get_if<Outcome>(&found)) return *refusal;
  const SmsNumber& n = *std::get<const SmsNumber*>(found);
  return accept({SmsKeyRotated{n.number, n.key_id, c.secret}});
}

Outcome decide_one(const DashboardState& s, const DeregisterSmsNumber& c, const Context& ctx) {
  using C = DeregisterSmsNumber;
  if (auto refusal = require_user<C>(s, ctx, kSmsRoles, c.number)) return *refusal;
  auto found = registered_number(s, c);
  if (auto* refusal = std::get_if<Outcome>(&found)) return *refusal;
  const SmsNumber& n = *std::get<const SmsNumber*>(found);
  return accept({SmsNumberDeregistered{n.number, n.key_id}});
}

Outcome decide_one(const DashboardState& s, const GenerateSmsKey&, const Context&) {
  if (!s.exists) return not_found("no such dashboard");
  return deny<GenerateSmsKey>(
      RejectionCode::sms_key_auto_assigned, {},
      "SMS keys are assigned automatically when a number is registered; register a number");
}

}  // namespace keyledger::domain::detail
