// The scenario library as a whole: it must reproduce every behaviour of the
// catalogue, each named by its id in a scenario's description.
#include <gtest/gtest.h>

#include <regex>
#include <set>
#include <string>

#include "scenarios/engine/scenario.h"

namespace scenarios {
namespace {

constexpr int kBehaviours = 15;  // B1 to B15

TEST(Library, DescriptionsNameEveryBehaviour) {
  base::StatusOr<std::vector<std::string>> files =
      FindScenarioFiles({std::string(SIM_SOURCE_DIR) + "/scenarios"});
  ASSERT_TRUE(files.ok()) << files.status();
  ASSERT_FALSE(files->empty());

  std::set<int> named;
  static const std::regex kId(R"(\bB([0-9]+)\b)");
  for (const std::string& file : *files) {
    base::StatusOr<std::vector<Scenario>> scenarios = ParseScenarioFile(file);
    ASSERT_TRUE(scenarios.ok()) << scenarios.status();
    for (const Scenario& scenario : *scenarios) {
      const std::string& text = scenario.description;
      EXPECT_TRUE(std::regex_search(text, kId))
          << scenario.name << " in " << file
          << " names no behaviour id in its description";
      for (std::sregex_iterator it(text.begin(), text.end(), kId), end;
           it != end; ++it) {
        named.insert(std::stoi((*it)[1].str()));
      }
    }
  }

  for (int id = 1; id <= kBehaviours; ++id) {
    EXPECT_TRUE(named.contains(id)) << "no scenario under scenarios/ names B"
                                    << id << " in its description";
  }
}

}  // namespace
}  // namespace scenarios
