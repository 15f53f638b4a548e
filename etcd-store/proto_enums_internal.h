// Private to etcd-store: the names of etcd's v3 protobuf enums, indexed by
// their numbers, as the JSON gateway writes and reads them. Both the
// gateway (gateway_decode.cc, gateway_json.cc) and the client of a real
// etcd (remote_json.cc) use them. The Store's enums (store.h) have the same
// numbers, which the static_asserts below check.
#ifndef ETCD_STORE_PROTO_ENUMS_INTERNAL_H_
#define ETCD_STORE_PROTO_ENUMS_INTERNAL_H_

#include <array>
#include <string_view>

#include "etcd-store/store.h"

namespace etcd::proto_enums {

// etcdserverpb.RangeRequest.SortOrder
inline constexpr std::array<std::string_view, 3> kSortOrders = {
    "NONE", "ASCEND", "DESCEND"};
// etcdserverpb.RangeRequest.SortTarget
inline constexpr std::array<std::string_view, 5> kSortTargets = {
    "KEY", "VERSION", "CREATE", "MOD", "VALUE"};
// etcdserverpb.Compare.CompareResult
inline constexpr std::array<std::string_view, 4> kCompareResults = {
    "EQUAL", "GREATER", "LESS", "NOT_EQUAL"};
// etcdserverpb.Compare.CompareTarget
inline constexpr std::array<std::string_view, 5> kCompareTargets = {
    "VERSION", "CREATE", "MOD", "VALUE", "LEASE"};
// etcdserverpb.WatchCreateRequest.FilterType
inline constexpr std::array<std::string_view, 2> kFilterTypes = {"NOPUT",
                                                                 "NODELETE"};
// mvccpb.Event.EventType
inline constexpr std::array<std::string_view, 2> kEventTypes = {"PUT",
                                                                "DELETE"};

static_assert(static_cast<int>(SortOrder::kAscend) == 1);
static_assert(static_cast<int>(SortOrder::kDescend) == 2);
static_assert(static_cast<int>(SortTarget::kVersion) == 1);
static_assert(static_cast<int>(SortTarget::kCreate) == 2);
static_assert(static_cast<int>(SortTarget::kMod) == 3);
static_assert(static_cast<int>(SortTarget::kValue) == 4);
static_assert(static_cast<int>(Compare::Result::kGreater) == 1);
static_assert(static_cast<int>(Compare::Result::kLess) == 2);
static_assert(static_cast<int>(Compare::Result::kNotEqual) == 3);
static_assert(static_cast<int>(Compare::Target::kCreate) == 1);
static_assert(static_cast<int>(Compare::Target::kMod) == 2);
static_assert(static_cast<int>(Compare::Target::kValue) == 3);
static_assert(static_cast<int>(Compare::Target::kLease) == 4);
static_assert(static_cast<int>(Event::Type::kDelete) == 1);

}  // namespace etcd::proto_enums

#endif  // ETCD_STORE_PROTO_ENUMS_INTERNAL_H_
