// Small helpers for the JSON state files of the cluster model.
#ifndef SIM_JSON_FILE_H_
#define SIM_JSON_FILE_H_

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "base/clock.h"
#include "base/status.h"

namespace sim {

// Writes `text` to `path` through a temporary file and a rename, so that a
// reader sees either the old or the new content. The file is created
// readable and writable by its owner only (mode 0600), whatever the umask,
// because the project's state files contain tokens, API keys and Secrets.
// Fails with kDataLoss naming the file and the cause.
base::Status WritePrivateFile(const std::string& path, const std::string& text);
// Writes `json` with WritePrivateFile.
base::Status WriteJsonFile(const std::string& path, const nlohmann::json& json);
// Creates the directory `path` and its missing parents with mode 0700, and
// sets `path` itself to 0700 if it existed, so that only its owner can list
// or open what it contains. Fails with kFailedPrecondition naming the
// directory and the cause.
base::Status CreatePrivateDirectory(const std::string& path);
// Reads a JSON file. Fails with kNotFound when it is missing and with
// kDataLoss when it cannot be read or parsed.
base::StatusOr<nlohmann::json> ReadJsonFile(const std::string& path);

// Times in state files are RFC 3339 text with nanoseconds kept as an
// integer beside it, so a restart keeps the exact instant.
nlohmann::json TimeToJson(base::Time time);
base::StatusOr<base::Time> TimeFromJson(const nlohmann::json& json);

}  // namespace sim

#endif  // SIM_JSON_FILE_H_
