// The key state table, cell by cell: every operation on a key in every
// state, through the library and through the Key Protect API. An allowed
// operation must move the key to the listed state. A rejected one must
// return the listed reason code (and HTTP status) and leave the key as it
// was. The time rules (the 30-second guards, the 30-day restore window, the
// 4-hour purge delay, expiry and the 7-day deletion authorization) are
// driven by the simulated clock alone.
#include <gtest/gtest.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/crypto.h"
#include "base/random.h"
#include "kms-mock/api.h"
#include "kms-mock/kms.h"

namespace kms {
namespace {

using Json = nlohmann::json;
using std::chrono::days;
using std::chrono::hours;
using std::chrono::seconds;

const base::Time kStart = base::Time(
    std::chrono::sys_days{std::chrono::year{2026} / std::chrono::January / 1});

constexpr char kInstance[] = "inst-1";
constexpr char kCrn[] = "crn:v1:bluemix:public:containers-kubernetes:c1";

enum class Op {
  kWrap,
  kUnwrap,
  kRewrap,
  kRotate,
  kDisable,
  kEnable,
  kSetForDeletion,
  kUnsetForDeletion,
  kDelete,
  kRestore,
  kPurge,
};

constexpr Op kAllOps[] = {
    Op::kWrap,    Op::kUnwrap,  Op::kRewrap,         Op::kRotate,
    Op::kDisable, Op::kEnable,  Op::kSetForDeletion, Op::kUnsetForDeletion,
    Op::kDelete,  Op::kRestore, Op::kPurge,
};

std::string OpName(Op op) {
  switch (op) {
    case Op::kWrap:
      return "wrap";
    case Op::kUnwrap:
      return "unwrap";
    case Op::kRewrap:
      return "rewrap";
    case Op::kRotate:
      return "rotate";
    case Op::kDisable:
      return "disable";
    case Op::kEnable:
      return "enable";
    case Op::kSetForDeletion:
      return "setKeyForDeletion";
    case Op::kUnsetForDeletion:
      return "unsetKeyForDeletion";
    case Op::kDelete:
      return "delete";
    case Op::kRestore:
      return "restore";
    case Op::kPurge:
      return "purge";
  }
  return "unknown";
}

// The expected outcome of one cell: a new state (nullopt for a purged key)
// or a reason code.
struct Outcome {
  bool ok = false;
  std::optional<KeyState> state;  // after an allowed operation
  std::string reason;             // of a rejected operation

  static Outcome Moves(KeyState to) { return {true, to, ""}; }
  static Outcome Gone() { return {true, std::nullopt, ""}; }
  static Outcome Rejects(std::string_view reason) {
    return {false, std::nullopt, std::string(reason)};
  }
};

int HttpStatusOfReason(const std::string& reason) {
  if (reason == kReasonKeyDeleted) return 410;
  if (reason == kReasonRestoreExpired) return 400;
  return 409;  // the other state and time errors
}

// The HTTP status of an allowed operation, as Key Protect returns it
// without a Prefer header.
int HttpStatusOfSuccess(Op op) {
  switch (op) {
    case Op::kWrap:
    case Op::kUnwrap:
    case Op::kRewrap:
    case Op::kPurge:
      return 200;
    case Op::kRestore:
      return 201;
    default:
      return 204;
  }
}

// A key brought into one state, with what the operations need.
struct Prepared {
  std::string id;
  std::string ciphertext;  // wrapped while the key was Active
};

class StateTableTest : public ::testing::Test {
 protected:
  StateTableTest()
      : api_(service_, clock_, {{"manager", {Role::kManager, {}}}}) {
    EXPECT_TRUE(
        service_.CreateInstance("i", InstanceType::kKeyProtect, kInstance)
            .ok());
  }

