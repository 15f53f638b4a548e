// Differential tests against a real etcd 3.4: the hand-written corpus in
// diff_corpus.txt (every operation and error), seeded random sequences of
// operations and bad input. Each request goes to etcd and to our gateway,
// and any difference fails and prints both bodies.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "base/crypto.h"
#include "base/random.h"
#include "tests/etcd/gateway_diff_fixture.h"

namespace etcd {
namespace {

// Replaces every b"text" with the quoted base64 of text, where \xNN is a
// byte and \" and \\ are escapes.
std::string ExpandBytes(const std::string& body) {
  std::string out;
  for (size_t i = 0; i < body.size(); ++i) {
    bool starts =
        body[i] == 'b' && i + 1 < body.size() && body[i + 1] == '"' &&
        (i == 0 || !std::isalnum(static_cast<unsigned char>(body[i - 1])));
    if (!starts) {
      out.push_back(body[i]);
      continue;
    }
    std::string bytes;
    size_t j = i + 2;
    for (; j < body.size() && body[j] != '"'; ++j) {
      if (body[j] == '\\' && j + 1 < body.size() && body[j + 1] == 'x') {
        bytes.push_back(
            static_cast<char>(std::stoi(body.substr(j + 2, 2), nullptr, 16)));
        j += 3;
      } else if (body[j] == '\\' && j + 1 < body.size()) {
        bytes.push_back(body[++j]);
      } else {
        bytes.push_back(body[j]);
      }
    }
    out += '"' + base::Base64Encode(bytes) + '"';
    i = j;
  }
  return out;
}

struct CorpusEntry {
  int line = 0;
  bool stream = false;
  size_t stream_lines = 0;
  bool mask_ttl = false;
  std::string method;
  std::string path;
  std::string body;
};

std::vector<CorpusEntry> ReadCorpus(const std::string& file) {
  std::ifstream in(file);
  std::vector<CorpusEntry> entries;
  std::string text;
  for (int number = 1; std::getline(in, text); ++number) {
    if (text.empty() || text[0] == '#') continue;
    std::istringstream line(text);
    CorpusEntry entry;
    entry.line = number;
    std::string word;
    line >> word;
    if (word == "@ttl") {
      entry.mask_ttl = true;
      line >> word;
    }
    if (word == "STREAM") {
      entry.stream = true;
      line >> entry.stream_lines;
      entry.method = "POST";
    } else {
      entry.method = word;
    }
    line >> entry.path;
    std::getline(line >> std::ws, entry.body);
    entry.body = ExpandBytes(entry.body);
    entries.push_back(entry);
  }
  return entries;
}

using DiffCorpusTest = GatewayDiffTest;

TEST_F(DiffCorpusTest, CorpusMatchesEtcd) {
  std::vector<CorpusEntry> corpus = ReadCorpus(CORPUS_PATH);
  ASSERT_GE(corpus.size(), 200u) << "the corpus at " << CORPUS_PATH;

  int differences = 0;
  for (const CorpusEntry& entry : corpus) {
    SCOPED_TRACE("diff_corpus.txt line " + std::to_string(entry.line));
    if (entry.stream) {
      ExpectSameStream(entry.path, entry.body, entry.stream_lines);
    } else if (!ExpectSame(entry.path, entry.body, entry.mask_ttl,
                           entry.method)) {
      ++differences;
    }
  }
  EXPECT_EQ(differences, 0);
}

// Seeded random sequences of operations on a few keys, so that puts,
// deletes, transactions, compactions and leases interleave in orders that
// the hand-written corpus does not cover.
class RandomOperations {
 public:
  RandomOperations(uint64_t seed, std::string prefix)
      : random_(seed), prefix_(std::move(prefix)), lease_base_(seed * 100) {}

  struct Request {
    std::string path;
    std::string body;
    bool mask_ttl = false;
  };

  // Tells the generator the current revision, so that revisions in
  // requests land near it.
  void Observe(int64_t revision) { revision_ = revision; }

  Request Next() {
    uint64_t kind = random_.Uniform(100);
    if (kind < 30) return {"/v3/kv/put", PutJson()};
    if (kind < 55) return {"/v3/kv/range", RangeJson()};
    if (kind < 65) return {"/v3/kv/deleterange", DeleteJson()};
    if (kind < 85) return {"/v3/kv/txn", TxnJson()};
    if (kind < 88) {
      return {"/v3/kv/compaction", "{\"revision\":\"" + Revision(20) + "\"}"};
    }
    if (kind < 92) {
      return {"/v3/lease/grant", "{\"TTL\":\"" +
                                     std::to_string(600 + random_.Uniform(60)) +
                                     "\",\"ID\":\"" + LeaseId() + "\"}"};
    }
    if (kind < 95)
      return {"/v3/lease/revoke", "{\"ID\":\"" + LeaseId() + "\"}"};
    if (kind < 98) {
      return {"/v3/lease/timetolive", "{\"ID\":\"" + LeaseId() + "\"}",
              /*mask_ttl=*/true};
    }
    return {"/v3/lease/keepalive", "{\"ID\":\"" + LeaseId() + "\"}"};
  }

