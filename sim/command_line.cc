#include "sim/command_line.h"

#include <filesystem>
#include <vector>

namespace sim {

std::string UnknownCommandMessage(CLI::App& app, const CLI::ParseError& error) {
  if (dynamic_cast<const CLI::RequiredError*>(&error) == nullptr) return "";
  // CLI11 2.1 keeps words it could not place, and checks that a subcommand
  // was given before it reports them.
  std::vector<std::string> left = app.remaining(true);
  if (left.empty() || left.front().starts_with("-")) return "";

  // The deepest command chosen, whose subcommands the word is not one of.
  // The name of `sim` itself is the path it was run by.
  CLI::App* chosen = &app;
  std::string path = std::filesystem::path(app.get_name()).filename();
  while (!chosen->get_subcommands().empty()) {
    chosen = chosen->get_subcommands().front();
    path += " " + chosen->get_name();
  }
  std::vector<CLI::App*> known =
      chosen->get_subcommands([](CLI::App*) { return true; });
  if (known.empty()) return "";
  std::string names;
  for (const CLI::App* command : known) {
    names += (names.empty() ? "" : ", ") + command->get_name();
  }
  return "unknown command '" + left.front() + "'; the commands of `" + path +
         "` are " + names + "\nRun with --help for more information.";
}

}  // namespace sim
