#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "base/clock.h"
#include "base/random.h"
#include "kms-mock/kms.h"

namespace kms {
namespace {

using std::chrono::days;
using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::seconds;

const base::Time kStart = base::Time(
    std::chrono::sys_days{std::chrono::year{2026} / std::chrono::January / 1});

// A clock whose timers never fire, to check the state that lazy evaluation
// computes on access.
class TimerlessClock : public base::Clock {
 public:
  base::Time Now() const override { return now_; }
  TimerId ScheduleAt(base::Time, std::function<void()>) override {
    return ++scheduled_;
  }
  bool Cancel(TimerId) override { return true; }
  void Advance(base::Duration d) { now_ += d; }

 private:
  base::Time now_ = kStart;
  TimerId scheduled_ = 0;
};

template <typename T>
std::string Reason(const base::StatusOr<T>& result) {
  return result.status().reason();
}
std::string Reason(const base::Status& status) { return status.reason(); }

class KeyServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    instance_ = service_.CreateInstance("test", InstanceType::kKeyProtect)->id;
    service_.Subscribe([this](const KeyEvent& e) { events_.push_back(e); });
  }

  std::string NewRootKey(CreateKeyRequest request = {}) {
    if (request.name.empty()) request.name = "root";
    base::StatusOr<Key> key = service_.CreateKey(instance_, request);
    EXPECT_TRUE(key.ok()) << key.status();
    return key.ok() ? key->id : "";
  }

  KeyState StateOf(const std::string& key_id) {
    return service_.GetKey(instance_, key_id)->state;
  }

  std::vector<std::string> EventNames() {
    std::vector<std::string> out;
    for (const KeyEvent& e : events_) {
      out.emplace_back(KeyEventTypeName(e.type));
    }
    return out;
  }

  void Register(const std::string& key_id, bool prevent = true) {
    Registration r;
    r.instance_id = instance_;
    r.key_id = key_id;
    r.resource_crn = "crn:v1:bluemix:public:containers-kubernetes:c1";
    r.prevent_key_deletion = prevent;
    ASSERT_TRUE(service_.Register(r).ok());
  }

  base::SimulatedClock clock_{kStart};
  base::SeededRandom random_{7};
  KeyService service_{clock_, random_};
  std::string instance_;
  std::vector<KeyEvent> events_;
};

// --- Instances and creation ---

TEST_F(KeyServiceTest, CreatedRootKeyIsActiveWithOneVersion) {
  std::string id = NewRootKey();

  base::StatusOr<Key> key = service_.GetKey(instance_, id);

  ASSERT_TRUE(key.ok());
  EXPECT_EQ(key->state, KeyState::kActive);
  EXPECT_EQ(key->versions.size(), 1u);
  EXPECT_EQ(key->creation_date, kStart);
  EXPECT_FALSE(key->payload.has_value());
  EXPECT_FALSE(key->imported);
  EXPECT_EQ(EventNames(), std::vector<std::string>{"created"});
}

TEST_F(KeyServiceTest, StandardKeyCarriesPayload) {
  CreateKeyRequest request;
  request.name = "std";
  request.extractable = true;
  request.material = std::string(24, 'k');

  base::StatusOr<Key> key = service_.CreateKey(instance_, request);

  ASSERT_TRUE(key.ok());
  EXPECT_EQ(key->payload, std::string(24, 'k'));
  EXPECT_TRUE(key->imported);
}

TEST_F(KeyServiceTest, CreateKeyRejectsBadInput) {
  CreateKeyRequest unnamed;
  CreateKeyRequest bad_material{.name = "k", .material = std::string(20, 'x')};
  CreateKeyRequest past{.name = "k", .expiration = kStart - seconds(1)};

  EXPECT_EQ(service_.CreateKey(instance_, unnamed).status().code(),
            base::Code::kInvalidArgument);
  EXPECT_EQ(service_.CreateKey(instance_, bad_material).status().code(),
            base::Code::kInvalidArgument);
  EXPECT_EQ(service_.CreateKey(instance_, past).status().code(),
            base::Code::kInvalidArgument);
  EXPECT_EQ(service_.ListKeys(instance_)->size(), 0u);
}

TEST_F(KeyServiceTest, CreateKeyRejectsTakenIdAndUnknownInstance) {
  NewRootKey({.name = "a", .id = "fixed-id"});

  base::StatusOr<Key> again =
      service_.CreateKey(instance_, {.name = "b", .id = "fixed-id"});
  base::StatusOr<Key> nowhere = service_.CreateKey("no-such", {.name = "c"});

  EXPECT_EQ(again.status().code(), base::Code::kAlreadyExists);
  EXPECT_EQ(nowhere.status().code(), base::Code::kNotFound);
  EXPECT_EQ(Reason(nowhere), kReasonInstanceNotFound);
}

