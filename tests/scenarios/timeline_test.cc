// The HTML timeline page and its file name.
#include "scenarios/engine/timeline.h"

#include <gtest/gtest.h>

#include <regex>
#include <set>
#include <string>

namespace scenarios {
namespace {

size_t CountOf(const std::string& text, const std::string& part) {
  size_t count = 0;
  for (size_t at = text.find(part); at != std::string::npos;
       at = text.find(part, at + 1)) {
    ++count;
  }
  return count;
}

TEST(TimelineFileName, KeepsPlainNames) {
  EXPECT_EQ(TimelineFileName("verify-by-disabling-root-key-1.19"),
            "verify-by-disabling-root-key-1.19.html");
}

TEST(TimelineFileName, DistinctForReplacedCharacters) {
  std::set<std::string> names;
  for (const char* name : {"a/b", "a:b", "a_b", "a b", "a\\b", "a%b"}) {
    names.insert(TimelineFileName(name));
  }

  EXPECT_EQ(names.size(), 6u);
  EXPECT_EQ(TimelineFileName("a/b"), TimelineFileName("a/b"));
  EXPECT_EQ(TimelineFileName("a/b"), "a_b-e620c3190468cf61.html");
}

TEST(TimelineFileName, SafeForFileSystems) {
  std::string dots = TimelineFileName("..");
  std::string hidden = TimelineFileName(".profile");
  std::string long_name = TimelineFileName(std::string(1000, 'x'));

  EXPECT_NE(dots.front(), '.') << dots;
  EXPECT_NE(hidden.front(), '.') << hidden;
  EXPECT_LE(long_name.size(), 255u);
  EXPECT_NE(long_name, TimelineFileName(std::string(999, 'x')));
}

TEST(TimelineHtml, LabelsStayInsideTheirBoxes) {
  std::string long_value(200, 'v');
  std::string long_lane = "key " + std::string(100, 'k');
  ScenarioResult result;
  result.name = "labels";
  result.passed = true;
  result.timeline.end = std::chrono::hours(10);
  result.timeline.lanes = {
      {long_lane,
       {{std::chrono::hours(0), "Active"},
        {std::chrono::hours(1), long_value}}},
  };

  std::string html = TimelineHtml(result);

  // The full texts remain in the hover titles only: that of the box and
  // that of the cut label.
  EXPECT_EQ(CountOf(html, long_value), 2u) << html;
  EXPECT_EQ(CountOf(html, long_value + "</title>"), 1u) << html;
  EXPECT_EQ(CountOf(html, long_value + " from"), 1u) << html;
  EXPECT_EQ(CountOf(html, long_lane), 3u) << html;
  EXPECT_EQ(CountOf(html, long_lane + ":"), 2u) << html;
  // Each drawn label sits in a box of its own width that clips it, and is
  // cut with an ellipsis to an estimated 7.5 pixels per character.
  std::regex label(
      "<svg x=\"[0-9.]+\" y=\"[0-9]+\" width=\"([0-9.]+)\" height=\"26\">"
      "<text x=\"4\" y=\"17\" fill=\"#[0-9a-f]+\">([^<]*)");
  int labels = 0;
  for (std::sregex_iterator it(html.begin(), html.end(), label), end; it != end;
       ++it, ++labels) {
    double width = std::stod((*it)[1]);
    std::string text = (*it)[2];
    size_t characters = 0;
    for (unsigned char c : text) characters += (c & 0xC0) != 0x80;
    EXPECT_LE(characters * 7.5 + 8, width) << text;
  }
  EXPECT_EQ(labels, 3);
  EXPECT_NE(html.find("vvv\u2026"), std::string::npos) << html;
  EXPECT_NE(html.find("kkk\u2026"), std::string::npos) << html;
}

}  // namespace
}  // namespace scenarios
