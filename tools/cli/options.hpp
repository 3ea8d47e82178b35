// A subcommand's options, parsed by Boost.Program_options: every `--name` may also come from
// the environment variable KEYLEDGER_NAME (a flag wins over the variable, the variable over
// the default), and the help text is generated from the same declarations, so an option,
// its variable, its default and its description are written once.
#pragma once

#include <boost/program_options.hpp>
#include <optional>
#include <string>
#include <vector>

namespace keyledger::cli {

namespace po = boost::program_options;

// A whole number written in digits only (Boost's own conversion would take "-1" as a huge
// unsigned number).
struct Whole {
  unsigned long value = 0;
};
void validate(boost::any& out, const std::vector<std::string>& values, Whole*, int);
std::ostream& operator<<(std::ostream& out, const Whole& w);

// "read-timeout" -> "KEYLEDGER_READ_TIMEOUT"
std::string environment_name(std::string_view option);

class OptionSet {
 public:
  explicit OptionSet(std::string caption = "options");

  // A text option; `value_name` names its argument in the help ("HOST:PORT").
  OptionSet& text(const char* name, const char* value_name, std::string help,
                  std::optional<std::string> default_value = std::nullopt);
  OptionSet& number(const char* name, const char* value_name, std::string help, unsigned long default_value);
  // Positional arguments ("FILE", "PATH..."): `count` of them, -1 for any number.
  OptionSet& positional(const char* name, int count);
  // Adds another set's options (shared groups, such as the store's).
  OptionSet& include(const OptionSet& other);

  // Every option, positional ones included (for parsing).
  const po::options_description& description() const { return all_; }
  // The options a user types (for the help).
  const po::options_description& visible() const { return description_; }
  const po::positional_options_description& positionals() const { return positionals_; }
  const std::string& positional_name() const { return positional_name_; }

 private:
  po::options_description description_;
  po::options_description all_;
  po::positional_options_description positionals_;
  std::string positional_name_;
};

// What one invocation asked for.
class Invocation {
 public:
  // Parses the flags, then KEYLEDGER_* variables (non-empty ones) for options the flags did
  // not give. Throws po::error (with a message naming the option) on bad input.
  static Invocation parse(const OptionSet& options, const std::vector<std::string>& args);

  std::string text(const char* name) const;  // empty when unset and without default
  unsigned long number(const char* name) const;
  const std::vector<std::string>& positional() const { return positional_; }
  bool has(const char* name) const { return values_.count(name) > 0; }

 private:
  po::variables_map values_;
  std::vector<std::string> positional_;
};

}  // namespace keyledger::cli
