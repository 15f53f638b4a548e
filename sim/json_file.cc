#include "sim/json_file.h"

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace sim {

base::Status WriteJsonFile(const std::string& path,
                           const nlohmann::json& json) {
  // The process id keeps two writers in different processes apart; writers
  // in one process serialize on their own locks.
  std::string temp = path + ".tmp." + std::to_string(::getpid());
  {
    std::ofstream out(temp, std::ios::trunc);
    out << json.dump(2) << "\n";
    out.flush();
    if (!out) {
      return base::DataLossError("failed to write state file " + temp);
    }
  }
  std::error_code ec;
  std::filesystem::rename(temp, path, ec);
  if (ec) {
    return base::DataLossError("failed to replace state file " + path + ": " +
                               ec.message());
  }
  return base::OkStatus();
}

base::StatusOr<nlohmann::json> ReadJsonFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) {
      return base::NotFoundError("state file " + path + " not found");
    }
    return base::DataLossError("failed to read state file " + path);
  }
  std::stringstream text;
  text << in.rdbuf();
  nlohmann::json json =
      nlohmann::json::parse(text.str(), nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded()) {
    return base::DataLossError("state file " + path + " is not valid JSON");
  }
  return json;
}

nlohmann::json TimeToJson(base::Time time) {
  return {{"text", base::FormatRfc3339(time)},
          {"ns", time.time_since_epoch().count()}};
}

base::StatusOr<base::Time> TimeFromJson(const nlohmann::json& json) {
  if (!json.is_object() || !json.contains("ns") ||
      !json["ns"].is_number_integer()) {
    return base::DataLossError("malformed time in state file: " + json.dump());
  }
  return base::Time(base::Duration(json["ns"].get<int64_t>()));
}

}  // namespace sim