 private:
  bool Coin() { return random_.Uniform(2) == 1; }

  std::string Bytes(const std::string& bytes) {
    return "\"" + base::Base64Encode(bytes) + "\"";
  }

  std::string Key() {
    return Bytes(prefix_ + static_cast<char>('a' + random_.Uniform(6)));
  }

  std::string Value() { return Bytes(random_.Bytes(random_.Uniform(6))); }

  std::string LeaseId() {
    return std::to_string(lease_base_ + 1 + random_.Uniform(4));
  }

  // A revision up to `back` below the current one, or a little above it.
  std::string Revision(int64_t back) {
    int64_t revision =
        revision_ - back + static_cast<int64_t>(random_.Uniform(back + 3));
    return std::to_string(std::max<int64_t>(revision, 0));
  }

  // A key, or a key and a range end (which may come before the key).
  std::string KeyRange() {
    std::string out = "\"key\":" + Key();
    switch (random_.Uniform(4)) {
      case 0:
        out += ",\"range_end\":" + Key();
        break;
      case 1:
        out += ",\"range_end\":\"AA==\"";
        break;
    }
    return out;
  }

  std::string PutJson() {
    std::string out = "{\"key\":" + Key() + ",\"value\":" + Value();
    if (Coin()) out += ",\"prev_kv\":true";
    if (random_.Uniform(5) == 0) out += ",\"lease\":\"" + LeaseId() + "\"";
    if (random_.Uniform(8) == 0) out += ",\"ignore_lease\":true";
    return out + "}";
  }

  std::string RangeJson() {
    static const char* const kOrders[] = {"NONE", "ASCEND", "DESCEND"};
    static const char* const kTargets[] = {"KEY", "VERSION", "CREATE", "MOD",
                                           "VALUE"};
    std::string out = "{" + KeyRange();
    if (Coin())
      out += ",\"limit\":\"" + std::to_string(random_.Uniform(4)) + "\"";
    if (random_.Uniform(4) == 0)
      out += ",\"revision\":\"" + Revision(10) + "\"";
    if (Coin()) {
      out += std::string(",\"sort_order\":\"") + kOrders[random_.Uniform(3)] +
             "\",\"sort_target\":\"" + kTargets[random_.Uniform(5)] + "\"";
    }
    if (random_.Uniform(5) == 0) out += ",\"keys_only\":true";
    if (random_.Uniform(5) == 0) out += ",\"count_only\":true";
    if (random_.Uniform(6) == 0) {
      out += ",\"min_mod_revision\":\"" + Revision(15) + "\"";
    }
    if (random_.Uniform(6) == 0) {
      out += ",\"max_create_revision\":\"" + Revision(15) + "\"";
    }
    return out + "}";
  }

  std::string DeleteJson() {
    std::string out = "{" + KeyRange();
    if (Coin()) out += ",\"prev_kv\":true";
    return out + "}";
  }

  std::string CompareJson() {
    static const char* const kResults[] = {"EQUAL", "GREATER", "LESS",
                                           "NOT_EQUAL"};
    std::string out = "{\"key\":" + Key() + ",\"result\":\"" +
                      kResults[random_.Uniform(4)] + "\"";
    if (random_.Uniform(4) == 0) out += ",\"range_end\":" + Key();
    switch (random_.Uniform(5)) {
      case 0:
        out += ",\"target\":\"VERSION\",\"version\":\"" +
               std::to_string(random_.Uniform(4)) + "\"";
        break;
      case 1:
        out += ",\"target\":\"CREATE\",\"create_revision\":\"" + Revision(15) +
               "\"";
        break;
      case 2:
        out += ",\"target\":\"MOD\",\"mod_revision\":\"" + Revision(15) + "\"";
        break;
      case 3:
        out += ",\"target\":\"VALUE\",\"value\":" + Value();
        break;
      case 4:
        out += ",\"target\":\"LEASE\",\"lease\":\"" +
               (Coin() ? std::string("0") : LeaseId()) + "\"";
        break;
    }
    return out + "}";
  }

  std::string OpsJson(int depth) {
    std::string out = "[";
    uint64_t count = random_.Uniform(4);
    for (uint64_t i = 0; i < count; ++i) {
      if (i > 0) out += ",";
      switch (random_.Uniform(depth > 0 ? 3 : 4)) {
        case 0:
          out += "{\"request_put\":" + PutJson() + "}";
          break;
        case 1:
          out += "{\"request_range\":" + RangeJson() + "}";
          break;
        case 2:
          out += "{\"request_delete_range\":" + DeleteJson() + "}";
          break;
        case 3:
          out += "{\"request_txn\":" + TxnBody(depth + 1) + "}";
          break;
      }
    }
    return out + "]";
  }

  std::string TxnBody(int depth) {
    std::string out = "{\"compare\":[";
    uint64_t compares = random_.Uniform(3);
    for (uint64_t i = 0; i < compares; ++i) {
      if (i > 0) out += ",";
      out += CompareJson();
    }
    out += "],\"success\":" + OpsJson(depth) +
           ",\"failure\":" + OpsJson(depth) + "}";
    return out;
  }

  std::string TxnJson() { return TxnBody(0); }

