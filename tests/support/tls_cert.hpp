// A self-signed certificate for 127.0.0.1 (openssl req), for the tests of keyledger's HTTPS.
#pragma once

#include <cstdlib>
#include <string>

namespace keyledger::testing {

// Writes DIR/cert.pem and DIR/key.pem, valid for a day; true when openssl succeeded.
inline bool make_self_signed_cert(const std::string& dir) {
  const std::string command = "openssl req -x509 -newkey rsa:2048 -nodes -keyout " + dir + "/key.pem -out " + dir +
                              "/cert.pem -days 1 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 > /dev/null 2>&1";
  return std::system(command.c_str()) == 0;
}

}  // namespace keyledger::testing