  // Creates a key and brings it into `state` by the lifecycle itself. The
  // clock is then past every guard of the last change: 31 seconds after a
  // disable, 5 hours after a delete.
  Prepared Prepare(KeyState state, CreateKeyRequest request = {}) {
    if (request.name.empty()) request.name = "k";
    if (state == KeyState::kDeactivated) {
      request.expiration = clock_.Now() + hours(1);
    }
    Prepared out;
    base::StatusOr<Key> key = service_.CreateKey(kInstance, request);
    EXPECT_TRUE(key.ok()) << key.status();
    if (!key.ok()) return out;
    out.id = key->id;
    out.ciphertext = service_.Wrap(kInstance, out.id, {})->ciphertext;

    switch (state) {
      case KeyState::kSuspended:
        EXPECT_TRUE(service_.Disable(kInstance, out.id).ok());
        clock_.Advance(seconds(31));
        break;
      case KeyState::kDeactivated:
        // Deactivation comes within an hour after the expiration.
        clock_.Advance(hours(2));
        break;
      case KeyState::kDestroyed:
        EXPECT_TRUE(service_.Delete(kInstance, out.id).ok());
        clock_.Advance(hours(5));
        break;
      default:
        break;
    }
    EXPECT_EQ(StateOf(out.id), state) << "preparing " << KeyStateName(state);
    return out;
  }

  std::optional<KeyState> StateOf(const std::string& id) {
    base::StatusOr<Key> key = service_.GetKey(kInstance, id);
    if (!key.ok()) return std::nullopt;
    return key->state;
  }

  // Everything a rejected operation must leave as it was.
  std::string Fingerprint(const std::string& id) {
    base::StatusOr<Key> key = service_.GetKey(kInstance, id);
    if (!key.ok()) return "absent";
    return std::string(KeyStateName(key->state)) + " versions " +
           std::to_string(key->versions.size()) + " updated " +
           base::FormatRfc3339(key->last_update_date) + " authorized " +
           (key->dual_auth_authorized_until
                ? base::FormatRfc3339(*key->dual_auth_authorized_until)
                : "no") +
           " registrations " +
           std::to_string(service_.ListRegistrations(kInstance, id).size());
  }

  // Runs `op` through the library; returns the reason code, empty on
  // success.
  std::string RunInProcess(Op op, const Prepared& key) {
    base::Status status;
    switch (op) {
      case Op::kWrap:
        status = service_.Wrap(kInstance, key.id, {}).status();
        break;
      case Op::kUnwrap:
        status = service_.Unwrap(kInstance, key.id, key.ciphertext).status();
        break;
      case Op::kRewrap:
        status = service_.Rewrap(kInstance, key.id, key.ciphertext).status();
        break;
      case Op::kRotate:
        status = service_.Rotate(kInstance, key.id).status();
        break;
      case Op::kDisable:
        status = service_.Disable(kInstance, key.id);
        break;
      case Op::kEnable:
        status = service_.Enable(kInstance, key.id);
        break;
      case Op::kSetForDeletion:
        status = service_.SetKeyForDeletion(kInstance, key.id);
        break;
      case Op::kUnsetForDeletion:
        status = service_.UnsetKeyForDeletion(kInstance, key.id);
        break;
      case Op::kDelete:
        status = service_.Delete(kInstance, key.id).status();
        break;
      case Op::kRestore:
        status = service_.Restore(kInstance, key.id).status();
        break;
      case Op::kPurge:
        status = service_.Purge(kInstance, key.id);
        break;
    }
    return status.ok() ? "" : status.reason();
  }

  // Runs `op` through the Key Protect API as the Node SDK sends it.
  HttpResponse RunOverApi(Op op, const Prepared& key) {
    std::string path = "/api/v2/keys/" + key.id;
    HttpRequest request{"POST", path + "/actions/" + OpName(op), {}, ""};
    switch (op) {
      case Op::kUnwrap:
      case Op::kRewrap:
        request.body =
            Json{{"ciphertext", base::Base64Encode(key.ciphertext)}}.dump();
        break;
      case Op::kDelete:
        request.method = "DELETE";
        request.target = path;
        break;
      case Op::kRestore:
        request.target = path + "/restore";
        break;
      case Op::kPurge:
        request.method = "DELETE";
        request.target = path + "/purge";
        break;
      default:
        break;
    }
    request.headers["authorization"] = "Bearer manager";
    request.headers["bluemix-instance"] = kInstance;
    request.headers["content-type"] =
        "application/vnd.ibm.kms.key_action_" + OpName(op) + "+json";
    return api_.Handle(request);
  }

