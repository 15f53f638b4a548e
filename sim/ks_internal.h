// Shared pieces of the `ks` commands: the command registry, the context a
// command runs in, and output helpers. Used by ks.cc, ks_cluster.cc and
// ks_kms.cc only.
#ifndef SIM_KS_INTERNAL_H_
#define SIM_KS_INTERNAL_H_

#include <CLI/CLI.hpp>
#include <deque>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <ostream>
#include <string>
#include <vector>

#include "sim/ks.h"

namespace sim::ks {

using nlohmann::json;

// The environment, user and output of one command.
struct Context {
  KsHost& host;
  Environment* env = nullptr;  // null for commands that need no state
  std::string user;            // the acting user's email
  bool json_output = false;
  std::ostream& out;
};

using Action = std::function<base::Status(Context&)>;

// The leaf commands of the CLI11 tree and the one that the parse chose.
class Commands {
 public:
  // Adds a leaf subcommand to `parent` that runs `action`.
  CLI::App* Add(CLI::App& parent, const std::string& name,
                const std::string& description, Action action,
                bool needs_state = true);
  // Adds a subcommand that only groups others.
  static CLI::App* Group(CLI::App& parent, const std::string& name,
                         const std::string& description);

  struct Leaf {
    Action action;
    bool needs_state = true;
  };
  const Leaf* chosen() const { return chosen_; }

 private:
  std::deque<Leaf> leaves_;
  const Leaf* chosen_ = nullptr;
};

void AddClusterCommands(CLI::App& app, Commands& commands);
void AddKmsCommands(CLI::App& app, Commands& commands);

// Prints rows as columns padded to the widest cell; the first row is the
// header.
void PrintTable(std::ostream& out,
                const std::vector<std::vector<std::string>>& rows);
void PrintJson(std::ostream& out, const json& value);

// Finds a cluster that the acting user may see (any platform role).
base::StatusOr<Cluster*> FindCluster(Context& ctx, const std::string& name);
// Finds a cluster and checks that the acting user has `required` on it.
base::StatusOr<Cluster*> FindClusterWithRole(Context& ctx,
                                             const std::string& name,
                                             PlatformRole required,
                                             const std::string& action);

// Shared pointer to a flag value that outlives the parse.
template <typename T>
std::shared_ptr<T> Flag(T initial = T()) {
  return std::make_shared<T>(std::move(initial));
}

}  // namespace sim::ks

#endif  // SIM_KS_INTERNAL_H_
