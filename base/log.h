// Logging set-up on spdlog. Components log lifecycle events (start, stop,
// key state changes, cluster transitions, errors caught and not re-raised),
// never per-request traffic and never keys, DEKs, tokens or Secret data.
#ifndef BASE_LOG_H_
#define BASE_LOG_H_

#include <spdlog/spdlog.h>

#include <string>

namespace base {

// Sets the default logger to stderr at `level` ("trace" ... "off").
// Unknown level names fall back to "info".
void InitLogging(const std::string& level);

}  // namespace base

#endif  // BASE_LOG_H_