TEST_F(KeyServiceTest, CreateInstanceRejectsTakenId) {
  ASSERT_TRUE(
      service_.CreateInstance("x", InstanceType::kHyperProtect, "inst").ok());

  base::StatusOr<Instance> again =
      service_.CreateInstance("y", InstanceType::kKeyProtect, "inst");

  EXPECT_EQ(again.status().code(), base::Code::kAlreadyExists);
  EXPECT_EQ(service_.ListInstances().size(), 2u);
  EXPECT_EQ(service_.GetInstance("inst")->type, InstanceType::kHyperProtect);
}

TEST_F(KeyServiceTest, UnknownKeyIsNotFound) {
  std::string other =
      service_.CreateInstance("other", InstanceType::kKeyProtect)->id;
  std::string id = NewRootKey();

  base::StatusOr<Key> unknown = service_.GetKey(instance_, "missing");
  base::StatusOr<Key> wrong_instance = service_.GetKey(other, id);

  EXPECT_EQ(unknown.status().code(), base::Code::kNotFound);
  EXPECT_EQ(Reason(unknown), kReasonKeyNotFound);
  EXPECT_EQ(Reason(wrong_instance), kReasonKeyNotFound);
}

TEST_F(KeyServiceTest, GetKeyStateReturnsNewestVersion) {
  std::string id = NewRootKey();
  ASSERT_TRUE(service_.Rotate(instance_, id).ok());
  ASSERT_TRUE(service_.Disable(instance_, id).ok());

  base::StatusOr<KeyStateInfo> info = service_.GetKeyState(instance_, id);

  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->state, KeyState::kSuspended);
  EXPECT_EQ(info->newest_version_id,
            service_.GetKey(instance_, id)->versions.back().id);
}

TEST_F(KeyServiceTest, GetKeyStateCountsAsGetKey) {
  std::string id = NewRootKey();
  FaultSpec fault;
  fault.operation = "get_key";
  fault.nth = 2;
  ASSERT_TRUE(service_.faults().Add(fault).ok());

  base::StatusOr<KeyStateInfo> first = service_.GetKeyState(instance_, id);
  base::StatusOr<KeyStateInfo> second = service_.GetKeyState(instance_, id);
  base::StatusOr<KeyStateInfo> missing =
      service_.GetKeyState(instance_, "missing");

  EXPECT_TRUE(first.ok());
  EXPECT_EQ(Reason(second), kReasonInjectedFault);
  EXPECT_EQ(Reason(missing), kReasonKeyNotFound);
  EXPECT_EQ(service_.CallCounts()["get_key"].ok, 1);
  EXPECT_EQ(service_.CallCounts()["get_key"].failed, 2);
}

TEST_F(KeyServiceTest, ListKeysKeepsCreationOrderWithDestroyed) {
  std::string a = NewRootKey({.name = "a"});
  std::string b = NewRootKey({.name = "b"});
  ASSERT_TRUE(service_.Delete(instance_, a).ok());

  base::StatusOr<std::vector<Key>> keys = service_.ListKeys(instance_);

  ASSERT_TRUE(keys.ok());
  ASSERT_EQ(keys->size(), 2u);
  EXPECT_EQ((*keys)[0].id, a);
  EXPECT_EQ((*keys)[0].state, KeyState::kDestroyed);
  EXPECT_EQ((*keys)[1].id, b);
}

TEST(KeyNames, StatesAndTypesRoundTrip) {
  for (KeyState s :
       {KeyState::kPreActivation, KeyState::kActive, KeyState::kSuspended,
        KeyState::kDeactivated, KeyState::kDestroyed}) {
    EXPECT_EQ(ParseKeyState(KeyStateName(s)), s);
  }
  EXPECT_EQ(ParseInstanceType("hpcs"), InstanceType::kHyperProtect);
  EXPECT_EQ(ParseInstanceType("key-protect"), InstanceType::kKeyProtect);
  EXPECT_FALSE(ParseInstanceType("aws").has_value());
  EXPECT_FALSE(ParseKeyState("Gone").has_value());
}

// --- Wrap and unwrap ---

TEST_F(KeyServiceTest, WrapGeneratesDekThatUnwraps) {
  std::string id = NewRootKey();

  base::StatusOr<WrapResult> wrapped = service_.Wrap(instance_, id, {});
  ASSERT_TRUE(wrapped.ok());
  base::StatusOr<UnwrapResult> unwrapped =
      service_.Unwrap(instance_, id, wrapped->ciphertext);

  EXPECT_EQ(wrapped->plaintext.size(), 32u);
  ASSERT_TRUE(unwrapped.ok()) << unwrapped.status();
  EXPECT_EQ(unwrapped->plaintext, wrapped->plaintext);
  EXPECT_EQ(unwrapped->key_version_id, wrapped->key_version_id);
  EXPECT_FALSE(unwrapped->rewrapped_ciphertext.has_value());
}