  // Checks one cell in process and over the API, each on a fresh key.
  void ExpectCell(KeyState from, Op op, const Outcome& expected,
                  CreateKeyRequest request = {}) {
    std::string cell =
        std::string(KeyStateName(from)) + " --" + OpName(op) + "-->";
    {
      Prepared key = Prepare(from, request);
      std::string before = Fingerprint(key.id);

      std::string reason = RunInProcess(op, key);

      if (expected.ok) {
        EXPECT_EQ(reason, "") << cell << " in process";
        EXPECT_EQ(StateOf(key.id), expected.state) << cell << " in process";
      } else {
        EXPECT_EQ(reason, expected.reason) << cell << " in process";
        EXPECT_EQ(Fingerprint(key.id), before) << cell << " in process";
      }
    }
    {
      Prepared key = Prepare(from, request);
      std::string before = Fingerprint(key.id);

      HttpResponse response = RunOverApi(op, key);

      if (expected.ok) {
        EXPECT_EQ(response.status, HttpStatusOfSuccess(op))
            << cell << " over the API: " << response.body;
        EXPECT_EQ(StateOf(key.id), expected.state) << cell << " over the API";
      } else {
        EXPECT_EQ(response.status, HttpStatusOfReason(expected.reason))
            << cell << " over the API: " << response.body;
        Json body = Json::parse(response.body, nullptr, false);
        ASSERT_FALSE(body.is_discarded()) << cell << ": " << response.body;
        EXPECT_EQ(body["resources"][0]["reasons"][0]["code"], expected.reason)
            << cell << " over the API";
        EXPECT_EQ(Fingerprint(key.id), before) << cell << " over the API";
      }
    }
  }

  void ExpectRow(KeyState from, const std::vector<Outcome>& outcomes,
                 CreateKeyRequest request = {}) {
    ASSERT_EQ(outcomes.size(), std::size(kAllOps));
    for (size_t i = 0; i < outcomes.size(); ++i) {
      ExpectCell(from, kAllOps[i], outcomes[i], request);
    }
  }

