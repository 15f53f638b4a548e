#include "sim/json_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace sim {

base::Status WritePrivateFile(const std::string& path,
                              const std::string& text) {
  // The process id keeps two writers in different processes apart; writers
  // in one process serialize on their own locks.
  std::string temp = path + ".tmp." + std::to_string(::getpid());
  int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    return base::DataLossError("failed to create " + temp + ": " +
                               std::strerror(errno));
  }
  // A file left by an earlier run keeps its mode through O_CREAT.
  bool written = ::fchmod(fd, 0600) == 0;
  for (size_t done = 0; written && done < text.size();) {
    ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    written = n > 0;
    if (written) done += static_cast<size_t>(n);
  }
  int error = written ? 0 : errno;
  if (::close(fd) != 0 && written) {
    written = false;
    error = errno;
  }
  if (!written) {
    ::unlink(temp.c_str());
    return base::DataLossError("failed to write " + temp + ": " +
                               std::strerror(error));
  }
  std::error_code ec;
  std::filesystem::rename(temp, path, ec);
  if (ec) {
    return base::DataLossError("failed to replace " + path + ": " +
                               ec.message());
  }
  return base::OkStatus();
}

base::Status WriteJsonFile(const std::string& path,
                           const nlohmann::json& json) {
  return WritePrivateFile(
      path, json.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) +
                "\n");
}

base::Status CreatePrivateDirectory(const std::string& path) {
  std::filesystem::path target(path);
  std::filesystem::path partial;
  for (const std::filesystem::path& part : target) {
    partial /= part;
    if (::mkdir(partial.c_str(), 0700) != 0 && errno != EEXIST) {
      return base::FailedPreconditionError("failed to create directory " +
                                           partial.string() + ": " +
                                           std::strerror(errno));
    }
  }
  if (::chmod(path.c_str(), 0700) != 0) {
    return base::FailedPreconditionError(
        "failed to make directory " + path +
        " private (mode 0700): " + std::strerror(errno));
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
    return base::DataLossError(
        "malformed time in state file: " +
        json.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  }
  return base::Time(base::Duration(json["ns"].get<int64_t>()));
}

}  // namespace sim