TEST_F(KeyServiceTest, WrapKeepsSuppliedPlaintextAndAad) {
  std::string id = NewRootKey();
  std::string dek(32, 'd');
  std::vector<std::string> aad = {"cluster-1", "etcd"};

  base::StatusOr<WrapResult> wrapped = service_.Wrap(instance_, id, dek, aad);
  ASSERT_TRUE(wrapped.ok());
  base::StatusOr<UnwrapResult> unwrapped =
      service_.Unwrap(instance_, id, wrapped->ciphertext, aad);

  ASSERT_TRUE(unwrapped.ok());
  EXPECT_EQ(unwrapped->plaintext, dek);
  EXPECT_EQ(wrapped->ciphertext.find(dek), std::string::npos);
}

TEST_F(KeyServiceTest, WrapRejectsWrongPlaintextSize) {
  std::string id = NewRootKey();

  base::StatusOr<WrapResult> empty = service_.Wrap(instance_, id, "");
  base::StatusOr<WrapResult> odd = service_.Wrap(instance_, id, "12345");

  EXPECT_EQ(empty.status().code(), base::Code::kInvalidArgument);
  EXPECT_EQ(odd.status().code(), base::Code::kInvalidArgument);
}

TEST_F(KeyServiceTest, AadMismatchIsUnprocessable) {
  std::string id = NewRootKey();
  base::StatusOr<WrapResult> wrapped =
      service_.Wrap(instance_, id, {}, {"a", "b"});
  ASSERT_TRUE(wrapped.ok());

  for (const std::vector<std::string>& aad :
       std::vector<std::vector<std::string>>{
           {}, {"a"}, {"ab"}, {"b", "a"}, {"a", "b", ""}}) {
    base::StatusOr<UnwrapResult> result =
        service_.Unwrap(instance_, id, wrapped->ciphertext, aad);
    EXPECT_EQ(result.status().code(), base::Code::kInvalidArgument);
    EXPECT_EQ(Reason(result), kReasonUnprocessableCiphertext);
  }
}

TEST_F(KeyServiceTest, EveryFlippedBitIsUnprocessable) {
  std::string id = NewRootKey();
  base::StatusOr<WrapResult> wrapped = service_.Wrap(instance_, id, {});
  ASSERT_TRUE(wrapped.ok());

  for (size_t bit = 0; bit < wrapped->ciphertext.size() * 8; ++bit) {
    std::string altered = wrapped->ciphertext;
    altered[bit / 8] = static_cast<char>(altered[bit / 8] ^ (1 << (bit % 8)));
    base::StatusOr<UnwrapResult> result =
        service_.Unwrap(instance_, id, altered);
    ASSERT_EQ(result.status().code(), base::Code::kInvalidArgument)
        << "bit " << bit;
    ASSERT_EQ(Reason(result), kReasonUnprocessableCiphertext) << "bit " << bit;
  }
}

TEST_F(KeyServiceTest, TruncatedOrForeignCiphertextIsUnprocessable) {
  std::string id = NewRootKey({.name = "a"});
  std::string other = NewRootKey({.name = "b"});
  std::string ciphertext = service_.Wrap(instance_, other, {})->ciphertext;

  base::StatusOr<UnwrapResult> foreign =
      service_.Unwrap(instance_, id, ciphertext);
  base::StatusOr<UnwrapResult> truncated =
      service_.Unwrap(instance_, other, ciphertext.substr(0, 40));
  base::StatusOr<UnwrapResult> empty = service_.Unwrap(instance_, id, "");

  EXPECT_EQ(Reason(foreign), kReasonUnprocessableCiphertext);
  EXPECT_EQ(Reason(truncated), kReasonUnprocessableCiphertext);
  EXPECT_EQ(Reason(empty), kReasonUnprocessableCiphertext);
}

TEST_F(KeyServiceTest, StandardKeyCannotWrapOrRotate) {
  std::string id = NewRootKey({.name = "std", .extractable = true});

  base::StatusOr<WrapResult> wrap = service_.Wrap(instance_, id, {});
  base::StatusOr<Key> rotate = service_.Rotate(instance_, id);

  EXPECT_EQ(Reason(wrap), kReasonRootKeyRequired);
  EXPECT_EQ(wrap.status().code(), base::Code::kInvalidArgument);
  EXPECT_EQ(Reason(rotate), kReasonRootKeyRequired);
}

// --- Rotation ---

TEST_F(KeyServiceTest, RotateAddsVersionAndNewWrapsUseIt) {
  std::string id = NewRootKey();
  clock_.Advance(hours(2));

  base::StatusOr<Key> rotated = service_.Rotate(instance_, id);
  base::StatusOr<WrapResult> wrapped = service_.Wrap(instance_, id, {});

  ASSERT_TRUE(rotated.ok());
  ASSERT_EQ(rotated->versions.size(), 2u);
  EXPECT_EQ(rotated->last_rotate_date, kStart + hours(2));
  EXPECT_EQ(wrapped->key_version_id, rotated->versions[1].id);
  EXPECT_EQ(EventNames(), (std::vector<std::string>{"created", "rotated"}));
}

