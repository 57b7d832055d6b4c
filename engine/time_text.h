// Parsing of the two textual time forms of the rule language:
//  - event timestamps (RFC 3339, e.g. "2026-03-01T08:15:00.250+08:00"),
//  - durations of feature windows ("30s", "15m", "24h", "7d").
// Pure functions, no clock; only formatting allocates.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace fraud {

// Milliseconds since the Unix epoch of an RFC 3339 date-time. Accepts 'T',
// 't' or ' ' between date and time, 'Z'/'z' or a +hh:mm/-hh:mm offset, and any
// number of fraction digits (truncated toward the past to milliseconds).
// Returns nullopt for anything else, including out-of-range fields.
std::optional<std::int64_t> parse_rfc3339_ms(std::string_view text);

// Milliseconds of a duration written as a positive integer and one unit of
// s, m, h or d. Returns nullopt for anything else (no unit, zero, "1.5h").
std::optional<std::int64_t> parse_duration_ms(std::string_view text);

// RFC 3339 text in UTC with milliseconds ("2026-03-01T00:15:00.250Z").
std::string format_rfc3339_ms(std::int64_t ms);

// Days since 1970-01-01 of a proleptic Gregorian civil date.
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d);

}  // namespace fraud
