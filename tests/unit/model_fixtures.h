// The committed XGBoost model fixtures (tests/data/models, made once by
// make_fixtures.py with python3-xgboost), read by name.
#pragma once

#include <fstream>
#include <sstream>
#include <string>

namespace fraud::testing {

inline std::string model_fixture(const std::string& name) {
  std::ifstream in(std::string(FRAUD_SOURCE_DIR) + "/tests/data/models/" + name);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace fraud::testing