TEST_F(KeyServiceTest, OldVersionUnwrapsAndReturnsRewrap) {
  std::string id = NewRootKey();
  std::vector<std::string> aad = {"ctx"};
  WrapResult old = *service_.Wrap(instance_, id, {}, aad);
  Key rotated = *service_.Rotate(instance_, id);

  base::StatusOr<UnwrapResult> unwrapped =
      service_.Unwrap(instance_, id, old.ciphertext, aad);

  ASSERT_TRUE(unwrapped.ok()) << unwrapped.status();
  EXPECT_EQ(unwrapped->plaintext, old.plaintext);
  EXPECT_EQ(unwrapped->key_version_id, rotated.versions[0].id);
  EXPECT_EQ(unwrapped->rewrapped_key_version_id, rotated.versions[1].id);
  ASSERT_TRUE(unwrapped->rewrapped_ciphertext.has_value());

  base::StatusOr<UnwrapResult> again =
      service_.Unwrap(instance_, id, *unwrapped->rewrapped_ciphertext, aad);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->plaintext, old.plaintext);
  EXPECT_EQ(again->key_version_id, rotated.versions[1].id);
  EXPECT_FALSE(again->rewrapped_ciphertext.has_value());
}

TEST_F(KeyServiceTest, RewrapMovesCiphertextToNewestVersion) {
  std::string id = NewRootKey();
  WrapResult old = *service_.Wrap(instance_, id, {});
  Key rotated = *service_.Rotate(instance_, id);

  base::StatusOr<WrapResult> rewrapped =
      service_.Rewrap(instance_, id, old.ciphertext);

  ASSERT_TRUE(rewrapped.ok());
  EXPECT_EQ(rewrapped->key_version_id, rotated.versions[1].id);
  EXPECT_EQ(rewrapped->unwrapped_key_version_id, rotated.versions[0].id);
  EXPECT_EQ(rewrapped->plaintext, old.plaintext);
  EXPECT_EQ(service_.Unwrap(instance_, id, rewrapped->ciphertext)->plaintext,
            old.plaintext);
}

TEST_F(KeyServiceTest, ImportedKeyRotationNeedsPayload) {
  std::string id =
      NewRootKey({.name = "imported", .material = std::string(32, 'm')});

  base::StatusOr<Key> without = service_.Rotate(instance_, id);
  base::StatusOr<Key> bad = service_.Rotate(instance_, id, "short");
  base::StatusOr<Key> with =
      service_.Rotate(instance_, id, std::string(16, 'n'));

  EXPECT_EQ(Reason(without), kReasonPayloadRequired);
  EXPECT_EQ(bad.status().code(), base::Code::kInvalidArgument);
  ASSERT_TRUE(with.ok());
  EXPECT_EQ(with->versions.size(), 2u);
}

// --- Disable and enable ---

TEST_F(KeyServiceTest, DisabledKeyRejectsWrapUnwrapAndRotate) {
  std::string id = NewRootKey();
  WrapResult wrapped = *service_.Wrap(instance_, id, {});

  ASSERT_TRUE(service_.Disable(instance_, id).ok());

  EXPECT_EQ(StateOf(id), KeyState::kSuspended);
  base::StatusOr<WrapResult> wrap = service_.Wrap(instance_, id, {});
  base::StatusOr<UnwrapResult> unwrap =
      service_.Unwrap(instance_, id, wrapped.ciphertext);
  base::StatusOr<WrapResult> rewrap =
      service_.Rewrap(instance_, id, wrapped.ciphertext);
  base::StatusOr<Key> rotate = service_.Rotate(instance_, id);
  EXPECT_EQ(Reason(wrap), kReasonInvalidState);
  EXPECT_EQ(wrap.status().code(), base::Code::kFailedPrecondition);
  EXPECT_EQ(Reason(unwrap), kReasonInvalidState);
  EXPECT_EQ(Reason(rewrap), kReasonInvalidState);
  EXPECT_EQ(Reason(rotate), kReasonInvalidState);
}

TEST_F(KeyServiceTest, DisableSuspendedKeyIsInvalidState) {
  std::string id = NewRootKey();
  ASSERT_TRUE(service_.Disable(instance_, id).ok());

  base::Status again = service_.Disable(instance_, id);

  EXPECT_EQ(again.code(), base::Code::kFailedPrecondition);
  EXPECT_EQ(Reason(again), kReasonInvalidState);
}

