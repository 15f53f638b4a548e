#include "scenarios/engine/timeline.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <sstream>

namespace scenarios {
namespace {

constexpr int kLabelWidth = 170;
constexpr int kPlotWidth = 900;
constexpr int kLaneHeight = 26;
constexpr int kLaneGap = 8;
constexpr int kTop = 40;

std::string Escape(const std::string& text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

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

}  // namespace

std::string TimelineFileName(const std::string& scenario_name) {
  std::string out;
  for (char c : scenario_name) {
    bool safe = std::isalnum(static_cast<unsigned char>(c)) || c == '.' ||
                c == '_' || c == '-';
    out += safe ? c : '_';
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
    svg << "<text x=\"4\" y=\"" << y + kLaneHeight / 2 + 4 << "\">"
        << Escape(lane.name) << "</text>\n";
    for (size_t i = 0; i < lane.changes.size(); ++i) {
      const Timeline::Change& change = lane.changes[i];
      base::Duration until =
          i + 1 < lane.changes.size() ? lane.changes[i + 1].at : timeline.end;
      double x0 = x_of(change.at);
      double width = std::max(1.0, x_of(until) - x0);
      svg << "<rect x=\"" << x0 << "\" y=\"" << y << "\" width=\"" << width
          << "\" height=\"" << kLaneHeight << "\" fill=\""
          << ColourOf(change.value) << "\"><title>" << Escape(lane.name) << ": "
          << Escape(change.value) << " from " << Clock(change.at) << " to "
          << Clock(until) << "</title></rect>\n";
      if (width > 60) {
        svg << "<text x=\"" << x0 + 4 << "\" y=\"" << y + kLaneHeight / 2 + 4
            << "\" fill=\"#fff\">" << Escape(change.value) << "</text>\n";
      }
    }
    y += kLaneHeight + kLaneGap;
  }

  // Steps as thin markers along the top, labelled on hover.
  for (const Timeline::Mark& mark : timeline.steps) {
    double x = x_of(mark.at);
    svg << "<line x1=\"" << x << "\" y1=\"" << kTop - 14 << "\" x2=\"" << x
        << "\" y2=\"" << lanes_bottom << "\" stroke=\"#222\" "
        << "stroke-opacity=\"0.25\"><title>" << Escape(mark.label) << " at "
        << Clock(mark.at) << "</title></line>\n"
        << "<circle cx=\"" << x << "\" cy=\"" << kTop - 16
        << "\" r=\"3\" fill=\"#222\"><title>" << Escape(mark.label) << " at "
        << Clock(mark.at) << "</title></circle>\n";
  }
  svg << "</svg>\n";

  std::ostringstream steps;
  for (const Timeline::Mark& mark : timeline.steps) {
    steps << "<li><code>" << Clock(mark.at) << "</code> " << Escape(mark.label)
          << "</li>\n";
  }

  std::ostringstream html;
  html << "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">\n<title>"
       << Escape(result.name) << "</title>\n<style>body{font-family:"
       << "sans-serif;margin:24px;color:#222}h1{font-size:20px}"
       << ".pass{color:#2e9d4f}.fail{color:#c8323b}pre{background:#f6f6f6;"
       << "padding:8px}li{margin:2px 0}</style></head><body>\n<h1>"
       << Escape(result.name) << " <span class=\""
       << (result.passed ? "pass\">passed" : "fail\">failed")
       << "</span></h1>\n<p>" << Escape(result.description) << "</p>\n<p>"
       << Escape(result.file) << " &middot; seed " << result.seed
       << " &middot; " << base::FormatDuration(timeline.end)
       << " of virtual time</p>\n";
  if (!result.passed) {
    html << "<pre>" << Escape(result.failure) << "</pre>\n";
  }
  html << svg.str() << "<h2>Steps</h2>\n<ol>\n"
       << steps.str() << "</ol>\n</body></html>\n";
  return html.str();
}

}  // namespace scenarios
