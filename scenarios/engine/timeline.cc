#include "scenarios/engine/timeline.h"

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <cstdio>
#include <sstream>
#include <string_view>
#include <vector>

#include "scenarios/engine/escape.h"

namespace scenarios {
namespace {

constexpr int kLabelWidth = 170;
constexpr int kPlotWidth = 900;
constexpr int kLaneHeight = 26;
constexpr int kLaneGap = 8;
constexpr int kTop = 40;
// Maximum length, in bytes, of the part of a timeline file name taken from
// the scenario name. With the hash and ".html" the name stays well under the
// 255 bytes that common file systems allow.
constexpr size_t kMaxFileNameStem = 120;

// Colours by meaning: green serving, blue in progress, amber degraded,
// red lost or unavailable, grey switched off.
std::string ColourOf(const std::string& value) {
  if (value == "Ready" || value == "available" || value == "Active") {
    return "#2e9d4f";
  }
  if (value == "KMS enabling" || value == "Pre-activation") return "#3b7dd8";
  if (value == "unusable" || value == "Deactivated") return "#e39b1b";
  if (value == "Suspended") return "#8a8a8a";
  return "#c8323b";  // data lost, unavailable, Destroyed, purged
}

std::string Clock(base::Duration d) {
  auto secs = std::chrono::duration_cast<std::chrono::seconds>(d).count();
  char buf[32];
  if (secs >= 86400) {
    std::snprintf(buf, sizeof(buf), "%lldd%02lld:%02lld",
                  static_cast<long long>(secs / 86400),
                  static_cast<long long>(secs / 3600 % 24),
                  static_cast<long long>(secs / 60 % 60));
  } else {
    std::snprintf(buf, sizeof(buf), "%02lld:%02lld:%02lld",
                  static_cast<long long>(secs / 3600),
                  static_cast<long long>(secs / 60 % 60),
                  static_cast<long long>(secs % 60));
  }
  return buf;
}

// Estimated advance of one character at font-size 12 in a sans-serif font,
// in pixels: wide enough for most capitals, so estimated labels rarely
// reach the edge of their box. The nested <svg> clips whatever still does.
constexpr double kCharWidth = 7.5;
constexpr double kTextPadding = 4;

// Returns `text` cut to fit `width` pixels, ending in "…" when cut, or ""
// when not even one character and the ellipsis fit.
std::string FitLabel(std::string_view text, double width) {
  int fits = static_cast<int>((width - 2 * kTextPadding) / kCharWidth);
  std::vector<size_t> starts;  // byte offset of each code point
  for (size_t i = 0; i < text.size(); ++i) {
    if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) {
      starts.push_back(i);
    }
  }
  if (static_cast<int>(starts.size()) <= fits) return std::string(text);
  if (fits < 2) return "";
  return std::string(text.substr(0, starts[fits - 1])) + "\u2026";
}

// A label inside the box at (x, y) of `width` by kLaneHeight pixels: cut to
// fit and drawn in a nested <svg>, which clips its content to the box.
std::string ClippedLabel(std::string_view text, double x, int y, double width,
                         const char* colour) {
  std::string label = FitLabel(text, width);
  if (label.empty()) return "";
  std::ostringstream out;
  out << "<svg x=\"" << x << "\" y=\"" << y << "\" width=\"" << width
      << "\" height=\"" << kLaneHeight << "\"><text x=\"" << kTextPadding
      << "\" y=\"" << kLaneHeight / 2 + 4 << "\" fill=\"" << colour << "\">"
      << EscapeMarkup(label);
  if (label != text) out << "<title>" << EscapeMarkup(text) << "</title>";
  out << "</text></svg>\n";
  return out.str();
}

}  // namespace

std::string TimelineFileName(const std::string& scenario_name) {
  std::string out;
  for (size_t i = 0; i < scenario_name.size(); ++i) {
    const char c = scenario_name[i];
    bool safe = std::isalnum(static_cast<unsigned char>(c)) || c == '_' ||
                c == '-' || (c == '.' && i > 0);
    out += safe ? c : '_';
  }
  if (out.size() > kMaxFileNameStem) out.resize(kMaxFileNameStem);
  if (out != scenario_name) {
    // FNV-1a, 64 bits: a fixed function, so the name stays the same from
    // run to run and from machine to machine.
    uint64_t hash = 0xcbf29ce484222325;
    for (char c : scenario_name) {
      hash = (hash ^ static_cast<unsigned char>(c)) * 0x100000001b3;
    }
    char suffix[20];
    std::snprintf(suffix, sizeof(suffix), "-%016llx",
                  static_cast<unsigned long long>(hash));
    out += suffix;
  }
  return out + ".html";
}