TEST_F(KeyServiceTest, EnableWithin30SecondsOfDisableIsTooEarly) {
  std::string id = NewRootKey();
  ASSERT_TRUE(service_.Disable(instance_, id).ok());
  clock_.Advance(seconds(29));

  base::Status early = service_.Enable(instance_, id);

  EXPECT_EQ(early.code(), base::Code::kFailedPrecondition);
  EXPECT_EQ(Reason(early), kReasonTooEarly);
  EXPECT_EQ(StateOf(id), KeyState::kSuspended);
}

TEST_F(KeyServiceTest, EnableAfter30SecondsReactivates) {
  std::string id = NewRootKey();
  WrapResult wrapped = *service_.Wrap(instance_, id, {});
  ASSERT_TRUE(service_.Disable(instance_, id).ok());
  clock_.Advance(seconds(30));

  ASSERT_TRUE(service_.Enable(instance_, id).ok());

  EXPECT_EQ(StateOf(id), KeyState::kActive);
  EXPECT_TRUE(service_.Unwrap(instance_, id, wrapped.ciphertext).ok());
  EXPECT_EQ(EventNames(),
            (std::vector<std::string>{"created", "disabled", "enabled"}));
}

TEST_F(KeyServiceTest, EnableActiveKeyIsInvalidState) {
  std::string id = NewRootKey();

  base::Status status = service_.Enable(instance_, id);

  EXPECT_EQ(Reason(status), kReasonInvalidState);
}

// --- Delete, registrations and dual authorization ---

TEST_F(KeyServiceTest, DeleteDestroysAndSetsWindows) {
  std::string id = NewRootKey();
  clock_.Advance(minutes(5));

  base::StatusOr<Key> deleted = service_.Delete(instance_, id);

  ASSERT_TRUE(deleted.ok());
  EXPECT_EQ(deleted->state, KeyState::kDestroyed);
  EXPECT_EQ(deleted->deletion_date, kStart + minutes(5));
  EXPECT_EQ(deleted->restore_expiration_date, kStart + minutes(5) + days(30));
  EXPECT_EQ(deleted->purge_allowed_from, kStart + minutes(5) + hours(4));
}

TEST_F(KeyServiceTest, DestroyedKeyRejectsEveryUseAsDeleted) {
  std::string id = NewRootKey({.name = "k", .dual_auth_delete = false});
  WrapResult wrapped = *service_.Wrap(instance_, id, {});
  ASSERT_TRUE(service_.Delete(instance_, id).ok());

  std::vector<base::Status> results = {
      service_.Wrap(instance_, id, {}).status(),
      service_.Unwrap(instance_, id, wrapped.ciphertext).status(),
      service_.Rewrap(instance_, id, wrapped.ciphertext).status(),
      service_.Rotate(instance_, id).status(),
      service_.Disable(instance_, id),
      service_.Enable(instance_, id),
      service_.SetKeyForDeletion(instance_, id),
      service_.UnsetKeyForDeletion(instance_, id),
      service_.Delete(instance_, id).status(),
  };

  for (size_t i = 0; i < results.size(); ++i) {
    EXPECT_EQ(results[i].code(), base::Code::kNotFound) << "call " << i;
    EXPECT_EQ(results[i].reason(), kReasonKeyDeleted) << "call " << i;
  }
}

TEST_F(KeyServiceTest, RegisteredKeyIsProtectedFromDelete) {
  std::string id = NewRootKey();
  Register(id);

  base::StatusOr<Key> refused = service_.Delete(instance_, id);

  EXPECT_EQ(refused.status().code(), base::Code::kFailedPrecondition);
  EXPECT_EQ(Reason(refused), kReasonProtectedResource);
  EXPECT_EQ(StateOf(id), KeyState::kActive);
}

TEST_F(KeyServiceTest, ForceDeleteIgnoresRegistration) {
  std::string id = NewRootKey();
  Register(id);

  base::StatusOr<Key> deleted = service_.Delete(instance_, id, /*force=*/true);

  ASSERT_TRUE(deleted.ok());
  EXPECT_EQ(deleted->state, KeyState::kDestroyed);
  EXPECT_TRUE(service_.ListRegistrations(instance_, id).empty());
}

TEST_F(KeyServiceTest, NonPreventingOrRemovedRegistrationAllowsDelete) {
  std::string a = NewRootKey({.name = "a"});
  std::string b = NewRootKey({.name = "b"});
  Register(a, /*prevent=*/false);
  Register(b);
  ASSERT_TRUE(service_
                  .Unregister(instance_, b,
                              "crn:v1:bluemix:public:containers-kubernetes:c1")
                  .ok());

  EXPECT_TRUE(service_.Delete(instance_, a).ok());
  EXPECT_TRUE(service_.Delete(instance_, b).ok());
}

TEST_F(KeyServiceTest, RegistrationsListByKeyAndInstance) {
  std::string a = NewRootKey({.name = "a"});
  std::string b = NewRootKey({.name = "b"});
  Register(a);
  Register(a);  // the same CRN replaces the first registration
  Register(b);

  EXPECT_EQ(service_.ListRegistrations(instance_, a).size(), 1u);
  EXPECT_EQ(service_.ListRegistrations(instance_, "").size(), 2u);
  EXPECT_EQ(service_.Unregister(instance_, a, "crn:other").code(),
            base::Code::kNotFound);
}

