#include "options.hpp"

#include <cctype>
#include <cstdlib>
#include <ostream>

namespace keyledger::cli {

void validate(boost::any& out, const std::vector<std::string>& values, Whole*, int) {
  po::validators::check_first_occurrence(out);
  const std::string& text = po::validators::get_single_string(values);
  if (text.empty() || text.size() > 19 || text.find_first_not_of("0123456789") != std::string::npos) {
    // Boost fills in the option's name when it passes the error on.
    throw po::error_with_option_name("%canonical_option% takes a whole number, not '" + text + "'");
  }
  out = Whole{std::stoul(text)};
}

std::ostream& operator<<(std::ostream& out, const Whole& w) { return out << w.value; }

std::string environment_name(std::string_view option) {
  std::string name = "KEYLEDGER_";
  for (char c : option) name += c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return name;
}

OptionSet::OptionSet(std::string caption) : description_(caption, 100, 50) {}

namespace {
// Every option the user may type, added to both descriptions.
void add(po::options_description& visible, po::options_description& all, const char* name,
         const po::value_semantic* value, const std::string& help) {
  boost::shared_ptr<po::option_description> option(new po::option_description(name, value, help.c_str()));
  visible.add(option);
  all.add(option);
}
}  // namespace

OptionSet& OptionSet::text(const char* name, const char* value_name, std::string help,
                           std::optional<std::string> default_value) {
  auto* value = po::value<std::string>()->value_name(value_name);
  if (default_value) value->default_value(*default_value);
  add(description_, all_, name, value, environment_name(name) + ": " + help);
  return *this;
}

OptionSet& OptionSet::number(const char* name, const char* value_name, std::string help, unsigned long default_value) {
  add(description_, all_, name, po::value<Whole>()->value_name(value_name)->default_value(Whole{default_value}),
      environment_name(name) + ": " + help);
  return *this;
}

OptionSet& OptionSet::positional(const char* name, int count) {
  all_.add_options()(name, po::value<std::vector<std::string>>(), "");
  positionals_.add(name, count);
  positional_name_ = name;
  return *this;
}

OptionSet& OptionSet::include(const OptionSet& other) {
  for (const auto& option : other.description_.options()) {
    description_.add(option);
    all_.add(option);
  }
  return *this;
}

Invocation Invocation::parse(const OptionSet& options, const std::vector<std::string>& args) {
  // Long options only, never abbreviated (--list is not --listen).
  const int style = po::command_line_style::unix_style & ~po::command_line_style::allow_guessing &
                    ~po::command_line_style::allow_short;
  Invocation invocation;
  po::store(po::command_line_parser(args)
                .options(options.description())
                .positional(options.positionals())
                .style(style)
                .run(),
            invocation.values_);
  // Variables second: po::store keeps what the flags already set. One at a time, so that an
  // error names the variable the bad value came from.
  for (const auto& option : options.visible().options()) {
    const std::string& name = option->long_name();
    const char* value = std::getenv(environment_name(name).c_str());
    if (!value || !*value) continue;  // unset or empty: as if not given
    try {
      po::store(po::command_line_parser(std::vector<std::string>{"--" + name + "=" + value})
                    .options(options.visible())
                    .style(style)
                    .run(),
                invocation.values_);
    } catch (po::error& e) {
      throw po::error(std::string(e.what()) + " (from " + environment_name(name) + ")");
    }
  }
  po::notify(invocation.values_);
  if (!options.positional_name().empty() && invocation.values_.count(options.positional_name())) {
    invocation.positional_ = invocation.values_[options.positional_name()].as<std::vector<std::string>>();
  }
  return invocation;
}

std::string Invocation::text(const char* name) const {
  auto it = values_.find(name);
  return it == values_.end() ? std::string() : it->second.as<std::string>();
}

unsigned long Invocation::number(const char* name) const { return values_.at(name).as<Whole>().value; }

}  // namespace keyledger::cli
