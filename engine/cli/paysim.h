// PaySim (Lopez-Rojas et al., CC BY-SA 4.0) rows -> fraudstream events.
//
// CSV columns: step,type,amount,nameOrig,oldbalanceOrg,newbalanceOrig,
// nameDest,oldbalanceDest,newbalanceDest,isFraud,isFlaggedFraud.
// Each row becomes {"event_id":"ps-<row>","event_type":"<type, lower case>",
// "ts": 2026-01-01T00:00Z + (step-1) h + row ms, the columns as fields (numbers
// as numbers), "isFraud": 0|1}. `step` is the simulation hour.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace fraud {

// Converts one data row (not the header). Returns nullopt and sets `error`
// for a malformed row.
std::optional<std::string> paysim_row_to_event(std::string_view line, std::uint64_t row, std::string& error);

}  // namespace fraud
