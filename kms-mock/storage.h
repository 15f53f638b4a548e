// Private to kms-mock: a KeyService's records in RocksDB.
//
// Layout, one JSON value per record:
//   i/<instance id>  the instance and its creation sequence
//   k/<key id>       the key: metadata, states, timestamps and the material
//                    of every version (base64)
//   r/<key id>       the registrations of the key, as an array
// Times are integer nanoseconds since the Unix epoch.
#ifndef KMS_MOCK_STORAGE_H_
#define KMS_MOCK_STORAGE_H_

#include <memory>
#include <string>

#include "base/status.h"
#include "kms-mock/kms_internal.h"

namespace rocksdb {
class DB;
}

namespace kms::internal {

class KeyStore {
 public:
  // Opens (creating when missing) the database in `data_dir`. With `sync`,
  // Write syncs each batch to disk before it returns.
  static base::StatusOr<std::unique_ptr<KeyStore>> Open(
      const std::string& data_dir, bool sync = true);
  ~KeyStore();

  // Reads every record into `state`, which must be empty.
  base::Status Load(ServiceState& state);

  // Writes the records in `dirty` from `state` as one synced batch.
  // REQUIRES: state.mu held.
  base::Status Write(const ServiceState& state, const DirtySet& dirty);

 private:
  KeyStore(std::unique_ptr<rocksdb::DB> db, bool sync);

  std::unique_ptr<rocksdb::DB> db_;
  const bool sync_;
};

}  // namespace kms::internal

#endif  // KMS_MOCK_STORAGE_H_
