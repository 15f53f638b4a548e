// Label and field selectors of list, watch and deletecollection requests,
// parsed and matched as k8s.io/apimachinery's labels and fields packages
// do, with their error texts.
#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "apiserver/api_internal.h"
#include "apiserver/validation.h"

namespace apiserver {
namespace {

using Op = LabelRequirement::Op;

base::Status BadRequest(const std::string& message) {
  return base::InvalidArgumentError(message, "BadRequest");
}

// Go's strconv.ParseInt(text, 10, 64).
std::optional<int64_t> ParseInt64(const std::string& text) {
  const size_t digits = text.starts_with('+') || text.starts_with('-') ? 1 : 0;
  if (digits == text.size() ||
      text.find_first_not_of("0123456789", digits) != std::string::npos) {
    return std::nullopt;
  }
  errno = 0;
  const long long value = std::strtoll(text.c_str(), nullptr, 10);
  if (errno == ERANGE) return std::nullopt;
  return static_cast<int64_t>(value);
}

// The tokens of upstream's label selector lexer.
enum class Token {
  kError,
  kEndOfString,
  kClosedPar,
  kComma,
  kDoesNotExist,
  kDoubleEquals,
  kEquals,
  kGreaterThan,
  kIdentifier,
  kIn,
  kLessThan,
  kNotEquals,
  kNotIn,
  kOpenPar,
};

std::optional<Token> KeywordToken(std::string_view text) {
  if (text == ")") return Token::kClosedPar;
  if (text == ",") return Token::kComma;
  if (text == "!") return Token::kDoesNotExist;
  if (text == "==") return Token::kDoubleEquals;
  if (text == "=") return Token::kEquals;
  if (text == ">") return Token::kGreaterThan;
  if (text == "in") return Token::kIn;
  if (text == "<") return Token::kLessThan;
  if (text == "!=") return Token::kNotEquals;
  if (text == "notin") return Token::kNotIn;
  if (text == "(") return Token::kOpenPar;
  return std::nullopt;
}

bool IsWhitespace(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

bool IsSpecialSymbol(char c) {
  return c == '=' || c == '!' || c == '(' || c == ')' || c == ',' || c == '>' ||
         c == '<';
}

struct ScannedItem {
  Token token;
  std::string literal;
};

// Splits a label selector into tokens as upstream's Lexer: a run of
// special symbols yields its longest leading operator, anything else up to
// a special symbol or whitespace is a keyword or an identifier. A NUL byte
// ends the input, as Go's lexer reads 0 at the end.
std::vector<ScannedItem> Scan(std::string_view text) {
  std::vector<ScannedItem> items;
  size_t at = 0;
  auto read = [&]() -> char { return at < text.size() ? text[at++] : '\0'; };
  while (true) {
    char c = read();
    while (IsWhitespace(c)) c = read();
    if (c == '\0') {
      items.push_back({Token::kEndOfString, ""});
      return items;
    }
    --at;
    std::string buffer;
    if (IsSpecialSymbol(c)) {
      std::optional<ScannedItem> last;
      while (true) {
        const char next = read();
        if (next == '\0') break;
        if (!IsSpecialSymbol(next)) {
          --at;
          break;
        }
        buffer += next;
        if (std::optional<Token> token = KeywordToken(buffer)) {
          last = ScannedItem{*token, buffer};
        } else if (last.has_value()) {
          --at;
          break;
        }
      }
      items.push_back(last.value_or(ScannedItem{
          Token::kError, "error expected: keyword found '" + buffer + "'"}));
      continue;
    }
    while (true) {
      const char next = read();
      if (next == '\0') break;
      if (IsSpecialSymbol(next) || IsWhitespace(next)) {
        --at;
        break;
      }
      buffer += next;
    }
    items.push_back(
        {KeywordToken(buffer).value_or(Token::kIdentifier), buffer});
  }
}

// Joins errors as upstream's aggregate error prints them: one as it is,
// more in brackets, each message once.
std::string Aggregate(const std::vector<std::string>& errors) {
  std::vector<std::string> unique;
  for (const std::string& error : errors) {
    if (std::find(unique.begin(), unique.end(), error) == unique.end()) {
      unique.push_back(error);
    }
  }
  if (unique.size() == 1) return unique.front();
  std::string joined = "[";
  for (size_t i = 0; i < unique.size(); ++i) {
    joined += (i > 0 ? ", " : "") + unique[i];
  }
  return joined + "]";
}

std::string JoinDetails(const std::vector<std::string>& details) {
  std::string joined;
  for (size_t i = 0; i < details.size(); ++i) {
    joined += (i > 0 ? "; " : "") + details[i];
  }
  return joined;
}

// The recursive-descent parser of upstream's labels.Parse. Its methods
// return the error text, or nullopt on success.
class LabelSelectorParser {
 public:
  explicit LabelSelectorParser(std::string_view text) : items_(Scan(text)) {}

  base::StatusOr<std::vector<LabelRequirement>> Parse() {
    std::vector<LabelRequirement> requirements;
    while (true) {
      const auto [token, literal] = Lookahead(kValues);
      if (token == Token::kEndOfString) return requirements;
      if (token != Token::kIdentifier && token != Token::kDoesNotExist) {
        return BadRequest("found '" + literal +
                          "', expected: !, identifier, or 'end of string'");
      }
      LabelRequirement requirement;
      if (std::optional<std::string> error = ParseRequirement(requirement)) {
        return BadRequest("unable to parse requirement: " + *error);
      }
      requirements.push_back(std::move(requirement));
      const auto [next, next_literal] = Consume(kValues);
      if (next == Token::kEndOfString) return requirements;
      if (next != Token::kComma) {
        return BadRequest("found '" + next_literal +
                          "', expected: ',' or 'end of string'");
      }
      const auto [after, after_literal] = Lookahead(kValues);
      if (after != Token::kIdentifier && after != Token::kDoesNotExist) {
        return BadRequest("found '" + after_literal +
                          "', expected: identifier after ','");
      }
    }
  }

 private:
  // In the values context "in" and "notin" are identifiers.
  static constexpr bool kValues = true;
  static constexpr bool kKeyAndOperator = false;

  ScannedItem Lookahead(bool values) const {
    ScannedItem item = items_[position_];
    if (values && (item.token == Token::kIn || item.token == Token::kNotIn)) {
      item.token = Token::kIdentifier;
    }
    return item;
  }

  ScannedItem Consume(bool values) {
    ScannedItem item = Lookahead(values);
    ++position_;
    return item;
  }

  std::optional<std::string> ParseRequirement(LabelRequirement& requirement) {
    std::optional<Op> op;
    if (std::optional<std::string> error =
            ParseKeyAndInferOperator(requirement.key, op)) {
      return error;
    }
    if (!op.has_value()) {
      if (std::optional<std::string> error = ParseOperator(op)) return error;
      std::set<std::string> values;
      std::optional<std::string> error = *op == Op::kIn || *op == Op::kNotIn
                                             ? ParseValues(values)
                                             : ParseExactValue(values);
      if (error) return error;
      requirement.values.assign(values.begin(), values.end());
    }
    requirement.op = *op;
    return CheckRequirement(requirement);
  }

  std::optional<std::string> ParseKeyAndInferOperator(std::string& key,
                                                      std::optional<Op>& op) {
    ScannedItem item = Consume(kValues);
    if (item.token == Token::kDoesNotExist) {
      op = Op::kDoesNotExist;
      item = Consume(kValues);
    }
    if (item.token != Token::kIdentifier) {
      return "found '" + item.literal + "', expected: identifier";
    }
    if (std::vector<std::string> errors = QualifiedNameErrors(item.literal);
        !errors.empty()) {
      // Upstream passes no field path, which prints as "<nil>".
      return FieldInvalid("<nil>", item.literal, JoinDetails(errors))
          .ToString();
    }
    key = item.literal;
    const Token next = Lookahead(kValues).token;
    if ((next == Token::kEndOfString || next == Token::kComma) &&
        !op.has_value()) {
      op = Op::kExists;
    }
    return std::nullopt;
  }

  std::optional<std::string> ParseOperator(std::optional<Op>& op) {
    const ScannedItem item = Consume(kKeyAndOperator);
    switch (item.token) {
      case Token::kIn:
        op = Op::kIn;
        return std::nullopt;
      case Token::kEquals:
      case Token::kDoubleEquals:
        op = Op::kEquals;
        return std::nullopt;
      case Token::kGreaterThan:
        op = Op::kGreaterThan;
        return std::nullopt;
      case Token::kLessThan:
        op = Op::kLessThan;
        return std::nullopt;
      case Token::kNotIn:
        op = Op::kNotIn;
        return std::nullopt;
      case Token::kNotEquals:
        op = Op::kNotEquals;
        return std::nullopt;
      default:
        return "found '" + item.literal +
               "', expected: in, notin, =, ==, !=, gt, lt";
    }
  }

  // "(a,b)", "()" or "(,)"; an empty entry is the empty value.
  std::optional<std::string> ParseValues(std::set<std::string>& values) {
    const ScannedItem open = Consume(kValues);
    if (open.token != Token::kOpenPar) {
      return "found '" + open.literal + "' expected: '('";
    }
    const ScannedItem first = Lookahead(kValues);
    if (first.token == Token::kClosedPar) {
      Consume(kValues);
      values.insert("");
      return std::nullopt;
    }
    if (first.token != Token::kIdentifier && first.token != Token::kComma) {
      return "found '" + first.literal + "', expected: ',', ')' or identifier";
    }
    if (std::optional<std::string> error = ParseIdentifiersList(values)) {
      return error;
    }
    if (Consume(kValues).token != Token::kClosedPar) {
      // Upstream names the token that opened the list here.
      return "found '" + first.literal + "', expected: ')'";
    }
    return std::nullopt;
  }

  std::optional<std::string> ParseIdentifiersList(
      std::set<std::string>& values) {
    while (true) {
      const ScannedItem item = Consume(kValues);
      if (item.token == Token::kIdentifier) {
        values.insert(item.literal);
        const ScannedItem next = Lookahead(kValues);
        if (next.token == Token::kComma) continue;
        if (next.token == Token::kClosedPar) return std::nullopt;
        return "found '" + next.literal + "', expected: ',' or ')'";
      }
      if (item.token != Token::kComma) {
        return "found '" + item.literal + "', expected: ',', or identifier";
      }
      if (values.empty()) values.insert("");
      const Token next = Lookahead(kValues).token;
      if (next == Token::kClosedPar) {
        values.insert("");
        return std::nullopt;
      }
      if (next == Token::kComma) values.insert("");
    }
  }

  std::optional<std::string> ParseExactValue(std::set<std::string>& values) {
    const Token next = Lookahead(kValues).token;
    if (next == Token::kEndOfString || next == Token::kComma) {
      values.insert("");
      return std::nullopt;
    }
    const ScannedItem item = Consume(kValues);
    if (item.token != Token::kIdentifier) {
      return "found '" + item.literal + "', expected: identifier";
    }
    values.insert(item.literal);
    return std::nullopt;
  }

  // The value checks of upstream's NewRequirement; the parser has already
  // checked the key and the number of values.
  static std::optional<std::string> CheckRequirement(
      const LabelRequirement& requirement) {
    std::vector<std::string> errors;
    const std::vector<std::string>& values = requirement.values;
    for (size_t i = 0; i < values.size(); ++i) {
      const std::string path = "values[" + std::to_string(i) + "]";
      if ((requirement.op == Op::kGreaterThan ||
           requirement.op == Op::kLessThan) &&
          !ParseInt64(values[i]).has_value()) {
        errors.push_back(
            FieldInvalid(path, values[i],
                         "for 'Gt', 'Lt' operators, the value must be an "
                         "integer")
                .ToString());
      }
    }
    for (size_t i = 0; i < values.size(); ++i) {
      const std::vector<std::string> value_errors = LabelValueErrors(values[i]);
      if (value_errors.empty()) continue;
      errors.push_back(FieldInvalid("values[" + std::to_string(i) + "][" +
                                        requirement.key + "]",
                                    values[i], JoinDetails(value_errors))
                           .ToString());
    }
    if (errors.empty()) return std::nullopt;
    return Aggregate(errors);
  }

  std::vector<ScannedItem> items_;
  size_t position_ = 0;
};

bool MatchesLabels(const Json& object,
                   const std::vector<LabelRequirement>& requirements) {
  const Json labels =
      object.value("metadata", Json::object()).value("labels", Json::object());
  for (const LabelRequirement& requirement : requirements) {
    auto it = labels.find(requirement.key);
    const bool exists = it != labels.end() && it->is_string();
    const std::string value = exists ? it->get<std::string>() : "";
    const bool listed =
        std::find(requirement.values.begin(), requirement.values.end(),
                  value) != requirement.values.end();
    bool matches = false;
    switch (requirement.op) {
      case Op::kIn:
      case Op::kEquals:
        matches = exists && listed;
        break;
      case Op::kNotIn:
      case Op::kNotEquals:
        matches = !exists || !listed;
        break;
      case Op::kExists:
        matches = exists;
        break;
      case Op::kDoesNotExist:
        matches = !exists;
        break;
      case Op::kGreaterThan:
      case Op::kLessThan: {
        const std::optional<int64_t> actual = ParseInt64(value);
        const std::optional<int64_t> bound =
            requirement.values.size() == 1
                ? ParseInt64(requirement.values.front())
                : std::nullopt;
        matches = exists && actual.has_value() && bound.has_value() &&
                  (requirement.op == Op::kGreaterThan ? *actual > *bound
                                                      : *actual < *bound);
        break;
      }
    }
    if (!matches) return false;
  }
  return true;
}

// Splits a field selector at commas that no backslash escapes.
std::vector<std::string> SplitFieldTerms(const std::string& selector) {
  std::vector<std::string> terms;
  if (selector.empty()) return terms;
  size_t start = 0;
  bool escaped = false;
  for (size_t i = 0; i < selector.size(); ++i) {
    if (escaped) {
      escaped = false;
    } else if (selector[i] == '\\') {
      escaped = true;
    } else if (selector[i] == ',') {
      terms.push_back(selector.substr(start, i - start));
      start = i + 1;
    }
  }
  terms.push_back(selector.substr(start));
  return terms;
}

// Undoes the \\, \, and \= escapes of a field selector value.
base::StatusOr<std::string> UnescapeFieldValue(const std::string& value) {
  std::string out;
  bool escaped = false;
  for (char c : value) {
    if (escaped) {
      if (c != '\\' && c != ',' && c != '=') {
        return BadRequest(
            "invalid field selector: invalid escape sequence: \\" +
            std::string(1, c));
      }
      out += c;
      escaped = false;
    } else if (c == '\\') {
      escaped = true;
    } else if (c == ',' || c == '=') {
      // Go prints the rune as its number.
      return BadRequest(
          "invalid field selector: unescaped character in value: " +
          std::to_string(static_cast<int>(c)));
    } else {
      out += c;
    }
  }
  if (escaped) {
    return BadRequest("invalid field selector: invalid escape sequence: \\");
  }
  return out;
}

// Upstream's field label conversion of core/v1 for the served kinds.
base::Status CheckSelectableField(const Resource& resource,
                                  const std::string& field) {
  if (resource.kind == "Secret") {
    if (field == "type" || field == "metadata.namespace" ||
        field == "metadata.name") {
      return base::OkStatus();
    }
    return BadRequest("field label not supported: " + field);
  }
  if (resource.kind == "Namespace") {
    if (field == "status.phase" || field == "metadata.name") {
      return base::OkStatus();
    }
    return BadRequest("field label not supported: " + field);
  }
  if (field == "metadata.name" || field == "metadata.namespace") {
    return base::OkStatus();
  }
  return BadRequest(GoQuote(field) +
                    " is not a known field selector: only \"metadata.name\", "
                    "\"metadata.namespace\"");
}

base::StatusOr<std::vector<FieldRequirement>> ParseFieldSelector(
    const std::string& selector, const Resource& resource) {
  std::vector<std::string> terms = SplitFieldTerms(selector);
  std::sort(terms.begin(), terms.end());
  std::vector<FieldRequirement> requirements;
  for (const std::string& term : terms) {
    if (term.empty()) continue;
    size_t at = 0;
    size_t operator_size = 0;
    for (; at < term.size(); ++at) {
      const std::string_view rest = std::string_view(term).substr(at);
      if (rest.starts_with("!=") || rest.starts_with("==")) {
        operator_size = 2;
        break;
      }
      if (rest.starts_with("=")) {
        operator_size = 1;
        break;
      }
    }
    if (operator_size == 0) {
      return BadRequest("invalid selector: '" + selector +
                        "'; can't understand '" + term + "'");
    }
    ASSIGN_OR_RETURN(std::string value,
                     UnescapeFieldValue(term.substr(at + operator_size)));
    requirements.push_back(
        {term.substr(0, at), term.compare(at, 2, "!=") != 0, value});
  }
  for (const FieldRequirement& requirement : requirements) {
    RETURN_IF_ERROR(CheckSelectableField(resource, requirement.field));
  }
  return requirements;
}

// The value of a selectable field; "" when the object lacks it.
std::string FieldValue(const Json& object, const std::string& field) {
  const Json* value = &object;
  std::string_view rest = field;
  while (true) {
    const size_t end = std::min(rest.find('.'), rest.size());
    const std::string name(rest.substr(0, end));
    if (!value->is_object() || !value->contains(name)) return "";
    value = &(*value)[name];
    if (end == rest.size()) break;
    rest.remove_prefix(end + 1);
  }
  return value->is_string() ? value->get<std::string>() : "";
}

}  // namespace

bool ApiHandler::Selector::Matches(const Json& object) const {
  if (!MatchesLabels(object, labels)) return false;
  for (const FieldRequirement& requirement : fields) {
    const bool equal =
        FieldValue(object, requirement.field) == requirement.value;
    if (equal != requirement.equals) return false;
  }
  return true;
}

base::StatusOr<ApiHandler::Selector> ParseSelector(const Query& query,
                                                   const Resource& resource) {
  ApiHandler::Selector selector;
  if (auto labels = query.find("labelSelector"); labels != query.end()) {
    ASSIGN_OR_RETURN(selector.labels,
                     LabelSelectorParser(labels->second).Parse());
  }
  if (auto fields = query.find("fieldSelector"); fields != query.end()) {
    ASSIGN_OR_RETURN(selector.fields,
                     ParseFieldSelector(fields->second, resource));
  }
  return selector;
}

}  // namespace apiserver