  base::SeededRandom random_;
  const std::string prefix_;
  const uint64_t lease_base_;
  int64_t revision_ = 1;
};

int64_t HeaderRevision(const std::string& body) {
  static const std::regex kRevision(R"re("revision":"(\d+)")re");
  std::smatch match;
  if (!std::regex_search(body, match, kRevision)) return 0;
  return std::stoll(match[1]);
}

TEST_F(DiffCorpusTest, RandomSequencesMatchEtcd) {
  constexpr int kOperationsPerSeed = 150;
  for (uint64_t seed : {11, 22, 33}) {
    RandomOperations operations(seed, "r" + std::to_string(seed) + "/");
    int differences = 0;
    for (int i = 0; i < kOperationsPerSeed && differences < 5; ++i) {
      RandomOperations::Request request = operations.Next();
      SCOPED_TRACE("seed " + std::to_string(seed) + ", operation " +
                   std::to_string(i));
      if (!ExpectSame(request.path, request.body, request.mask_ttl)) {
        ++differences;
      }
      HttpReply current =
          HttpPost(gateway_->port(), "/v3/kv/range", R"({"key":"AA=="})");
      operations.Observe(HeaderRevision(current.body));
    }
    EXPECT_EQ(differences, 0) << "seed " << seed;

    // Watches over every key from a random earlier revision replay the
    // history that the sequence left, or are canceled when it is
    // compacted. Every revision after 1 is a write, so each watch gets its
    // created response and exactly one more.
    base::SeededRandom random(seed);
    HttpReply current =
        HttpPost(gateway_->port(), "/v3/kv/range", R"({"key":"AA=="})");
    int64_t revision = HeaderRevision(current.body);
    for (int i = 0; i < 4; ++i) {
      // Every other watch starts in the last 5 revisions, which are more
      // likely above the compacted revision.
      int64_t span =
          i % 2 == 0 ? revision - 1 : std::min<int64_t>(revision - 1, 5);
      int64_t start = revision - static_cast<int64_t>(random.Uniform(span));
      std::string prev_kv = random.Uniform(2) == 1 ? ",\"prev_kv\":true" : "";
      SCOPED_TRACE("seed " + std::to_string(seed) + ", watch from revision " +
                   std::to_string(start));
      ExpectSameStream("/v3/watch",
                       R"({"create_request":{"key":"AA==","range_end":"AA==",)"
                       R"("start_revision":")" +
                           std::to_string(start) + "\"" + prev_kv + "}}",
                       2);
    }
  }
}

// Bad input gets etcd 3.4's error, and the server keeps serving after it.
TEST_F(DiffCorpusTest, BadInputGetsEtcdErrors) {
  std::string ten_megabytes = base::Base64Encode(std::string(10 << 20, 'x'));
  std::string too_large = base::Base64Encode(std::string(1600 << 10, 'x'));
  std::string fits = base::Base64Encode(std::string(1500 << 10, 'x'));
  struct Case {
    const char* what;
    std::string path;
    std::string body;
  };
  std::vector<Case> cases = {
      {"malformed JSON", "/v3/kv/put", R"({"key":"YQ==",)"},
      {"malformed JSON", "/v3/kv/range", R"({"key" "YQ=="})"},
      {"malformed JSON", "/v3/kv/txn", R"({"success":[{]})"},
      {"bad base64", "/v3/kv/put", R"({"key":"YQ=","value":"MQ=="})"},
      {"bad base64", "/v3/kv/range", R"({"key":"*"})"},
      {"unknown fields", "/v3/kv/put",
       R"({"key":"YQ==","value":"MQ==","no_such_field":[1]})"},
      {"unknown fields", "/v3/kv/txn",
       R"({"success":[{"request_put":{"key":"YQ==","extra":1}}]})"},
      {"10 MB value", "/v3/kv/put",
       R"({"key":"YQ==","value":")" + ten_megabytes + R"("})"},
      {"10 MB value in a txn", "/v3/kv/txn",
       R"({"success":[{"request_put":{"key":"YQ==","value":")" + ten_megabytes +
           R"("}}]})"},
      {"value over --max-request-bytes", "/v3/kv/put",
       R"({"key":"YQ==","value":")" + too_large + R"("})"},
      {"value under --max-request-bytes", "/v3/kv/put",
       R"({"key":"Yg==","value":")" + fits + R"("})"},
      {"range_end before key", "/v3/kv/range",
       R"({"key":"Yw==","range_end":"YQ=="})"},
      {"range_end before key", "/v3/kv/deleterange",
       R"({"key":"Yw==","range_end":"YQ==","prev_kv":true})"},
      {"txn with duplicate keys", "/v3/kv/txn",
       R"({"success":[{"request_put":{"key":"YQ=="}},)"
       R"({"request_put":{"key":"YQ=="}}]})"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    ExpectSame(c.path, c.body);
    // The server keeps serving.
    ExpectSame("/v3/kv/put", R"({"key":"YQ==","value":"MQ=="})");
    ExpectSame("/v3/kv/range", R"({"key":"YQ==","keys_only":true})");
  }
}

}  // namespace
}  // namespace etcd