std::string TimelineHtml(const ScenarioResult& result) {
  const Timeline& timeline = result.timeline;
  double end =
      std::max<double>(1, std::chrono::duration<double>(timeline.end).count());
  auto x_of = [&](base::Duration at) {
    return kLabelWidth +
           kPlotWidth * std::chrono::duration<double>(at).count() / end;
  };
  int lanes_bottom =
      kTop + static_cast<int>(timeline.lanes.size()) * (kLaneHeight + kLaneGap);
  int height = lanes_bottom + 40;

  std::ostringstream svg;
  svg << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\""
      << kLabelWidth + kPlotWidth + 50 << "\" height=\"" << height
      << "\" font-family=\"sans-serif\" font-size=\"12\">\n";

  // Time axis with five ticks.
  for (int i = 0; i <= 4; ++i) {
    auto at = std::chrono::duration_cast<base::Duration>(
        std::chrono::duration<double>(end * i / 4));
    double x = x_of(at);
    svg << "<line x1=\"" << x << "\" y1=\"" << kTop - 6 << "\" x2=\"" << x
        << "\" y2=\"" << lanes_bottom << "\" stroke=\"#ddd\"/>\n"
        << "<text x=\"" << x << "\" y=\"" << lanes_bottom + 16
        << "\" text-anchor=\"middle\" fill=\"#555\">" << Clock(at)
        << "</text>\n";
  }

  int y = kTop;
  for (const Timeline::Lane& lane : timeline.lanes) {
    svg << ClippedLabel(lane.name, 0, y, kLabelWidth - 4, "#222");
    for (size_t i = 0; i < lane.changes.size(); ++i) {
      const Timeline::Change& change = lane.changes[i];
      base::Duration until =
          i + 1 < lane.changes.size() ? lane.changes[i + 1].at : timeline.end;
      double x0 = x_of(change.at);
      double width = std::max(1.0, x_of(until) - x0);
      svg << "<rect x=\"" << x0 << "\" y=\"" << y << "\" width=\"" << width
          << "\" height=\"" << kLaneHeight << "\" fill=\""
          << ColourOf(change.value) << "\"><title>" << EscapeMarkup(lane.name)
          << ": " << EscapeMarkup(change.value) << " from " << Clock(change.at)
          << " to " << Clock(until) << "</title></rect>\n";
      svg << ClippedLabel(change.value, x0, y, width, "#fff");
    }
    y += kLaneHeight + kLaneGap;
  }

  // Steps as thin markers along the top, labelled on hover.
  for (const Timeline::Mark& mark : timeline.steps) {
    double x = x_of(mark.at);
    svg << "<line x1=\"" << x << "\" y1=\"" << kTop - 14 << "\" x2=\"" << x
        << "\" y2=\"" << lanes_bottom << "\" stroke=\"#222\" "
        << "stroke-opacity=\"0.25\"><title>" << EscapeMarkup(mark.label)
        << " at " << Clock(mark.at) << "</title></line>\n"
        << "<circle cx=\"" << x << "\" cy=\"" << kTop - 16
        << "\" r=\"3\" fill=\"#222\"><title>" << EscapeMarkup(mark.label)
        << " at " << Clock(mark.at) << "</title></circle>\n";
  }
  svg << "</svg>\n";

  std::ostringstream steps;
  for (const Timeline::Mark& mark : timeline.steps) {
    steps << "<li><code>" << Clock(mark.at) << "</code> "
          << EscapeMarkup(mark.label) << "</li>\n";
  }

  std::ostringstream html;
  html << "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">\n<title>"
       << EscapeMarkup(result.name) << "</title>\n<style>body{font-family:"
       << "sans-serif;margin:24px;color:#222}h1{font-size:20px}"
       << ".pass{color:#2e9d4f}.fail{color:#c8323b}pre{background:#f6f6f6;"
       << "padding:8px}li{margin:2px 0}</style></head><body>\n<h1>"
       << EscapeMarkup(result.name) << " <span class=\""
       << (result.passed ? "pass\">passed" : "fail\">failed")
       << "</span></h1>\n<p>" << EscapeMarkup(result.description) << "</p>\n<p>"
       << EscapeMarkup(result.file) << " &middot; seed " << result.seed
       << " &middot; " << base::FormatDuration(timeline.end)
       << " of virtual time</p>\n";
  if (!result.passed) {
    html << "<pre>" << EscapeMarkup(result.failure) << "</pre>\n";
  }
  html << svg.str() << "<h2>Steps</h2>\n<ol>\n"
       << steps.str() << "</ol>\n</body></html>\n";
  return html.str();
}

}  // namespace scenarios