TEST_F(KeyServiceTest, DualAuthKeyNeedsSetForDeletion) {
  std::string id = NewRootKey({.name = "k", .dual_auth_delete = true});

  base::StatusOr<Key> refused = service_.Delete(instance_, id);
  ASSERT_TRUE(service_.SetKeyForDeletion(instance_, id).ok());
  base::StatusOr<Key> deleted = service_.Delete(instance_, id);

  EXPECT_EQ(refused.status().code(), base::Code::kFailedPrecondition);
  EXPECT_EQ(Reason(refused), kReasonAuthorizationsNotMet);
  ASSERT_TRUE(deleted.ok());
  EXPECT_EQ(deleted->state, KeyState::kDestroyed);
}

TEST_F(KeyServiceTest, UnsetForDeletionWithdrawsAuthorization) {
  std::string id = NewRootKey({.name = "k", .dual_auth_delete = true});
  ASSERT_TRUE(service_.SetKeyForDeletion(instance_, id).ok());
  ASSERT_TRUE(service_.UnsetKeyForDeletion(instance_, id).ok());

  base::StatusOr<Key> refused = service_.Delete(instance_, id);

  EXPECT_EQ(Reason(refused), kReasonAuthorizationsNotMet);
  EXPECT_FALSE(service_.GetKey(instance_, id)->dual_auth_authorized_until);
}

TEST_F(KeyServiceTest, DeletionAuthorizationLapsesAfterSevenDays) {
  std::string id = NewRootKey({.name = "k", .dual_auth_delete = true});
  ASSERT_TRUE(service_.SetKeyForDeletion(instance_, id).ok());
  EXPECT_EQ(service_.GetKey(instance_, id)->dual_auth_authorized_until,
            kStart + days(7));
  clock_.Advance(days(7));

  base::StatusOr<Key> refused = service_.Delete(instance_, id);

  EXPECT_EQ(Reason(refused), kReasonAuthorizationsNotMet);
}

TEST_F(KeyServiceTest, SetForDeletionNeedsActiveKey) {
  std::string id = NewRootKey({.name = "k", .dual_auth_delete = true});
  ASSERT_TRUE(service_.Disable(instance_, id).ok());

  base::Status set = service_.SetKeyForDeletion(instance_, id);
  base::Status unset = service_.UnsetKeyForDeletion(instance_, id);

  EXPECT_EQ(set.code(), base::Code::kFailedPrecondition);
  EXPECT_EQ(Reason(set), kReasonInvalidState);
  EXPECT_EQ(Reason(unset), kReasonInvalidState);
}

TEST_F(KeyServiceTest, SetForDeletionNeedsDualAuthKey) {
  std::string id = NewRootKey();

  base::Status set = service_.SetKeyForDeletion(instance_, id);
  base::Status unset = service_.UnsetKeyForDeletion(instance_, id);

  EXPECT_EQ(set.code(), base::Code::kFailedPrecondition);
  EXPECT_EQ(Reason(set), kReasonNotDualAuth);
  EXPECT_EQ(Reason(unset), kReasonNotDualAuth);
}

// --- Restore and purge ---

TEST_F(KeyServiceTest, RestoreWithin30SecondsOfDeleteIsTooEarly) {
  std::string id = NewRootKey();
  ASSERT_TRUE(service_.Delete(instance_, id).ok());
  clock_.Advance(seconds(29));

  base::StatusOr<Key> early = service_.Restore(instance_, id);

  EXPECT_EQ(Reason(early), kReasonTooEarly);
  EXPECT_EQ(StateOf(id), KeyState::kDestroyed);
}

TEST_F(KeyServiceTest, RestoreReturnsPreviousStateAndMaterial) {
  std::string id = NewRootKey();
  WrapResult wrapped = *service_.Wrap(instance_, id, {});
  ASSERT_TRUE(service_.Disable(instance_, id).ok());
  ASSERT_TRUE(service_.Delete(instance_, id).ok());
  clock_.Advance(days(30) - seconds(1));

  base::StatusOr<Key> restored = service_.Restore(instance_, id);

  ASSERT_TRUE(restored.ok()) << restored.status();
  EXPECT_EQ(restored->state, KeyState::kSuspended);
  EXPECT_FALSE(restored->deletion_date.has_value());
  ASSERT_TRUE(service_.Enable(instance_, id).ok());
  EXPECT_EQ(service_.Unwrap(instance_, id, wrapped.ciphertext)->plaintext,
            wrapped.plaintext);
}

