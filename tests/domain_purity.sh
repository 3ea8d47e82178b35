#!/usr/bin/env bash
# The domain is pure C++: every #include in domain/ names a standard library header or a
# file of domain/ itself. Anything else (Boost, Kafka, OpenSSL, POSIX) fails this test.
set -euo pipefail
domain_dir=${1:?usage: domain_purity.sh DOMAIN_DIR}
std_headers=" algorithm any array atomic bit bitset cassert cctype cerrno cfloat charconv chrono cinttypes climits cmath compare concepts cstddef cstdint cstdio cstdlib cstring ctime cwchar deque exception expected format functional initializer_list iomanip ios iosfwd iostream istream iterator limits list map memory memory_resource new numbers numeric optional ostream queue random ranges ratio set shared_mutex source_location span sstream stack stdexcept string string_view system_error tuple type_traits typeindex typeinfo unordered_map unordered_set utility variant vector version "
status=0
while IFS= read -r line; do
  file=${line%%:*}
  header=$(sed -E 's/.*#include[[:space:]]*[<"]([^>"]+)[>"].*/\1/' <<<"$line")
  if [[ $line =~ \#include[[:space:]]*\< ]]; then
    [[ $std_headers == *" $header "* ]] && continue
    echo "domain purity: $file includes <$header>, which is not a standard library header"
    status=1
  else
    [[ -f "$(dirname "$file")/$header" && $(realpath "$(dirname "$file")/$header") == "$(realpath "$domain_dir")"/* ]] && continue
    echo "domain purity: $file includes \"$header\" from outside domain/"
    status=1
  fi
done < <(grep -rHE '^[[:space:]]*#[[:space:]]*include' "$domain_dir" --include='*.hpp' --include='*.cpp')
[[ $status == 0 ]] && echo "domain purity: every include in $domain_dir is standard or local"
exit $status
