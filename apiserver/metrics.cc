#include "apiserver/metrics.h"

#include <algorithm>
#include <charconv>
#include <cmath>

namespace apiserver {
namespace {

// Formats a sample value in the shortest form that reads back exactly, as
// the Go client's strconv.FormatFloat(v, 'g', -1, 64) does.
std::string FormatValue(double value) {
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  if (std::isnan(value)) return "NaN";
  char buffer[64];
  auto [end, error] = std::to_chars(buffer, buffer + sizeof(buffer), value);
  return std::string(buffer, end);
}

std::string EscapeLabelValue(const std::string& value) {
  std::string escaped;
  for (char c : value) {
    if (c == '\\' || c == '"') {
      escaped += '\\';
      escaped += c;
    } else if (c == '\n') {
      escaped += "\\n";
    } else {
      escaped += c;
    }
  }
  return escaped;
}

std::string FormatLabels(const Labels& labels) {
  if (labels.empty()) return "";
  std::string text = "{";
  for (size_t i = 0; i < labels.size(); ++i) {
    if (i > 0) text += ",";
    text += labels[i].first + "=\"" + EscapeLabelValue(labels[i].second) + "\"";
  }
  return text + "}";
}

Labels RequestLabels(const std::string& verb, const std::string& resource,
                     const std::string& scope) {
  return {{"component", "apiserver"},
          {"group", ""},
          {"resource", resource},
          {"scope", scope},
          {"verb", verb},
          {"version", resource.empty() ? "" : "v1"}};
}

}  // namespace

void Histogram::Observe(double value) {
  if (bucket_counts.size() != bounds.size() + 1) {
    bucket_counts.assign(bounds.size() + 1, 0);
  }
  const size_t bucket =
      std::lower_bound(bounds.begin(), bounds.end(), value) - bounds.begin();
  ++bucket_counts[bucket];
  sum += value;
  ++count;
}

std::vector<double> ExponentialBuckets(double start, double factor, int count) {
  std::vector<double> bounds;
  double bound = start;
  for (int i = 0; i < count; ++i) {
    bounds.push_back(bound);
    bound *= factor;
  }
  return bounds;
}

std::vector<double> RequestDurationBuckets() {
  return {0.005, 0.025, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 1.0, 1.25, 1.5, 2,
          3,     4,     5,    6,   8,   10,  15,  20,  30,  45,   60};
}

void MetricsWriter::Family(const std::string& name, const std::string& type,
                           const std::string& help) {
  text_ += "# HELP " + name + " " + help + "\n";
  text_ += "# TYPE " + name + " " + type + "\n";
}

void MetricsWriter::Sample(const std::string& name, const Labels& labels,
                           double value) {
  text_ += name + FormatLabels(labels) + " " + FormatValue(value) + "\n";
}

void MetricsWriter::HistogramSamples(const std::string& name,
                                     const Labels& labels,
                                     const Histogram& histogram) {
  int64_t cumulative = 0;
  for (size_t i = 0; i <= histogram.bounds.size(); ++i) {
    if (i < histogram.bucket_counts.size()) {
      cumulative += histogram.bucket_counts[i];
    }
    Labels bucket_labels = labels;
    bucket_labels.emplace_back("le", i < histogram.bounds.size()
                                         ? FormatValue(histogram.bounds[i])
                                         : "+Inf");
    Sample(name + "_bucket", bucket_labels, static_cast<double>(cumulative));
  }
  Sample(name + "_sum", labels, histogram.sum);
  Sample(name + "_count", labels, static_cast<double>(histogram.count));
}

void RequestMetrics::Record(const std::string& verb,
                            const std::string& resource,
                            const std::string& scope, int code,
                            double seconds) {
  std::lock_guard<std::mutex> lock(mu_);
  ++counts_[{verb, resource, scope, code}];
  Histogram& histogram = durations_[{verb, resource, scope}];
  if (histogram.bounds.empty()) histogram.bounds = RequestDurationBuckets();
  histogram.Observe(seconds);
}

void RequestMetrics::Write(MetricsWriter& writer) const {
  std::lock_guard<std::mutex> lock(mu_);
  writer.Family("apiserver_request_total", "counter",
                "Counter of apiserver requests broken out for each verb, "
                "group, version, resource, scope, component, and HTTP "
                "response code.");
  for (const auto& [key, count] : counts_) {
    const auto& [verb, resource, scope, code] = key;
    Labels labels = RequestLabels(verb, resource, scope);
    labels.insert(labels.begin(), {"code", std::to_string(code)});
    writer.Sample("apiserver_request_total", labels,
                  static_cast<double>(count));
  }
  writer.Family("apiserver_request_duration_seconds", "histogram",
                "Response latency distribution in seconds for each verb, "
                "group, version, resource, scope and component.");
  for (const auto& [key, histogram] : durations_) {
    const auto& [verb, resource, scope] = key;
    writer.HistogramSamples("apiserver_request_duration_seconds",
                            RequestLabels(verb, resource, scope), histogram);
  }
}

}  // namespace apiserver
