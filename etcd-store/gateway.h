// Gateway: an HTTP server for a Store that speaks etcd 3.4's v3 JSON gateway
// (the grpc-gateway that etcd serves on its client port), so that etcd JSON
// clients and curl scripts work against the simulator unchanged.
//
// Endpoints (all POST): /v3/kv/{range,put,deleterange,txn,compaction},
// /v3/lease/{grant,revoke,timetolive,leases}, the streaming
// /v3/lease/keepalive and /v3/watch. Bodies follow etcd's JSON mapping:
// snake_case names, int64 as strings, bytes as base64, enums by name, zero
// values left out, and errors as {"error","code","message"} with
// grpc-gateway's HTTP statuses.
//
// The streaming endpoints handle each JSON message of the request body as
// it arrives, so a client may keep a chunked body open and add watch or
// cancel requests later. Replies to each message go out at once; etcd 3.4
// does that for a body that is still open only when the client sent
// "Expect: 100-continue".
//
// Thread-safe. The Store must outlive the Gateway.
#ifndef ETCD_STORE_GATEWAY_H_
#define ETCD_STORE_GATEWAY_H_

#include <cstdint>
#include <memory>
#include <string>

#include "base/status.h"
#include "etcd-store/store.h"

namespace etcd {

struct GatewayOptions {
  std::string address = "127.0.0.1";
  uint16_t port = 0;  // 0: any free port; see Gateway::port()
  // Written into every top-level response header. The defaults are the ids
  // of a single-member etcd 3.4 started with default flags. Such a member
  // reports raft_term 2 after its first election.
  uint64_t cluster_id = 14841639068965178418u;
  uint64_t member_id = 10276657743932975437u;
  uint64_t raft_term = 2;
  // The largest request body read. etcd's gateway reads a body of any size
  // and then rejects a request over its gRPC limit (2 MiB encoded), so this
  // only needs to exceed the JSON form of such a request, whose bytes grow
  // by a third in base64. A larger body closes the connection.
  size_t max_body_bytes = 64 * 1024 * 1024;
  // Response bytes a stream may have waiting for a client that does not
  // read before the gateway closes it.
  size_t max_stream_queue_bytes = 16 * 1024 * 1024;
  // Seconds a connection may take to send a request before it is closed.
  // This is a socket timeout on the real clock, not the simulated one.
  int read_timeout_seconds = 60;
  // Threads that run the network I/O.
  int threads = 2;
  // Threads that run unary store calls, which block until a write is
  // synced. Concurrent writes share one sync, so this is also the largest
  // number of writes that can share one.
  int store_threads = 64;
};

class Gateway {
 public:
  // Binds, listens and starts serving on background threads. Fails with
  // kUnavailable when the address cannot be bound.
  static base::StatusOr<std::unique_ptr<Gateway>> Start(
      Store& store, const GatewayOptions& options);

  // Stops serving: closes the listener and every connection, cancels their
  // watches and joins the threads.
  virtual ~Gateway() = default;

  // The bound port.
  virtual uint16_t port() const = 0;
};

}  // namespace etcd

#endif  // ETCD_STORE_GATEWAY_H_
