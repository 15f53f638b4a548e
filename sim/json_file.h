// Small helpers for the JSON state files of the cluster model.
#ifndef SIM_JSON_FILE_H_
#define SIM_JSON_FILE_H_

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "base/clock.h"
#include "base/status.h"

namespace sim {

// Writes `json` to `path` through a temporary file and a rename, so that a
// reader sees either the old or the new content. Fails with kDataLoss.
base::Status WriteJsonFile(const std::string& path, const nlohmann::json& json);
// Reads a JSON file. Fails with kNotFound when it is missing and with
// kDataLoss when it cannot be read or parsed.
base::StatusOr<nlohmann::json> ReadJsonFile(const std::string& path);

// Times in state files are RFC 3339 text with nanoseconds kept as an
// integer beside it, so a restart keeps the exact instant.
nlohmann::json TimeToJson(base::Time time);
base::StatusOr<base::Time> TimeFromJson(const nlohmann::json& json);

}  // namespace sim

#endif  // SIM_JSON_FILE_H_
