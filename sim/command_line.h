// Error messages for the CLI11 command lines of `sim` and `sim ks`.
#ifndef SIM_COMMAND_LINE_H_
#define SIM_COMMAND_LINE_H_

#include <CLI/CLI.hpp>
#include <string>

namespace sim {

// Returns a message naming the unknown command when `error`, thrown by
// app.parse, is CLI11's "A subcommand is required" for a command line that
// does name one, such as `sim ks x`: "unknown command 'x'; the commands of
// `ks` are init, cluster, ...". Returns "" for any other error, which
// CLI11's own message describes.
std::string UnknownCommandMessage(CLI::App& app, const CLI::ParseError& error);

}  // namespace sim

#endif  // SIM_COMMAND_LINE_H_