  base::SimulatedClock clock_{kStart};
  base::SeededRandom random_{11};
  KeyService service_{clock_, random_};
  KeyProtectApi api_;
};

const Outcome kInvalid = Outcome::Rejects(kReasonInvalidState);
const Outcome kDeleted = Outcome::Rejects(kReasonKeyDeleted);
const Outcome kNotDualAuth = Outcome::Rejects(kReasonNotDualAuth);

// Columns in the order of kAllOps: wrap, unwrap, rewrap, rotate, disable,
// enable, setKeyForDeletion, unsetKeyForDeletion, delete, restore, purge.

TEST_F(StateTableTest, ActiveRow) {
  const Outcome stays = Outcome::Moves(KeyState::kActive);
  ExpectRow(KeyState::kActive,
            {stays, stays, stays, stays, Outcome::Moves(KeyState::kSuspended),
             kInvalid, kNotDualAuth, kNotDualAuth,
             Outcome::Moves(KeyState::kDestroyed), kInvalid, kInvalid});
}

TEST_F(StateTableTest, SuspendedRow) {
  ExpectRow(KeyState::kSuspended,
            {kInvalid, kInvalid, kInvalid, kInvalid, kInvalid,
             Outcome::Moves(KeyState::kActive), kInvalid, kInvalid,
             Outcome::Moves(KeyState::kDestroyed), kInvalid, kInvalid});
}

TEST_F(StateTableTest, DeactivatedRow) {
  ExpectRow(
      KeyState::kDeactivated,
      {kInvalid, kInvalid, kInvalid, kInvalid, kInvalid, kInvalid, kInvalid,
       kInvalid, Outcome::Moves(KeyState::kDestroyed), kInvalid, kInvalid});
}

TEST_F(StateTableTest, DestroyedRow) {
  ExpectRow(
      KeyState::kDestroyed,
      {kDeleted, kDeleted, kDeleted, kDeleted, kDeleted, kDeleted, kDeleted,
       kDeleted, kDeleted, Outcome::Moves(KeyState::kActive), Outcome::Gone()});
}

TEST_F(StateTableTest, DualAuthActiveRow) {
  const Outcome stays = Outcome::Moves(KeyState::kActive);
  ExpectRow(KeyState::kActive,
            {stays, stays, stays, stays, Outcome::Moves(KeyState::kSuspended),
             kInvalid, stays, stays,
             Outcome::Rejects(kReasonAuthorizationsNotMet), kInvalid, kInvalid},
            {.name = "dual", .dual_auth_delete = true});
}

TEST_F(StateTableTest, RestoreReturnsEachPreviousState) {
  for (KeyState state :
       {KeyState::kActive, KeyState::kSuspended, KeyState::kDeactivated}) {
    Prepared key = Prepare(state);
    ASSERT_TRUE(service_.Delete(kInstance, key.id).ok());
    clock_.Advance(seconds(31));

    base::StatusOr<Key> restored = service_.Restore(kInstance, key.id);

    ASSERT_TRUE(restored.ok()) << KeyStateName(state) << restored.status();
    EXPECT_EQ(restored->state, state);
  }
}

// --- Time rules, each at both sides of its boundary ---

TEST_F(StateTableTest, EnableGuardEndsThirtySecondsAfterDisable) {
  Prepared key = Prepare(KeyState::kActive);
  ASSERT_TRUE(service_.Disable(kInstance, key.id).ok());
  clock_.Advance(seconds(29));
  std::string before = Fingerprint(key.id);

  EXPECT_EQ(RunInProcess(Op::kEnable, key), kReasonTooEarly);
  HttpResponse early = RunOverApi(Op::kEnable, key);
  EXPECT_EQ(early.status, 409);
  EXPECT_EQ(Fingerprint(key.id), before);
  clock_.Advance(seconds(1));

  EXPECT_EQ(RunInProcess(Op::kEnable, key), "");
  EXPECT_EQ(StateOf(key.id), KeyState::kActive);
}

TEST_F(StateTableTest, RestoreGuardEndsThirtySecondsAfterDelete) {
  Prepared key = Prepare(KeyState::kActive);
  ASSERT_TRUE(service_.Delete(kInstance, key.id).ok());
  clock_.Advance(seconds(29));
  std::string before = Fingerprint(key.id);

  EXPECT_EQ(RunInProcess(Op::kRestore, key), kReasonTooEarly);
  EXPECT_EQ(RunOverApi(Op::kRestore, key).status, 409);
  EXPECT_EQ(Fingerprint(key.id), before);
  clock_.Advance(seconds(1));

  EXPECT_EQ(RunInProcess(Op::kRestore, key), "");
  EXPECT_EQ(StateOf(key.id), KeyState::kActive);
}

TEST_F(StateTableTest, RestoreWindowClosesThirtyDaysAfterDelete) {
  Prepared open = Prepare(KeyState::kActive);
  Prepared closed = Prepare(KeyState::kActive);
  ASSERT_TRUE(service_.Delete(kInstance, open.id).ok());
  ASSERT_TRUE(service_.Delete(kInstance, closed.id).ok());
  clock_.Advance(days(30) - seconds(1));

  EXPECT_EQ(RunInProcess(Op::kRestore, open), "");
  clock_.Advance(seconds(1));
  std::string before = Fingerprint(closed.id);

  EXPECT_EQ(RunInProcess(Op::kRestore, closed), kReasonRestoreExpired);
  HttpResponse late = RunOverApi(Op::kRestore, closed);
  EXPECT_EQ(late.status, 400);
  EXPECT_EQ(Fingerprint(closed.id), before);
  // A key past its restore window can still be purged.
  EXPECT_EQ(RunInProcess(Op::kPurge, closed), "");
  EXPECT_EQ(StateOf(closed.id), std::nullopt);
}

TEST_F(StateTableTest, PurgeOpensFourHoursAfterDelete) {
  Prepared key = Prepare(KeyState::kActive);
  ASSERT_TRUE(service_.Delete(kInstance, key.id).ok());
  clock_.Advance(hours(4) - seconds(1));
  std::string before = Fingerprint(key.id);

  EXPECT_EQ(RunInProcess(Op::kPurge, key), kReasonTooEarly);
  EXPECT_EQ(RunOverApi(Op::kPurge, key).status, 409);
  EXPECT_EQ(Fingerprint(key.id), before);
  clock_.Advance(seconds(1));

  EXPECT_EQ(RunOverApi(Op::kPurge, key).status, 200);
  EXPECT_EQ(StateOf(key.id), std::nullopt);
  EXPECT_EQ(RunInProcess(Op::kRestore, key), kReasonKeyNotFound);
}

TEST_F(StateTableTest, ExpiryDeactivatesWithinAnHourOnClockOnly) {
  base::Time expiration = kStart + days(2);
  base::StatusOr<Key> key = service_.CreateKey(
      kInstance, {.name = "expiring", .expiration = expiration});
  ASSERT_TRUE(key.ok());

  clock_.AdvanceTo(expiration - seconds(1));
  EXPECT_EQ(StateOf(key->id), KeyState::kActive);
  clock_.AdvanceTo(expiration + hours(1));

  EXPECT_EQ(StateOf(key->id), KeyState::kDeactivated);
}

// --- Protection and dual authorization ---

TEST_F(StateTableTest, RegistrationProtectsEveryLiveState) {
  for (KeyState state :
       {KeyState::kActive, KeyState::kSuspended, KeyState::kDeactivated}) {
    Prepared key = Prepare(state);
    ASSERT_TRUE(
        service_.Register({kInstance, key.id, kCrn, "", true, {}}).ok());
    std::string before = Fingerprint(key.id);

    EXPECT_EQ(RunInProcess(Op::kDelete, key), kReasonProtectedResource)
        << KeyStateName(state);
    HttpResponse response = RunOverApi(Op::kDelete, key);
    EXPECT_EQ(response.status, 409) << KeyStateName(state);
    EXPECT_EQ(Fingerprint(key.id), before) << KeyStateName(state);

    ASSERT_TRUE(service_.Delete(kInstance, key.id, /*force=*/true).ok());
    EXPECT_EQ(StateOf(key.id), KeyState::kDestroyed);
    EXPECT_TRUE(service_.ListRegistrations(kInstance, key.id).empty());
  }
}

TEST_F(StateTableTest, DualAuthDeleteFollowsAuthorization) {
  CreateKeyRequest dual = {.name = "dual", .dual_auth_delete = true};

  Prepared authorized = Prepare(KeyState::kActive, dual);
  EXPECT_EQ(RunInProcess(Op::kSetForDeletion, authorized), "");
  EXPECT_EQ(RunInProcess(Op::kDelete, authorized), "");
  EXPECT_EQ(StateOf(authorized.id), KeyState::kDestroyed);

  Prepared withdrawn = Prepare(KeyState::kActive, dual);
  EXPECT_EQ(RunInProcess(Op::kSetForDeletion, withdrawn), "");
  EXPECT_EQ(RunInProcess(Op::kUnsetForDeletion, withdrawn), "");
  EXPECT_EQ(RunInProcess(Op::kDelete, withdrawn), kReasonAuthorizationsNotMet);
  EXPECT_EQ(StateOf(withdrawn.id), KeyState::kActive);

  Prepared lapsed = Prepare(KeyState::kActive, dual);
  EXPECT_EQ(RunInProcess(Op::kSetForDeletion, lapsed), "");
  clock_.Advance(days(7));
  EXPECT_EQ(RunInProcess(Op::kDelete, lapsed), kReasonAuthorizationsNotMet);
  EXPECT_EQ(StateOf(lapsed.id), KeyState::kActive);

  // Over the API: set for deletion, then delete, as the Node SDK does.
  Prepared over_api = Prepare(KeyState::kActive, dual);
  EXPECT_EQ(RunOverApi(Op::kDelete, over_api).status, 409);
  EXPECT_EQ(RunOverApi(Op::kSetForDeletion, over_api).status, 204);
  EXPECT_EQ(RunOverApi(Op::kDelete, over_api).status, 204);
  EXPECT_EQ(StateOf(over_api.id), KeyState::kDestroyed);
}

TEST_F(StateTableTest, DeletionAuthorizationHoldsJustUnderSevenDays) {
  Prepared key =
      Prepare(KeyState::kActive, {.name = "dual", .dual_auth_delete = true});
  EXPECT_EQ(RunInProcess(Op::kSetForDeletion, key), "");
  clock_.Advance(days(7) - seconds(1));

  EXPECT_EQ(RunInProcess(Op::kDelete, key), "");
  EXPECT_EQ(StateOf(key.id), KeyState::kDestroyed);
}

}  // namespace
}  // namespace kms