TEST_F(KeyServiceTest, RestoreAfter30DaysIsExpired) {
  std::string id = NewRootKey();
  ASSERT_TRUE(service_.Delete(instance_, id).ok());
  clock_.Advance(days(30));

  base::StatusOr<Key> late = service_.Restore(instance_, id);

  EXPECT_EQ(late.status().code(), base::Code::kFailedPrecondition);
  EXPECT_EQ(Reason(late), kReasonRestoreExpired);
  EXPECT_EQ(StateOf(id), KeyState::kDestroyed);
}

TEST_F(KeyServiceTest, RestoreOfLiveKeyIsInvalidState) {
  std::string id = NewRootKey();

  EXPECT_EQ(Reason(service_.Restore(instance_, id)), kReasonInvalidState);
}

TEST_F(KeyServiceTest, PurgeWithinFourHoursIsTooEarly) {
  std::string id = NewRootKey();
  ASSERT_TRUE(service_.Delete(instance_, id).ok());
  clock_.Advance(hours(4) - seconds(1));

  base::Status early = service_.Purge(instance_, id);

  EXPECT_EQ(early.code(), base::Code::kFailedPrecondition);
  EXPECT_EQ(Reason(early), kReasonTooEarly);
  EXPECT_EQ(StateOf(id), KeyState::kDestroyed);
}

TEST_F(KeyServiceTest, PurgeAfterFourHoursRemovesKey) {
  std::string id = NewRootKey();
  Register(id, /*prevent=*/false);
  ASSERT_TRUE(service_.Delete(instance_, id).ok());
  clock_.Advance(hours(4));

  ASSERT_TRUE(service_.Purge(instance_, id).ok());

  EXPECT_EQ(Reason(service_.GetKey(instance_, id)), kReasonKeyNotFound);
  EXPECT_EQ(Reason(service_.Restore(instance_, id)), kReasonKeyNotFound);
  EXPECT_TRUE(service_.ListKeys(instance_)->empty());
  EXPECT_TRUE(service_.ListRegistrations(instance_, id).empty());
  EXPECT_EQ(events_.back().type, KeyEventType::kPurged);
}

TEST_F(KeyServiceTest, PurgeOfLiveKeyIsInvalidState) {
  std::string id = NewRootKey();

  EXPECT_EQ(Reason(service_.Purge(instance_, id)), kReasonInvalidState);
}

// --- Expiry ---

TEST_F(KeyServiceTest, KeyDeactivatesWithinAnHourAfterExpiration) {
  base::Time expiration = kStart + days(1);
  std::string id = NewRootKey({.name = "k", .expiration = expiration});

  clock_.AdvanceTo(expiration - seconds(1));
  EXPECT_EQ(StateOf(id), KeyState::kActive);
  clock_.AdvanceTo(expiration + hours(1));

  EXPECT_EQ(StateOf(id), KeyState::kDeactivated);
  ASSERT_EQ(EventNames(), (std::vector<std::string>{"created", "expired"}));
  EXPECT_GE(events_[1].time, expiration);
  EXPECT_LT(events_[1].time, expiration + hours(1));
}

TEST_F(KeyServiceTest, DeactivatedKeyRejectsUseButCanBeDeleted) {
  base::Time expiration = kStart + hours(1);
  std::string id = NewRootKey({.name = "k", .expiration = expiration});
  WrapResult wrapped = *service_.Wrap(instance_, id, {});
  clock_.AdvanceTo(expiration + hours(1));

  EXPECT_EQ(Reason(service_.Wrap(instance_, id, {})), kReasonInvalidState);
  EXPECT_EQ(Reason(service_.Unwrap(instance_, id, wrapped.ciphertext)),
            kReasonInvalidState);
  EXPECT_EQ(Reason(service_.Rotate(instance_, id)), kReasonInvalidState);
  EXPECT_EQ(Reason(service_.Disable(instance_, id)), kReasonInvalidState);
  EXPECT_EQ(Reason(service_.Enable(instance_, id)), kReasonInvalidState);
  ASSERT_TRUE(service_.Delete(instance_, id).ok());
  clock_.Advance(minutes(1));
  EXPECT_EQ(service_.Restore(instance_, id)->state, KeyState::kDeactivated);
}

TEST_F(KeyServiceTest, ExpirationPassedWhileSuspendedAppliesOnEnable) {
  base::Time expiration = kStart + hours(1);
  std::string id = NewRootKey({.name = "k", .expiration = expiration});
  ASSERT_TRUE(service_.Disable(instance_, id).ok());
  clock_.AdvanceTo(expiration + hours(2));
  EXPECT_EQ(StateOf(id), KeyState::kSuspended);

  ASSERT_TRUE(service_.Enable(instance_, id).ok());

  EXPECT_EQ(StateOf(id), KeyState::kDeactivated);
}

