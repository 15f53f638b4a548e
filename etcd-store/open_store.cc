// OpenStore: picks the Store implementation that a URL names.
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "etcd-store/store.h"

namespace etcd {
namespace {

constexpr std::string_view kRocksDbScheme = "rocksdb://";
constexpr std::string_view kEtcdScheme = "etcd://";

std::vector<std::string> SplitCommas(std::string_view text) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (true) {
    size_t comma = text.find(',', start);
    parts.emplace_back(text.substr(start, comma - start));
    if (comma == std::string_view::npos) return parts;
    start = comma + 1;
  }
}

base::Status InvalidUrl(const std::string& url, const std::string& why) {
  return base::InvalidArgumentError(
      "etcd-store: invalid store URL \"" + url + "\": " + why +
      "; expected rocksdb:///path or etcd://host:port[,host:port...]");
}

}  // namespace

base::StatusOr<std::unique_ptr<Store>> OpenStore(const std::string& url,
                                                 base::Clock& clock) {
  std::string_view text = url;
  if (text.starts_with(kRocksDbScheme)) {
    std::string path(text.substr(kRocksDbScheme.size()));
    if (path.empty()) return InvalidUrl(url, "the path is empty");
    return OpenRocksDbStore(path, clock);
  }
  if (text.starts_with(kEtcdScheme)) {
    EtcdClientOptions options;
    options.endpoints = SplitCommas(text.substr(kEtcdScheme.size()));
    for (const std::string& endpoint : options.endpoints) {
      if (endpoint.empty()) return InvalidUrl(url, "an endpoint is empty");
    }
    return OpenEtcdStore(options);
  }
  if (text.find("://") != std::string_view::npos) {
    return InvalidUrl(url, "unknown scheme");
  }
  if (text.empty()) return InvalidUrl(url, "the URL is empty");
  return OpenRocksDbStore(url, clock);
}

}  // namespace etcd
