#include "base/log.h"

#include <spdlog/sinks/stdout_color_sinks.h>

namespace base {

void InitLogging(const std::string& level) {
  auto logger = spdlog::stderr_color_mt("sim");
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
  spdlog::level::level_enum parsed = spdlog::level::from_str(level);
  // from_str returns "off" for names it does not know.
  if (parsed == spdlog::level::off && level != "off") {
    parsed = spdlog::level::info;
  }
  logger->set_level(parsed);
  spdlog::set_default_logger(logger);
}

}  // namespace base