TEST(KeyExpiry, StateIsRightBeforeTimerFires) {
  TimerlessClock clock;
  base::SeededRandom random(1);
  KeyService service(clock, random);
  std::string instance =
      service.CreateInstance("i", InstanceType::kKeyProtect)->id;
  base::Time expiration = kStart + hours(3);
  std::string id =
      service.CreateKey(instance, {.name = "k", .expiration = expiration})->id;

  clock.Advance(hours(4));

  EXPECT_EQ(service.GetKey(instance, id)->state, KeyState::kDeactivated);
  EXPECT_EQ(Reason(service.Wrap(instance, id, {})), kReasonInvalidState);
}

TEST(KeyExpiry, DeactivationPointFollowsSeed) {
  auto deactivation_time = [](uint64_t seed) {
    base::SimulatedClock clock(kStart);
    base::SeededRandom random(seed);
    KeyService service(clock, random);
    std::optional<base::Time> expired_at;
    service.Subscribe([&](const KeyEvent& e) {
      if (e.type == KeyEventType::kExpired) expired_at = e.time;
    });
    std::string instance =
        service.CreateInstance("i", InstanceType::kKeyProtect)->id;
    EXPECT_TRUE(
        service
            .CreateKey(instance, {.name = "k", .expiration = kStart + hours(1)})
            .ok());
    clock.Advance(hours(3));
    return expired_at;
  };

  std::optional<base::Time> first = deactivation_time(11);
  std::optional<base::Time> second = deactivation_time(11);

  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first, second);
  EXPECT_GE(*first, kStart + hours(1));
  EXPECT_LT(*first, kStart + hours(2));
}

TEST(KeyExpiry, ServiceDestroyedBeforeTimerLeavesNoCallback) {
  base::SimulatedClock clock(kStart);
  base::SeededRandom random(3);
  {
    KeyService service(clock, random);
    std::string instance =
        service.CreateInstance("i", InstanceType::kKeyProtect)->id;
    ASSERT_TRUE(
        service
            .CreateKey(instance, {.name = "k", .expiration = kStart + hours(1)})
            .ok());
  }

  EXPECT_FALSE(clock.NextTimerAt().has_value());
  clock.Advance(hours(3));
}

// --- Concurrency ---

TEST_F(KeyServiceTest, ConcurrentCallersKeepWrapsConsistent) {
  std::string id = NewRootKey();
  std::atomic<int> mismatches = 0;
  std::vector<std::thread> threads;

  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 200; ++i) {
        std::string dek(32, static_cast<char>('a' + t));
        base::StatusOr<WrapResult> wrapped = service_.Wrap(instance_, id, dek);
        if (!wrapped.ok()) continue;  // a rotation may not race a wrap
        base::StatusOr<UnwrapResult> unwrapped =
            service_.Unwrap(instance_, id, wrapped->ciphertext);
        if (!unwrapped.ok() || unwrapped->plaintext != dek) ++mismatches;
      }
    });
  }
  threads.emplace_back([&] {
    for (int i = 0; i < 20; ++i)
      ASSERT_TRUE(service_.Rotate(instance_, id).ok());
  });
  for (std::thread& thread : threads) thread.join();

  EXPECT_EQ(mismatches, 0);
  EXPECT_EQ(service_.GetKey(instance_, id)->versions.size(), 21u);
  EXPECT_EQ(service_.CallCounts()["wrap"].ok, 800);
}

// --- Events and call counts ---

TEST_F(KeyServiceTest, SubscriberMayCallBackIntoService) {
  std::string id = NewRootKey();
  std::vector<KeyState> seen;
  service_.Subscribe([&](const KeyEvent& e) {
    seen.push_back(service_.GetKey(e.instance_id, e.key_id)->state);
  });

  ASSERT_TRUE(service_.Disable(instance_, id).ok());

  EXPECT_EQ(seen, std::vector<KeyState>{KeyState::kSuspended});
}

TEST_F(KeyServiceTest, UnsubscribedListenerGetsNothing) {
  int calls = 0;
  KeyService::SubscriptionId sub =
      service_.Subscribe([&](const KeyEvent&) { ++calls; });
  service_.Unsubscribe(sub);

  NewRootKey();

  EXPECT_EQ(calls, 0);
}

TEST_F(KeyServiceTest, CallCountsSplitOkAndFailed) {
  std::string id = NewRootKey();
  WrapResult wrapped = *service_.Wrap(instance_, id, {});
  ASSERT_TRUE(service_.Unwrap(instance_, id, wrapped.ciphertext).ok());
  ASSERT_FALSE(service_.Unwrap(instance_, id, "garbage").ok());

  std::map<std::string, CallCount> counts = service_.CallCounts();

  EXPECT_EQ(counts["create_key"].ok, 1);
  EXPECT_EQ(counts["wrap"].ok, 1);
  EXPECT_EQ(counts["unwrap"].ok, 1);
  EXPECT_EQ(counts["unwrap"].failed, 1);
  EXPECT_EQ(counts["rotate"].ok, 0);
}

}  // namespace
}  // namespace kms
