// Metrics of the API server in the Prometheus text exposition format
// (version 0.0.4), served at /metrics.
//
// Histogram is a value type that a component fills and copies out;
// RequestMetrics counts REST requests and is thread-safe; MetricsWriter
// renders families of samples.
//
// Metric names follow kube-apiserver's where it has them:
//   apiserver_request_total{verb,group,version,resource,scope,component,code}
//   apiserver_request_duration_seconds{verb,group,version,resource,scope,
//     component} (histogram)
//   apiserver_envelope_encryption_kms_operations_latency_seconds{
//     provider_name,method_name,grpc_status_code} (histogram; its _count is
//     the number of KMS calls by operation and result)
// and two counters that upstream does not have:
//   apiserver_envelope_encryption_dek_cache_hits_total{provider_name}
//   apiserver_envelope_encryption_dek_cache_misses_total{provider_name}
#ifndef APISERVER_METRICS_H_
#define APISERVER_METRICS_H_

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

namespace apiserver {

// A Prometheus histogram: counts of observations at or below each upper
// bound, plus their sum and count.
struct Histogram {
  // REQUIRES: ascending. An implicit +Inf bucket follows the last bound.
  std::vector<double> bounds;
  // bucket_counts[i] counts observations in (bounds[i-1], bounds[i]];
  // the last element counts those above every bound.
  std::vector<int64_t> bucket_counts;
  double sum = 0;
  int64_t count = 0;

  void Observe(double value);
};

// `count` bounds start, start*factor, start*factor^2, ...
std::vector<double> ExponentialBuckets(double start, double factor, int count);
// The bounds of kube-apiserver's request duration histogram, in seconds.
std::vector<double> RequestDurationBuckets();

using Labels = std::vector<std::pair<std::string, std::string>>;

class MetricsWriter {
 public:
  // Starts a family: "# HELP <name> <help>" and "# TYPE <name> <type>".
  // Call once per name, before its samples.
  void Family(const std::string& name, const std::string& type,
              const std::string& help);
  void Sample(const std::string& name, const Labels& labels, double value);
  // Writes <name>_bucket{...,le="..."} lines, <name>_sum and <name>_count.
  void HistogramSamples(const std::string& name, const Labels& labels,
                        const Histogram& histogram);

  const std::string& text() const { return text_; }

 private:
  std::string text_;
};

// Counts and times REST requests, as upstream's apiserver_request_* metrics.
class RequestMetrics {
 public:
  // `verb` is upstream's: GET, LIST, WATCH, POST, PUT, PATCH, DELETE or
  // DELETECOLLECTION. `resource` is empty for paths outside /api/v1, and
  // `scope` is "resource", "namespace", "cluster" or "" likewise.
  void Record(const std::string& verb, const std::string& resource,
              const std::string& scope, int code, double seconds);
  void Write(MetricsWriter& writer) const;

 private:
  using Key = std::tuple<std::string, std::string, std::string>;

  mutable std::mutex mu_;
  std::map<std::tuple<std::string, std::string, std::string, int>, int64_t>
      counts_;                          // guarded by mu_
  std::map<Key, Histogram> durations_;  // guarded by mu_
};

}  // namespace apiserver

#endif  // APISERVER_METRICS_H_
