// The SOQL subset of soql.h, in three steps: the text is tokenized and
// parsed into a small syntax tree; the tree is compiled against the
// inventory into column accessors (relationship hops become code -> row
// tables, text predicates become one verdict per dictionary entry, so no
// string is compared per record); the compiled plan then scans the table
// once. Records are rendered to JSON only when asked for.
#include "simulator/soql.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <deque>
#include <limits>
#include <numeric>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

namespace cmdb_simulator {
namespace {

using Json = nlohmann::ordered_json;

// Salesforce rejects longer statements; the cap also bounds the work spent
// on garbage input.
constexpr size_t kMaxQueryChars = 100000;
// Parentheses and NOT recurse in the parser; the cap keeps the stack small.
constexpr int kMaxNesting = 100;
constexpr uint32_t kAbsent = std::numeric_limits<uint32_t>::max();
constexpr uint64_t kNoLimit = std::numeric_limits<uint64_t>::max();

constexpr char kMalformedQuery[] = "MALFORMED_QUERY";
constexpr char kInvalidField[] = "INVALID_FIELD";
constexpr char kInvalidType[] = "INVALID_TYPE";

// A rejected query. Thrown only within this file; RunQuery turns it into a
// QueryError with Salesforce's position lines.
struct Failure {
  std::string error_code;
  std::string detail;
  size_t offset;  // byte offset into the SOQL text
};

[[noreturn]] void Fail(const char* code, std::string detail, size_t offset) {
  throw Failure{code, std::move(detail), offset};
}

// ---------------------------------------------------------------------------
// Text helpers. SOQL compares text case-insensitively; ASCII folding is
// enough for the simulated data.

char LowerAscii(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

int CompareIgnoreCase(std::string_view a, std::string_view b) {
  size_t n = std::min(a.size(), b.size());
  for (size_t i = 0; i < n; ++i) {
    auto x = static_cast<unsigned char>(LowerAscii(a[i]));
    auto y = static_cast<unsigned char>(LowerAscii(b[i]));
    if (x != y) return x < y ? -1 : 1;
  }
  if (a.size() == b.size()) return 0;
  return a.size() < b.size() ? -1 : 1;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && CompareIgnoreCase(a, b) == 0;
}

// SOQL's text order: case-insensitive, exact text breaking ties so that the
// order is total.
bool TextLess(std::string_view a, std::string_view b) {
  int c = CompareIgnoreCase(a, b);
  return c != 0 ? c < 0 : a < b;
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsAlpha(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
bool IsIdentChar(char c) { return IsAlpha(c) || IsDigit(c) || c == '_'; }

// Length of the well-formed UTF-8 sequence at s[i], or 0 if there is none.
size_t Utf8SequenceLength(std::string_view s, size_t i) {
  auto lead = static_cast<unsigned char>(s[i]);
  if (lead < 0x80) return 1;
  size_t length = 0;
  unsigned char low = 0x80;
  unsigned char high = 0xBF;
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    if (lead == 0xE0) low = 0xA0;   // overlong
    if (lead == 0xED) high = 0x9F;  // surrogates
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    if (lead == 0xF0) low = 0x90;   // overlong
    if (lead == 0xF4) high = 0x8F;  // beyond U+10FFFF
  } else {
    return 0;
  }
  if (i + length > s.size()) return 0;
  for (size_t k = 1; k < length; ++k) {
    auto b = static_cast<unsigned char>(s[i + k]);
    if (b < (k == 1 ? low : 0x80) || b > (k == 1 ? high : 0xBF)) return 0;
  }
  return length;
}

// Error messages echo the query and end up in JSON, which must be valid
// UTF-8: malformed bytes and control characters become '?', and a tab
// becomes a space so that the caret line stays aligned. *chars receives the
// number of characters written.
std::string Printable(std::string_view s, size_t* chars = nullptr) {
  std::string out;
  size_t count = 0;
  for (size_t i = 0; i < s.size(); ++count) {
    size_t length = Utf8SequenceLength(s, i);
    if (length > 1) {
      out.append(s.substr(i, length));
      i += length;
      continue;
    }
    auto c = static_cast<unsigned char>(s[i]);
    if (c == '\t') {
      out += ' ';
    } else if (length == 0 || c < 0x20 || c == 0x7F) {
      out += '?';
    } else {
      out += static_cast<char>(c);
    }
    ++i;
  }
  if (chars != nullptr) *chars = count;
  return out;
}

QueryError ToQueryError(std::string_view soql, const Failure& failure) {
  size_t offset = std::min(failure.offset, soql.size());
  size_t line_start = 0;
  if (offset > 0) {
    size_t newline = soql.rfind('\n', offset - 1);
    if (newline != std::string_view::npos) line_start = newline + 1;
  }
  size_t row =
      1 + static_cast<size_t>(std::count(
              soql.begin(),
              soql.begin() + static_cast<std::ptrdiff_t>(line_start), '\n'));
  size_t line_end = soql.find('\n', offset);
  if (line_end == std::string_view::npos) line_end = soql.size();
  std::string_view line = soql.substr(line_start, line_end - line_start);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  size_t before = 0;
  Printable(soql.substr(line_start, offset - line_start), &before);
  size_t column = before + 1;
  std::string message = Printable(line) + "\n" + std::string(before, ' ') +
                        "^\nERROR at Row:" + std::to_string(row) +
                        ":Column:" + std::to_string(column) + "\n" +
                        Printable(failure.detail);
  return QueryError{failure.error_code, std::move(message)};
}

// ---------------------------------------------------------------------------
// Tokenizer.

enum class TokenKind {
  kIdent,     // a name or keyword; dotted paths are one token
  kString,    // text keeps the quotes and escapes
  kNumber,    // optionally negative, optionally with a fraction
  kDateTime,  // 2026-01-01 or 2026-01-01T00:00:00Z, unquoted
  kOperator,  // = != <> < <= > >=
  kLeftParen,
  kRightParen,
  kComma,
  kEnd,
};

struct Token {
  TokenKind kind;
  std::string_view text;
  size_t offset;
};

[[noreturn]] void FailUnexpected(const Token& token) {
  if (token.kind == TokenKind::kEnd) {
    Fail(kMalformedQuery, "unexpected end of query", token.offset);
  }
  Fail(kMalformedQuery, "unexpected token: '" + std::string(token.text) + "'",
       token.offset);
}

bool IsEscapable(char c) {
  return c == 'n' || c == 't' || c == 'r' || c == 'b' || c == 'f' || c == '"' ||
         c == '\'' || c == '\\' || c == '_' || c == '%';
}

char Unescape(char c) {
  switch (c) {
    case 'n':
      return '\n';
    case 't':
      return '\t';
    case 'r':
      return '\r';
    case 'b':
      return '\b';
    case 'f':
      return '\f';
    default:
      return c;
  }
}

// Whether a date literal (yyyy-mm-dd...) starts at s[i].
bool StartsDate(std::string_view s, size_t i) {
  if (i + 5 >= s.size()) return false;
  for (size_t k = 0; k < 4; ++k) {
    if (!IsDigit(s[i + k])) return false;
  }
  return s[i + 4] == '-' && IsDigit(s[i + 5]);
}

std::vector<Token> Tokenize(std::string_view soql) {
  std::vector<Token> tokens;
  size_t i = 0;
  const size_t n = soql.size();
  auto push = [&](TokenKind kind, size_t start) {
    tokens.push_back({kind, soql.substr(start, i - start), start});
  };
  while (true) {
    while (i < n && (soql[i] == ' ' || soql[i] == '\t' || soql[i] == '\n' ||
                     soql[i] == '\r' || soql[i] == '\f' || soql[i] == '\v')) {
      ++i;
    }
    if (i == n) break;
    const size_t start = i;
    const char c = soql[i];
    if (IsAlpha(c) || c == '_') {
      while (i < n && (IsIdentChar(soql[i]) || soql[i] == '.')) ++i;
      push(TokenKind::kIdent, start);
      std::string_view text = tokens.back().text;
      if (text.back() == '.' || text.find("..") != std::string_view::npos) {
        FailUnexpected(tokens.back());
      }
    } else if (StartsDate(soql, i)) {
      while (i < n && (IsIdentChar(soql[i]) || soql[i] == ':' ||
                       soql[i] == '.' || soql[i] == '+' || soql[i] == '-')) {
        ++i;
      }
      push(TokenKind::kDateTime, start);
      if (!ParseDateTime(tokens.back().text)) FailUnexpected(tokens.back());
    } else if (IsDigit(c) || (c == '-' && i + 1 < n && IsDigit(soql[i + 1]))) {
      ++i;
      while (i < n && IsDigit(soql[i])) ++i;
      if (i + 1 < n && soql[i] == '.' && IsDigit(soql[i + 1])) {
        ++i;
        while (i < n && IsDigit(soql[i])) ++i;
      }
      push(TokenKind::kNumber, start);
    } else if (c == '\'') {
      ++i;
      while (i < n && soql[i] != '\'') {
        if (soql[i] == '\\') {
          if (i + 1 < n && !IsEscapable(soql[i + 1])) {
            Fail(kMalformedQuery,
                 "Invalid string literal: illegal escape sequence '\\" +
                     std::string(1, soql[i + 1]) + "'",
                 i);
          }
          ++i;
        }
        ++i;
      }
      if (i >= n) {
        Fail(kMalformedQuery, "mismatched character '<EOF>' expecting '''", n);
      }
      ++i;
      push(TokenKind::kString, start);
    } else if (c == '(' || c == ')' || c == ',') {
      ++i;
      push(c == '('   ? TokenKind::kLeftParen
           : c == ')' ? TokenKind::kRightParen
                      : TokenKind::kComma,
           start);
    } else if (c == '=') {
      ++i;
      push(TokenKind::kOperator, start);
    } else if ((c == '!' && i + 1 < n && soql[i + 1] == '=') ||
               (c == '<' && i + 1 < n &&
                (soql[i + 1] == '=' || soql[i + 1] == '>')) ||
               (c == '>' && i + 1 < n && soql[i + 1] == '=')) {
      i += 2;
      push(TokenKind::kOperator, start);
    } else if (c == '<' || c == '>') {
      ++i;
      push(TokenKind::kOperator, start);
    } else {
      i += std::max<size_t>(1, Utf8SequenceLength(soql, i));
      push(TokenKind::kIdent, start);
      FailUnexpected(tokens.back());
    }
  }
  tokens.push_back({TokenKind::kEnd, soql.substr(n), n});
  return tokens;
}

// The text of a string token without quotes, escapes resolved. *escaped, if
// given, marks the characters that were escaped (LIKE needs to know).
std::string DecodeString(std::string_view raw,
                         std::vector<bool>* escaped = nullptr) {
  std::string out;
  for (size_t i = 1; i + 1 < raw.size(); ++i) {
    char c = raw[i];
    bool was_escaped = c == '\\';
    if (was_escaped) c = Unescape(raw[++i]);
    out += c;
    if (escaped != nullptr) escaped->push_back(was_escaped);
  }
  return out;
}

// ---------------------------------------------------------------------------
// Syntax tree and parser.

enum class Aggregate { kNone, kCount, kCountDistinct, kSum, kAvg, kMin, kMax };

std::string_view AggregateName(Aggregate fn) {
  switch (fn) {
    case Aggregate::kCount:
      return "COUNT";
    case Aggregate::kCountDistinct:
      return "COUNT_DISTINCT";
    case Aggregate::kSum:
      return "SUM";
    case Aggregate::kAvg:
      return "AVG";
    case Aggregate::kMin:
      return "MIN";
    case Aggregate::kMax:
      return "MAX";
    case Aggregate::kNone:
      break;
  }
  return "";
}

Aggregate AggregateByName(std::string_view name) {
  for (Aggregate fn :
       {Aggregate::kCount, Aggregate::kCountDistinct, Aggregate::kSum,
        Aggregate::kAvg, Aggregate::kMin, Aggregate::kMax}) {
    if (EqualsIgnoreCase(name, AggregateName(fn))) return fn;
  }
  return Aggregate::kNone;
}

// A field or relationship path as written in the query.
struct FieldRef {
  std::string_view text;
  size_t offset = 0;
};

struct SelectItem {
  Aggregate fn = Aggregate::kNone;
  bool count_all = false;  // COUNT()
  FieldRef path;
  std::string_view alias;
  size_t alias_offset = 0;
  size_t offset = 0;
};

enum class CompareOp { kEq, kNe, kLt, kLe, kGt, kGe, kIn, kNotIn, kLike };

struct Literal {
  enum class Kind { kString, kNumber, kBool, kNull, kDateTime };
  Kind kind = Kind::kNull;
  std::string_view raw;  // strings keep their quotes and escapes
  double number = 0;     // kNumber, kBool as 0/1, kDateTime as ms
};

struct Condition {
  enum class Kind { kAnd, kOr, kNot, kCompare };
  Kind kind = Kind::kCompare;
  std::vector<Condition> children;
  FieldRef path;
  CompareOp op = CompareOp::kEq;
  std::vector<Literal> values;
};

struct OrderItem {
  Aggregate fn = Aggregate::kNone;
  FieldRef path;
  size_t offset = 0;
  bool descending = false;
  bool nulls_last = false;
};

struct Query {
  std::vector<SelectItem> select;
  FieldRef object;
  std::optional<Condition> where;
  std::vector<FieldRef> group_by;
  std::vector<OrderItem> order_by;
  uint64_t limit = kNoLimit;
  uint64_t offset = 0;
};

// Words that cannot be a field name or an alias.
bool IsReserved(std::string_view word) {
  static constexpr std::string_view kReserved[] = {
      "SELECT", "FROM",  "WHERE",    "GROUP",    "BY",    "ORDER",  "LIMIT",
      "OFFSET", "AND",   "OR",       "NOT",      "IN",    "LIKE",   "ASC",
      "DESC",   "NULLS", "NULL",     "TRUE",     "FALSE", "HAVING", "WITH",
      "USING",  "FOR",   "INCLUDES", "EXCLUDES", "TYPEOF"};
  for (std::string_view reserved : kReserved) {
    if (EqualsIgnoreCase(word, reserved)) return true;
  }
  return false;
}

class Parser {
 public:
  explicit Parser(const std::vector<Token>& tokens) : tokens_(tokens) {}

  Query Parse() {
    Query query;
    ExpectKeyword("SELECT");
    do {
      query.select.push_back(ParseSelectItem());
    } while (Accept(TokenKind::kComma));
    ExpectKeyword("FROM");
    const Token& object = Next();
    if (object.kind != TokenKind::kIdent || IsReserved(object.text) ||
        object.text.find('.') != std::string_view::npos) {
      FailUnexpected(object);
    }
    query.object = {object.text, object.offset};
    if (AcceptKeyword("WHERE")) query.where = ParseOr(0);
    if (AcceptKeyword("GROUP")) {
      ExpectKeyword("BY");
      do {
        query.group_by.push_back(ParsePath());
      } while (Accept(TokenKind::kComma));
    }
    if (AcceptKeyword("ORDER")) {
      ExpectKeyword("BY");
      do {
        query.order_by.push_back(ParseOrderItem());
      } while (Accept(TokenKind::kComma));
    }
    if (AcceptKeyword("LIMIT")) query.limit = ParseCount();
    if (AcceptKeyword("OFFSET")) query.offset = ParseCount();
    if (Peek().kind != TokenKind::kEnd) FailUnexpected(Peek());
    return query;
  }

 private:
  const Token& Peek(size_t ahead = 0) const {
    return tokens_[std::min(pos_ + ahead, tokens_.size() - 1)];
  }
  const Token& Next() {
    const Token& token = Peek();
    if (pos_ + 1 < tokens_.size()) ++pos_;
    return token;
  }
  bool Accept(TokenKind kind) {
    if (Peek().kind != kind) return false;
    Next();
    return true;
  }
  void Expect(TokenKind kind) {
    if (!Accept(kind)) FailUnexpected(Peek());
  }
  bool IsKeyword(const Token& token, std::string_view keyword) const {
    return token.kind == TokenKind::kIdent &&
           EqualsIgnoreCase(token.text, keyword);
  }
  bool AcceptKeyword(std::string_view keyword) {
    if (!IsKeyword(Peek(), keyword)) return false;
    Next();
    return true;
  }
  void ExpectKeyword(std::string_view keyword) {
    if (!AcceptKeyword(keyword)) FailUnexpected(Peek());
  }

  FieldRef ParsePath() {
    const Token& token = Next();
    if (token.kind != TokenKind::kIdent || IsReserved(token.text)) {
      FailUnexpected(token);
    }
    return {token.text, token.offset};
  }

  // fn( path ) or fn() for COUNT(); the name token is current.
  void ParseCall(Aggregate* fn, bool* count_all, FieldRef* path) {
    const Token& name = Next();
    *fn = AggregateByName(name.text);
    if (*fn == Aggregate::kNone) FailUnexpected(Peek());
    Expect(TokenKind::kLeftParen);
    if (*fn == Aggregate::kCount && Peek().kind == TokenKind::kRightParen &&
        count_all != nullptr) {
      *count_all = true;
    } else {
      *path = ParsePath();
    }
    Expect(TokenKind::kRightParen);
  }

  bool AtCall() const {
    return Peek().kind == TokenKind::kIdent &&
           Peek(1).kind == TokenKind::kLeftParen;
  }

  SelectItem ParseSelectItem() {
    SelectItem item;
    item.offset = Peek().offset;
    if (AtCall()) {
      ParseCall(&item.fn, &item.count_all, &item.path);
    } else {
      item.path = ParsePath();
    }
    if (Peek().kind == TokenKind::kIdent && !IsReserved(Peek().text)) {
      // An alias must end the item; otherwise the word is more likely a
      // misspelt keyword ("SELECT Id FRM X") and is the token to report.
      const Token& alias = Next();
      if (alias.text.find('.') != std::string_view::npos ||
          (Peek().kind != TokenKind::kComma && !IsKeyword(Peek(), "FROM"))) {
        FailUnexpected(alias);
      }
      item.alias = alias.text;
      item.alias_offset = alias.offset;
    }
    return item;
  }

  OrderItem ParseOrderItem() {
    OrderItem item;
    item.offset = Peek().offset;
    if (AtCall()) {
      ParseCall(&item.fn, nullptr, &item.path);
    } else {
      item.path = ParsePath();
    }
    if (AcceptKeyword("DESC")) {
      item.descending = true;
    } else {
      AcceptKeyword("ASC");
    }
    if (AcceptKeyword("NULLS")) {
      if (AcceptKeyword("LAST")) {
        item.nulls_last = true;
      } else {
        ExpectKeyword("FIRST");
      }
    }
    return item;
  }

  uint64_t ParseCount() {
    const Token& token = Next();
    uint64_t value = 0;
    if (token.kind != TokenKind::kNumber || token.text[0] == '-' ||
        token.text.find('.') != std::string_view::npos) {
      FailUnexpected(token);
    }
    auto [end, error] = std::from_chars(
        token.text.data(), token.text.data() + token.text.size(), value);
    if (error != std::errc()) FailUnexpected(token);
    return value;
  }

  // SOQL precedence: NOT binds tighter than AND, AND tighter than OR.
  Condition ParseOr(int depth) {
    Condition first = ParseAnd(depth);
    if (!IsKeyword(Peek(), "OR")) return first;
    Condition node;
    node.kind = Condition::Kind::kOr;
    node.children.push_back(std::move(first));
    while (AcceptKeyword("OR")) node.children.push_back(ParseAnd(depth));
    return node;
  }

  Condition ParseAnd(int depth) {
    Condition first = ParseUnary(depth);
    if (!IsKeyword(Peek(), "AND")) return first;
    Condition node;
    node.kind = Condition::Kind::kAnd;
    node.children.push_back(std::move(first));
    while (AcceptKeyword("AND")) node.children.push_back(ParseUnary(depth));
    return node;
  }

  Condition ParseUnary(int depth) {
    if (depth >= kMaxNesting) {
      Fail(kMalformedQuery,
           "conditions nested more than " + std::to_string(kMaxNesting) +
               " levels deep are not supported",
           Peek().offset);
    }
    if (AcceptKeyword("NOT")) {
      Condition node;
      node.kind = Condition::Kind::kNot;
      node.children.push_back(ParseUnary(depth + 1));
      return node;
    }
    if (Accept(TokenKind::kLeftParen)) {
      Condition inner = ParseOr(depth + 1);
      Expect(TokenKind::kRightParen);
      return inner;
    }
    return ParseComparison();
  }

  Condition ParseComparison() {
    Condition node;
    node.path = ParsePath();
    const Token& token = Peek();
    if (token.kind == TokenKind::kOperator) {
      Next();
      std::string_view op = token.text;
      node.op = op == "="    ? CompareOp::kEq
                : op == "<"  ? CompareOp::kLt
                : op == "<=" ? CompareOp::kLe
                : op == ">"  ? CompareOp::kGt
                : op == ">=" ? CompareOp::kGe
                             : CompareOp::kNe;
      node.values.push_back(ParseLiteral());
    } else if (AcceptKeyword("LIKE")) {
      node.op = CompareOp::kLike;
      node.values.push_back(ParseLiteral());
    } else if (AcceptKeyword("IN")) {
      node.op = CompareOp::kIn;
      ParseList(&node.values);
    } else if (AcceptKeyword("NOT")) {
      ExpectKeyword("IN");
      node.op = CompareOp::kNotIn;
      ParseList(&node.values);
    } else {
      FailUnexpected(token);
    }
    return node;
  }

  void ParseList(std::vector<Literal>* values) {
    Expect(TokenKind::kLeftParen);
    do {
      values->push_back(ParseLiteral());
    } while (Accept(TokenKind::kComma));
    Expect(TokenKind::kRightParen);
  }

  Literal ParseLiteral() {
    const Token& token = Next();
    Literal literal;
    literal.raw = token.text;
    switch (token.kind) {
      case TokenKind::kString:
        literal.kind = Literal::Kind::kString;
        return literal;
      case TokenKind::kNumber: {
        literal.kind = Literal::Kind::kNumber;
        auto [end, error] = std::from_chars(
            token.text.data(), token.text.data() + token.text.size(),
            literal.number);
        if (error != std::errc() || !std::isfinite(literal.number)) {
          FailUnexpected(token);
        }
        return literal;
      }
      case TokenKind::kDateTime:
        literal.kind = Literal::Kind::kDateTime;
        literal.number = ParseDateTime(token.text).value_or(0);
        return literal;
      case TokenKind::kIdent:
        if (EqualsIgnoreCase(token.text, "null")) {
          literal.kind = Literal::Kind::kNull;
          return literal;
        }
        if (EqualsIgnoreCase(token.text, "true") ||
            EqualsIgnoreCase(token.text, "false")) {
          literal.kind = Literal::Kind::kBool;
          literal.number = EqualsIgnoreCase(token.text, "true") ? 1 : 0;
          return literal;
        }
        break;
      default:
        break;
    }
    FailUnexpected(token);
  }

  const std::vector<Token>& tokens_;
  size_t pos_ = 0;
};

// ---------------------------------------------------------------------------
// Compiled plan.

// One step of a relationship path: the reference column of the table we
// are on, and the target row for each of its dictionary codes.
struct Hop {
  const Column* reference = nullptr;
  const std::vector<uint32_t>* target_rows = nullptr;
  const Table* target = nullptr;
  std::string_view relationship;  // canonical, the key in nested records
};

struct Path {
  std::vector<Hop> hops;
  const Table* table = nullptr;  // the table holding the leaf field
  const FieldDef* field = nullptr;
  const Column* column = nullptr;
  std::string key;  // canonical and lower case, to compare paths
  std::string_view written;
  size_t offset = 0;

  // The leaf table's row for a base row, kAbsent through a null or dangling
  // reference.
  uint32_t LeafRow(uint32_t row) const {
    for (const Hop& hop : hops) {
      row = (*hop.target_rows)[hop.reference->code(row)];
      if (row == kAbsent) return kAbsent;
    }
    return row;
  }
  // Text leaves only: the dictionary code, 0 for null.
  uint32_t TextCode(uint32_t row) const {
    row = LeafRow(row);
    return row == kAbsent ? 0 : column->code(row);
  }
  Value Get(uint32_t row) const {
    row = LeafRow(row);
    return row == kAbsent ? Value::Null() : column->Get(row);
  }
  bool IsNull(uint32_t row) const {
    return column->is_text() ? TextCode(row) == 0 : Get(row).is_null();
  }
};

struct Predicate {
  enum class Kind { kAnd, kOr, kNot, kText, kValue };
  Kind kind = Kind::kValue;
  std::vector<Predicate> children;
  const Path* path = nullptr;
  std::vector<uint8_t> text_match;  // kText: verdict by dictionary code
  CompareOp op = CompareOp::kEq;    // kValue
  std::vector<double> numbers;      // kValue: the non-null literals
  bool literal_null = false;        // kValue: a literal (or list item) is null
};

// SOQL treats null as a value for = != IN and NOT IN (so != 'x' matches a
// null field), while ordering comparisons and LIKE never match null.
template <typename T, typename Compare>
bool Satisfies(CompareOp op, const T* value, bool literal_null,
               const std::vector<T>& literals, Compare compare) {
  if (value == nullptr) {
    switch (op) {
      case CompareOp::kEq:
      case CompareOp::kIn:
        return literal_null;
      case CompareOp::kNe:
      case CompareOp::kNotIn:
        return !literal_null;
      default:
        return false;
    }
  }
  switch (op) {
    case CompareOp::kEq:
    case CompareOp::kIn:
      for (const T& literal : literals) {
        if (compare(*value, literal) == 0) return true;
      }
      return false;
    case CompareOp::kNe:
    case CompareOp::kNotIn:
      for (const T& literal : literals) {
        if (compare(*value, literal) == 0) return false;
      }
      return true;
    case CompareOp::kLt:
      return !literals.empty() && compare(*value, literals[0]) < 0;
    case CompareOp::kLe:
      return !literals.empty() && compare(*value, literals[0]) <= 0;
    case CompareOp::kGt:
      return !literals.empty() && compare(*value, literals[0]) > 0;
    case CompareOp::kGe:
      return !literals.empty() && compare(*value, literals[0]) >= 0;
    case CompareOp::kLike:
      break;
  }
  return false;
}

int CompareNumbers(double a, double b) { return a < b ? -1 : (a > b ? 1 : 0); }

bool Matches(const Predicate& p, uint32_t row) {
  switch (p.kind) {
    case Predicate::Kind::kAnd:
      for (const Predicate& child : p.children) {
        if (!Matches(child, row)) return false;
      }
      return true;
    case Predicate::Kind::kOr:
      for (const Predicate& child : p.children) {
        if (Matches(child, row)) return true;
      }
      return false;
    case Predicate::Kind::kNot:
      return !Matches(p.children[0], row);
    case Predicate::Kind::kText:
      return p.text_match[p.path->TextCode(row)] != 0;
    case Predicate::Kind::kValue: {
      Value value = p.path->Get(row);
      return Satisfies<double>(p.op, value.is_null() ? nullptr : &value.number,
                               p.literal_null, p.numbers, CompareNumbers);
    }
  }
  return false;
}

// LIKE: '%' is any run of characters, '_' exactly one; both can be escaped.
struct LikeStep {
  enum class Kind : uint8_t { kChar, kOne, kAny };
  Kind kind;
  char c;  // kChar, lower case
};

std::vector<LikeStep> CompileLike(std::string_view raw) {
  std::vector<bool> escaped;
  std::string text = DecodeString(raw, &escaped);
  std::vector<LikeStep> steps;
  for (size_t i = 0; i < text.size(); ++i) {
    if (!escaped[i] && text[i] == '%') {
      if (steps.empty() || steps.back().kind != LikeStep::Kind::kAny) {
        steps.push_back({LikeStep::Kind::kAny, 0});
      }
    } else if (!escaped[i] && text[i] == '_') {
      steps.push_back({LikeStep::Kind::kOne, 0});
    } else {
      steps.push_back({LikeStep::Kind::kChar, LowerAscii(text[i])});
    }
  }
  return steps;
}

// Index of the character after the one starting at s[i]; '_' matches a
// whole UTF-8 character.
size_t NextChar(std::string_view s, size_t i) {
  return i + std::max<size_t>(1, Utf8SequenceLength(s, i));
}

// Greedy matching with one backtrack point: linear in practice and never
// exponential, whatever the pattern.
bool LikeMatches(std::string_view s, const std::vector<LikeStep>& steps) {
  size_t i = 0;
  size_t j = 0;
  size_t star = std::string_view::npos;
  size_t mark = 0;
  while (i < s.size()) {
    if (j < steps.size() && steps[j].kind == LikeStep::Kind::kOne) {
      i = NextChar(s, i);
      ++j;
    } else if (j < steps.size() && steps[j].kind == LikeStep::Kind::kChar &&
               steps[j].c == LowerAscii(s[i])) {
      ++i;
      ++j;
    } else if (j < steps.size() && steps[j].kind == LikeStep::Kind::kAny) {
      star = j++;
      mark = i;
    } else if (star != std::string_view::npos) {
      j = star + 1;
      mark = NextChar(s, mark);
      i = mark;
    } else {
      return false;
    }
  }
  while (j < steps.size() && steps[j].kind == LikeStep::Kind::kAny) ++j;
  return j == steps.size();
}

struct AggregateSpec {
  Aggregate fn = Aggregate::kNone;
  const Path* path = nullptr;
  bool count_rows = false;  // COUNT of a never-null field: count records
  // MIN/MAX of text sorted on in ORDER BY: ranks of the dictionary.
  const std::vector<uint32_t>* ranks = nullptr;
};

struct Accumulator {
  int64_t count = 0;
  double sum = 0;
  double best = 0;         // MIN/MAX of numbers and datetimes
  uint32_t best_code = 0;  // MIN/MAX of text: the dictionary code
  bool has_best = false;
};

// A column of an AggregateResult row.
struct OutputColumn {
  std::string key;
  size_t group = kAbsent;      // index into Plan::group_by
  size_t aggregate = kAbsent;  // index into Plan::aggregates
};

struct SortKey {
  const Path* path = nullptr;  // the record's (or group's) field value
  size_t aggregate = kAbsent;  // or an aggregate's result
  const std::vector<uint32_t>* ranks = nullptr;  // text sorts by rank
  bool descending = false;
  bool nulls_last = false;
};

struct SortValue {
  bool null = true;
  double value = 0;
};

Json ValueJson(FieldType type, const Value& value) {
  if (value.is_null()) return nullptr;
  switch (type) {
    case FieldType::kBoolean:
      return value.number != 0;
    case FieldType::kInt:
      if (std::fabs(value.number) < 9e18) {
        return static_cast<int64_t>(value.number);
      }
      return value.number;
    case FieldType::kDouble:
      return value.number;
    case FieldType::kDateTime:
      return FormatDateTime(value.number);
    default:
      return std::string(value.text);
  }
}

std::string ToLowerAscii(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = LowerAscii(c);
  return out;
}

// Assigns a dense group id to each distinct combination of the GROUP BY
// values. Text values group by dictionary code (a vector lookup, no
// hashing); other values and second and later fields go through hash maps.
class Grouper {
 public:
  explicit Grouper(const std::vector<const Path*>& paths)
      : paths_(paths),
        value_codes_(paths.size()),
        pair_ids_(paths.empty() ? 0 : paths.size() - 1) {
    if (!paths_.empty() && paths_[0]->column->is_text()) {
      first_ids_.assign(paths_[0]->column->dictionary_size(), kAbsent);
    }
  }

  uint32_t Find(uint32_t row, bool* is_new) {
    uint32_t code = KeyCode(0, row);
    if (code >= first_ids_.size()) first_ids_.resize(code + 1, kAbsent);
    uint32_t& first = first_ids_[code];
    *is_new = first == kAbsent;
    if (first == kAbsent) first = first_count_++;
    uint32_t id = first;
    for (size_t level = 1; level < paths_.size(); ++level) {
      uint64_t key = (uint64_t{id} << 32) | KeyCode(level, row);
      auto& ids = pair_ids_[level - 1];
      auto [it, inserted] =
          ids.try_emplace(key, static_cast<uint32_t>(ids.size()));
      *is_new = inserted;
      id = it->second;
    }
    return id;
  }

 private:
  uint32_t KeyCode(size_t level, uint32_t row) {
    const Path& path = *paths_[level];
    if (path.column->is_text()) return path.TextCode(row);
    Value value = path.Get(row);
    if (value.is_null()) return 0;
    auto& codes = value_codes_[level];
    auto [it, inserted] = codes.try_emplace(
        value.number, static_cast<uint32_t>(codes.size() + 1));
    return it->second;
  }

  const std::vector<const Path*>& paths_;
  std::vector<std::unordered_map<double, uint32_t>> value_codes_;
  std::vector<uint32_t> first_ids_;
  uint32_t first_count_ = 0;
  std::vector<std::unordered_map<uint64_t, uint32_t>> pair_ids_;
};

// The compiled query and, once run, its result. Immutable after RunQuery
// returns, so record() may be called from any thread.
struct Plan {
  std::shared_ptr<const Inventory> inventory;
  std::string api_version;
  const Table* table = nullptr;
  bool aggregate = false;
  bool count_only = false;

  std::deque<Path> paths;  // a deque: Path pointers stay valid
  std::unordered_map<const Column*, std::vector<uint32_t>> hop_rows;
  std::unordered_map<const Column*, std::vector<uint32_t>> ranks;

  std::optional<Predicate> where;
  std::vector<const Path*> selected;  // non-aggregate, in SELECT order
  std::vector<const Path*> group_by;
  std::vector<AggregateSpec> aggregates;  // SELECT's, then ORDER BY's
  std::vector<OutputColumn> outputs;      // aggregate rows
  std::vector<SortKey> sort_keys;
  uint64_t limit = kNoLimit;
  uint64_t offset = 0;

  size_t count = 0;                  // SELECT COUNT()
  std::vector<uint32_t> result;      // records or group ids, in output order
  std::vector<uint32_t> group_rows;  // a record of each group
  std::vector<Accumulator> accumulators;  // [group * aggregates + index]

  // Compilation.
  const Path& ResolvePath(const FieldRef& ref);
  const std::vector<uint32_t>& HopRows(const Column& reference,
                                       const Table& target);
  const std::vector<uint32_t>& Ranks(const Column& column);
  Predicate CompileCondition(const Condition& condition);
  size_t AddAggregate(Aggregate fn, const FieldRef& ref, size_t at);
  void Compile(const Query& query);

  // Evaluation.
  void Run();
  void RunAggregate();
  template <typename ValueOf>
  void Sort(ValueOf value_of);
  void ApplyWindow(std::vector<uint32_t>* items) const;
  SortValue PathSortValue(const SortKey& key, uint32_t row) const;
  SortValue AggregateSortValue(size_t aggregate, uint32_t group) const;

  // Rendering.
  Json Render(size_t i) const;
  Json Attributes(const Table& of, uint32_t row) const;
  Json RenderRecord(uint32_t row) const;
  Json RenderGroup(uint32_t group) const;
};

const std::vector<uint32_t>& Plan::HopRows(const Column& reference,
                                           const Table& target) {
  auto [it, inserted] = hop_rows.try_emplace(&reference);
  if (inserted) {
    std::vector<uint32_t>& rows = it->second;
    rows.assign(reference.dictionary_size(), kAbsent);
    for (uint32_t code = 1; code < rows.size(); ++code) {
      if (auto row = target.FindById(reference.dictionary(code))) {
        rows[code] = static_cast<uint32_t>(*row);
      }
    }
  }
  return it->second;
}

// Rank of each dictionary code in case-insensitive order (ties broken by
// exact text), so that sorting and MIN/MAX compare integers.
const std::vector<uint32_t>& Plan::Ranks(const Column& column) {
  auto [it, inserted] = ranks.try_emplace(&column);
  if (!inserted) return it->second;
  // Sorting codes by indirection into a million heap strings is dominated
  // by cache misses (seconds); sorting on an inline lower-case prefix and
  // reading the strings only on ties takes a fraction of that.
  struct Entry {
    uint64_t prefix[2];
    uint32_t code;
  };
  std::vector<Entry> entries(column.dictionary_size() - 1);
  for (uint32_t code = 1; code < column.dictionary_size(); ++code) {
    std::string_view text = column.dictionary(code);
    Entry& entry = entries[code - 1];
    entry.code = code;
    for (size_t i = 0; i < 16; ++i) {
      uint64_t byte =
          i < text.size() ? static_cast<unsigned char>(LowerAscii(text[i])) : 0;
      uint64_t& word = entry.prefix[i / 8];
      word = (i % 8 == 0 ? 0 : word << 8) | byte;
    }
  }
  std::sort(
      entries.begin(), entries.end(), [&](const Entry& a, const Entry& b) {
        if (a.prefix[0] != b.prefix[0]) return a.prefix[0] < b.prefix[0];
        if (a.prefix[1] != b.prefix[1]) return a.prefix[1] < b.prefix[1];
        return TextLess(column.dictionary(a.code), column.dictionary(b.code));
      });
  std::vector<uint32_t>& rank = it->second;
  rank.assign(column.dictionary_size(), 0);
  for (size_t i = 0; i < entries.size(); ++i) {
    rank[entries[i].code] = static_cast<uint32_t>(i + 1);
  }
  return rank;
}

const Path& Plan::ResolvePath(const FieldRef& ref) {
  Path path;
  path.written = ref.text;
  path.offset = ref.offset;
  const Table* current = table;
  size_t start = 0;
  while (true) {
    size_t dot = ref.text.find('.', start);
    std::string_view segment = ref.text.substr(
        start, dot == std::string_view::npos ? dot : dot - start);
    if (dot == std::string_view::npos) {
      int index = current->FieldIndex(segment);
      if (index < 0) {
        Fail(kInvalidField,
             "No such column '" + std::string(segment) + "' on entity '" +
                 current->def().name +
                 "'. If you are attempting to use a custom field, be sure to "
                 "append the '__c' after the custom field name. Please "
                 "reference your WSDL or the describe call for the "
                 "appropriate names.",
             ref.offset);
      }
      auto field_index = static_cast<size_t>(index);
      path.table = current;
      path.field = &current->def().fields[field_index];
      path.column = &current->column(field_index);
      path.key += ToLowerAscii(path.field->name);
      break;
    }
    const FieldDef* reference = current->FindRelationship(segment);
    const Table* target =
        reference ? inventory->FindTable(reference->reference_to) : nullptr;
    if (target == nullptr) {
      Fail(kInvalidField,
           "Didn't understand relationship '" + std::string(segment) +
               "' in field path. If you are attempting to use a custom "
               "relationship, be sure to append the '__r' after the custom "
               "relationship name. Please reference your WSDL or the "
               "describe call for the appropriate names.",
           ref.offset);
    }
    const Column& column = current->column(reference->name);
    path.hops.push_back({&column, &HopRows(column, *target), target,
                         reference->relationship_name});
    path.key += ToLowerAscii(reference->relationship_name) + ".";
    current = target;
    start = dot + 1;
  }
  paths.push_back(std::move(path));
  return paths.back();
}

// Salesforce checks each literal against the field's type.
void CheckLiteral(const Path& path, const Literal& literal) {
  if (literal.kind == Literal::Kind::kNull) return;
  Literal::Kind want = Literal::Kind::kNumber;
  const char* type_name = "double";
  switch (path.field->type) {
    case FieldType::kId:
    case FieldType::kReference:
      want = Literal::Kind::kString;
      type_name = "id";
      break;
    case FieldType::kString:
    case FieldType::kPicklist:
      want = Literal::Kind::kString;
      type_name = "string";
      break;
    case FieldType::kBoolean:
      want = Literal::Kind::kBool;
      type_name = "boolean";
      break;
    case FieldType::kInt:
      type_name = "integer";
      break;
    case FieldType::kDouble:
      break;
    case FieldType::kDateTime:
      want = Literal::Kind::kDateTime;
      type_name = "dateTime";
      break;
  }
  if (literal.kind == want) return;
  Fail(kInvalidField,
       "value of filter criterion for field '" + std::string(path.written) +
           "' must be of type " + type_name + " and should " +
           (want == Literal::Kind::kString ? "" : "not ") +
           "be enclosed in quotes",
       path.offset);
}

Predicate Plan::CompileCondition(const Condition& condition) {
  Predicate p;
  if (condition.kind != Condition::Kind::kCompare) {
    p.kind = condition.kind == Condition::Kind::kAnd  ? Predicate::Kind::kAnd
             : condition.kind == Condition::Kind::kOr ? Predicate::Kind::kOr
                                                      : Predicate::Kind::kNot;
    for (const Condition& child : condition.children) {
      p.children.push_back(CompileCondition(child));
    }
    return p;
  }
  const Path& path = ResolvePath(condition.path);
  for (const Literal& literal : condition.values) CheckLiteral(path, literal);
  p.path = &path;
  p.op = condition.op;
  // LIKE null can only mean "is null".
  if (p.op == CompareOp::kLike &&
      condition.values[0].kind == Literal::Kind::kNull) {
    p.op = CompareOp::kEq;
  }
  for (const Literal& literal : condition.values) {
    if (literal.kind == Literal::Kind::kNull) p.literal_null = true;
  }

  if (!path.column->is_text()) {
    p.kind = Predicate::Kind::kValue;
    for (const Literal& literal : condition.values) {
      if (literal.kind != Literal::Kind::kNull) {
        p.numbers.push_back(literal.number);
      }
    }
    return p;
  }

  // Text: decide once per dictionary entry; code 0 is null.
  p.kind = Predicate::Kind::kText;
  const Column& column = *path.column;
  p.text_match.assign(column.dictionary_size(), 0);
  if (p.op == CompareOp::kLike) {
    std::vector<LikeStep> steps = CompileLike(condition.values[0].raw);
    for (uint32_t code = 1; code < p.text_match.size(); ++code) {
      p.text_match[code] = LikeMatches(column.dictionary(code), steps);
    }
    return p;
  }
  std::vector<std::string> texts;
  for (const Literal& literal : condition.values) {
    if (literal.kind != Literal::Kind::kNull) {
      texts.push_back(DecodeString(literal.raw));
    }
  }
  std::vector<std::string_view> views(texts.begin(), texts.end());
  p.text_match[0] = Satisfies<std::string_view>(p.op, nullptr, p.literal_null,
                                                views, CompareIgnoreCase);
  bool equality = p.op == CompareOp::kEq || p.op == CompareOp::kIn ||
                  p.op == CompareOp::kNe || p.op == CompareOp::kNotIn;
  if (equality && texts.size() > 8) {
    // A long IN list against a large dictionary: hash instead of comparing
    // every pair.
    std::unordered_set<std::string> wanted;
    for (const std::string& text : texts) wanted.insert(ToLowerAscii(text));
    bool positive = p.op == CompareOp::kEq || p.op == CompareOp::kIn;
    std::string lowered;
    for (uint32_t code = 1; code < p.text_match.size(); ++code) {
      lowered.assign(column.dictionary(code));
      for (char& c : lowered) c = LowerAscii(c);
      p.text_match[code] = wanted.count(lowered) > 0 ? positive : !positive;
    }
    return p;
  }
  for (uint32_t code = 1; code < p.text_match.size(); ++code) {
    std::string_view text = column.dictionary(code);
    p.text_match[code] = Satisfies<std::string_view>(
        p.op, &text, p.literal_null, views, CompareIgnoreCase);
  }
  return p;
}

size_t Plan::AddAggregate(Aggregate fn, const FieldRef& ref, size_t at) {
  const Path& path = ResolvePath(ref);
  FieldType type = path.field->type;
  bool numeric = type == FieldType::kInt || type == FieldType::kDouble;
  bool supported = true;
  if (fn == Aggregate::kSum || fn == Aggregate::kAvg) {
    supported = numeric;
  } else if (fn == Aggregate::kMin || fn == Aggregate::kMax) {
    supported = numeric || type == FieldType::kDateTime || IsTextType(type);
  }
  if (!supported) {
    Fail(kInvalidField,
         "field " + std::string(ref.text) +
             " does not support aggregate operator " +
             std::string(AggregateName(fn)),
         at);
  }
  AggregateSpec spec;
  spec.fn = fn;
  spec.path = &path;
  spec.count_rows =
      fn == Aggregate::kCount && path.hops.empty() && type == FieldType::kId;
  aggregates.push_back(spec);
  return aggregates.size() - 1;
}

void Plan::Compile(const Query& query) {
  table = inventory->FindTable(query.object.text);
  if (table == nullptr) {
    Fail(kInvalidType,
         "sObject type '" + std::string(query.object.text) +
             "' is not supported. If you are attempting to use a custom "
             "object, be sure to append the '__c' after the entity name. "
             "Please reference your WSDL or the describe call for the "
             "appropriate names.",
         query.object.offset);
  }
  limit = query.limit;
  offset = query.offset;

  bool has_function = false;
  for (const SelectItem& item : query.select) {
    if (item.fn != Aggregate::kNone) has_function = true;
    if (!item.count_all) continue;
    if (query.select.size() != 1) {
      Fail(kMalformedQuery,
           "COUNT() must be the only element in the SELECT list", item.offset);
    }
    if (!query.group_by.empty()) {
      Fail(kMalformedQuery, "COUNT() can not be used with GROUP BY",
           query.group_by[0].offset);
    }
    if (!query.order_by.empty()) {
      Fail(kMalformedQuery, "COUNT() can not be used with ORDER BY",
           query.order_by[0].offset);
    }
    count_only = true;
  }
  for (const OrderItem& item : query.order_by) {
    if (item.fn != Aggregate::kNone) has_function = true;
  }
  aggregate = !count_only && (has_function || !query.group_by.empty());

  // Resolve the SELECT list first, as Salesforce reports its fields first.
  std::vector<const Path*> item_paths;
  std::vector<size_t> item_aggregates;
  if (!count_only) {
    for (const SelectItem& item : query.select) {
      if (item.fn == Aggregate::kNone) {
        item_paths.push_back(&ResolvePath(item.path));
        item_aggregates.push_back(kAbsent);
      } else {
        item_paths.push_back(nullptr);
        item_aggregates.push_back(
            AddAggregate(item.fn, item.path, item.offset));
      }
    }
  }
  if (query.where) where = CompileCondition(*query.where);
  for (const FieldRef& ref : query.group_by) {
    const Path& path = ResolvePath(ref);
    if (!path.field->groupable) {
      Fail(kInvalidField,
           "field '" + std::string(ref.text) +
               "' can not be grouped in a query call",
           ref.offset);
    }
    group_by.push_back(&path);
  }
  if (count_only) return;

  if (!aggregate) {
    std::vector<std::string_view> keys;
    for (size_t i = 0; i < query.select.size(); ++i) {
      const SelectItem& item = query.select[i];
      if (!item.alias.empty()) {
        Fail(kMalformedQuery, "Only aggregate expressions use field aliasing",
             item.alias_offset);
      }
      if (std::find(keys.begin(), keys.end(), item_paths[i]->key) !=
          keys.end()) {
        Fail(kMalformedQuery,
             "duplicate field selected: " + std::string(item.path.text),
             item.offset);
      }
      keys.push_back(item_paths[i]->key);
      selected.push_back(item_paths[i]);
    }
    for (const OrderItem& item : query.order_by) {
      SortKey key;
      key.path = &ResolvePath(item.path);
      key.descending = item.descending;
      key.nulls_last = item.nulls_last;
      if (key.path->column->is_text()) key.ranks = &Ranks(*key.path->column);
      sort_keys.push_back(key);
    }
    return;
  }

  auto find_group = [&](const Path& path) {
    for (size_t g = 0; g < group_by.size(); ++g) {
      if (group_by[g]->key == path.key) return g;
    }
    return size_t{kAbsent};
  };
  std::vector<std::string> lower_keys;
  size_t unaliased = 0;
  for (size_t i = 0; i < query.select.size(); ++i) {
    const SelectItem& item = query.select[i];
    OutputColumn output;
    if (item.fn == Aggregate::kNone) {
      output.group = find_group(*item_paths[i]);
      if (output.group == kAbsent) {
        Fail(kMalformedQuery,
             "Field must be grouped or aggregated: " +
                 std::string(item.path.text),
             item.offset);
      }
      // Relationship paths are flattened to the leaf field's name.
      output.key = item.alias.empty() ? item_paths[i]->field->name
                                      : std::string(item.alias);
    } else {
      output.aggregate = item_aggregates[i];
      output.key = item.alias.empty() ? "expr" + std::to_string(unaliased++)
                                      : std::string(item.alias);
    }
    std::string lower = ToLowerAscii(output.key);
    if (std::find(lower_keys.begin(), lower_keys.end(), lower) !=
        lower_keys.end()) {
      Fail(kMalformedQuery, "duplicate alias: " + output.key,
           item.alias.empty() ? item.offset : item.alias_offset);
    }
    lower_keys.push_back(std::move(lower));
    outputs.push_back(std::move(output));
  }

  for (const OrderItem& item : query.order_by) {
    SortKey key;
    key.descending = item.descending;
    key.nulls_last = item.nulls_last;
    const OutputColumn* aliased = nullptr;
    if (item.fn == Aggregate::kNone) {
      for (size_t i = 0; i < query.select.size(); ++i) {
        if (!query.select[i].alias.empty() &&
            EqualsIgnoreCase(query.select[i].alias, item.path.text)) {
          aliased = &outputs[i];
        }
      }
    }
    if (item.fn != Aggregate::kNone) {
      key.aggregate = AddAggregate(item.fn, item.path, item.offset);
    } else if (aliased != nullptr && aliased->aggregate != kAbsent) {
      key.aggregate = aliased->aggregate;
    } else if (aliased != nullptr) {
      key.path = group_by[aliased->group];
    } else {
      size_t group = find_group(ResolvePath(item.path));
      if (group == kAbsent) {
        Fail(kMalformedQuery,
             "Ordered field must be grouped or aggregated: " +
                 std::string(item.path.text),
             item.offset);
      }
      key.path = group_by[group];
    }
    if (key.path != nullptr && key.path->column->is_text()) {
      key.ranks = &Ranks(*key.path->column);
    }
    if (key.aggregate != kAbsent) {
      AggregateSpec& spec = aggregates[key.aggregate];
      if (spec.fn != Aggregate::kCount &&
          spec.fn != Aggregate::kCountDistinct &&
          spec.path->column->is_text()) {
        spec.ranks = &Ranks(*spec.path->column);
      }
    }
    sort_keys.push_back(key);
  }
  // Groups come out ordered by their values, nulls first, unless ORDER BY
  // says otherwise; the same keys break ORDER BY's ties.
  for (const Path* path : group_by) {
    SortKey key;
    key.path = path;
    if (path->column->is_text()) key.ranks = &Ranks(*path->column);
    sort_keys.push_back(key);
  }
}

// ---------------------------------------------------------------------------
// Evaluation.

void Plan::ApplyWindow(std::vector<uint32_t>* items) const {
  size_t start = static_cast<size_t>(std::min<uint64_t>(offset, items->size()));
  size_t end = start + static_cast<size_t>(
                           std::min<uint64_t>(limit, items->size() - start));
  items->erase(items->begin() + static_cast<std::ptrdiff_t>(end), items->end());
  items->erase(items->begin(),
               items->begin() + static_cast<std::ptrdiff_t>(start));
}

SortValue Plan::PathSortValue(const SortKey& key, uint32_t row) const {
  if (key.ranks != nullptr) {
    uint32_t code = key.path->TextCode(row);
    if (code == 0) return {};
    return {false, static_cast<double>((*key.ranks)[code])};
  }
  Value value = key.path->Get(row);
  if (value.is_null()) return {};
  return {false, value.number};
}

SortValue Plan::AggregateSortValue(size_t index, uint32_t group) const {
  const Accumulator& acc = accumulators[group * aggregates.size() + index];
  switch (aggregates[index].fn) {
    case Aggregate::kCount:
    case Aggregate::kCountDistinct:
      return {false, static_cast<double>(acc.count)};
    case Aggregate::kSum:
      if (acc.count == 0) return {};
      return {false, acc.sum};
    case Aggregate::kAvg:
      if (acc.count == 0) return {};
      return {false, acc.sum / static_cast<double>(acc.count)};
    default:
      if (!acc.has_best) return {};
      if (aggregates[index].ranks != nullptr) {
        return {false,
                static_cast<double>((*aggregates[index].ranks)[acc.best_code])};
      }
      return {false, acc.best};
  }
}

// Stable sort of result by sort_keys; value_of(item, key) gives the key.
template <typename ValueOf>
void Plan::Sort(ValueOf value_of) {
  const size_t k = sort_keys.size();
  if (k == 0 || result.size() < 2) return;
  std::vector<SortValue> values(result.size() * k);
  for (size_t i = 0; i < result.size(); ++i) {
    for (size_t s = 0; s < k; ++s) {
      values[i * k + s] = value_of(result[i], sort_keys[s]);
    }
  }
  std::vector<uint32_t> order(result.size());
  std::iota(order.begin(), order.end(), 0u);
  std::stable_sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) {
    for (size_t s = 0; s < k; ++s) {
      const SortValue& x = values[a * k + s];
      const SortValue& y = values[b * k + s];
      if (x.null && y.null) continue;
      if (x.null) return !sort_keys[s].nulls_last;
      if (y.null) return sort_keys[s].nulls_last;
      if (x.value != y.value) {
        return sort_keys[s].descending ? x.value > y.value : x.value < y.value;
      }
    }
    return false;
  });
  std::vector<uint32_t> sorted(result.size());
  for (size_t i = 0; i < order.size(); ++i) sorted[i] = result[order[i]];
  result = std::move(sorted);
}

void Plan::Run() {
  const auto rows = static_cast<uint32_t>(table->rows());
  const Predicate* filter = where ? &*where : nullptr;
  if (aggregate) {
    RunAggregate();
    return;
  }
  // Without ORDER BY the scan can stop once the window is full.
  uint64_t wanted = limit > kNoLimit - offset ? kNoLimit : offset + limit;
  if (!sort_keys.empty()) wanted = kNoLimit;
  if (count_only) {
    uint64_t matched = 0;
    for (uint32_t row = 0; row < rows && matched < wanted; ++row) {
      if (filter == nullptr || Matches(*filter, row)) ++matched;
    }
    uint64_t after_offset = matched > offset ? matched - offset : 0;
    count = static_cast<size_t>(std::min(after_offset, limit));
    return;
  }
  for (uint32_t row = 0; row < rows && result.size() < wanted; ++row) {
    if (filter == nullptr || Matches(*filter, row)) result.push_back(row);
  }
  Sort([&](uint32_t row, const SortKey& key) {
    return PathSortValue(key, row);
  });
  ApplyWindow(&result);
}

void Plan::RunAggregate() {
  const auto rows = static_cast<uint32_t>(table->rows());
  const Predicate* filter = where ? &*where : nullptr;
  const size_t n = aggregates.size();
  Grouper grouper(group_by);
  // Without GROUP BY there is exactly one group, even over no records.
  if (group_by.empty()) {
    group_rows.push_back(kAbsent);
    accumulators.resize(n);
  }
  std::vector<std::vector<std::pair<uint32_t, uint64_t>>> distinct(n);
  for (uint32_t row = 0; row < rows; ++row) {
    if (filter != nullptr && !Matches(*filter, row)) continue;
    uint32_t group = 0;
    if (!group_by.empty()) {
      bool is_new = false;
      group = grouper.Find(row, &is_new);
      if (is_new) {
        group_rows.push_back(row);
        accumulators.resize(group_rows.size() * n);
      }
    }
    Accumulator* accs = accumulators.data() + size_t{group} * n;
    for (size_t a = 0; a < n; ++a) {
      const AggregateSpec& spec = aggregates[a];
      Accumulator& acc = accs[a];
      const Path& path = *spec.path;
      switch (spec.fn) {
        case Aggregate::kCount:
          if (spec.count_rows || !path.IsNull(row)) ++acc.count;
          break;
        case Aggregate::kCountDistinct:
          if (path.column->is_text()) {
            uint32_t code = path.TextCode(row);
            if (code != 0) distinct[a].emplace_back(group, code);
          } else {
            Value value = path.Get(row);
            if (!value.is_null()) {
              double number = value.number == 0 ? 0 : value.number;
              uint64_t bits = 0;
              std::memcpy(&bits, &number, sizeof bits);
              distinct[a].emplace_back(group, bits);
            }
          }
          break;
        case Aggregate::kSum:
        case Aggregate::kAvg: {
          Value value = path.Get(row);
          if (!value.is_null()) {
            acc.sum += value.number;
            ++acc.count;
          }
          break;
        }
        case Aggregate::kMin:
        case Aggregate::kMax: {
          bool is_min = spec.fn == Aggregate::kMin;
          if (path.column->is_text()) {
            // Rows arrive in dictionary order more or less, so comparing
            // the strings here reads memory sequentially; ranking a large
            // dictionary would cost far more.
            uint32_t code = path.TextCode(row);
            if (code == 0 || code == acc.best_code) break;
            if (!acc.has_best ||
                TextLess(path.column->dictionary(code),
                         path.column->dictionary(acc.best_code)) == is_min) {
              acc.best_code = code;
              acc.has_best = true;
            }
            break;
          }
          Value value = path.Get(row);
          if (value.is_null()) break;
          if (!acc.has_best ||
              (is_min ? value.number < acc.best : value.number > acc.best)) {
            acc.best = value.number;
            acc.has_best = true;
          }
          break;
        }
        case Aggregate::kNone:
          break;
      }
    }
  }
  for (size_t a = 0; a < n; ++a) {
    auto& pairs = distinct[a];
    std::sort(pairs.begin(), pairs.end());
    pairs.erase(std::unique(pairs.begin(), pairs.end()), pairs.end());
    for (const auto& [group, key] : pairs) {
      ++accumulators[size_t{group} * n + a].count;
    }
  }
  result.resize(group_rows.size());
  std::iota(result.begin(), result.end(), 0u);
  Sort([&](uint32_t group, const SortKey& key) {
    if (key.path != nullptr) return PathSortValue(key, group_rows[group]);
    return AggregateSortValue(key.aggregate, group);
  });
  ApplyWindow(&result);
}

// ---------------------------------------------------------------------------
// Rendering.

Json Plan::Attributes(const Table& of, uint32_t row) const {
  Json attributes = Json::object();
  attributes["type"] = of.def().name;
  attributes["url"] = "/services/data/v" + api_version + "/sobjects/" +
                      of.def().name + "/" +
                      std::string(of.column("Id").Get(row).text);
  return attributes;
}

Json Plan::RenderRecord(uint32_t row) const {
  Json record = Json::object();
  record["attributes"] = Attributes(*table, row);
  for (const Path* path : selected) {
    // Fields through one relationship share one nested record.
    Json* target = &record;
    uint32_t current = row;
    bool reached = true;
    for (const Hop& hop : path->hops) {
      std::string key(hop.relationship);
      uint32_t next = (*hop.target_rows)[hop.reference->code(current)];
      auto it = target->find(key);
      if (it == target->end()) {
        if (next == kAbsent) {
          (*target)[key] = nullptr;
          reached = false;
          break;
        }
        Json nested = Json::object();
        nested["attributes"] = Attributes(*hop.target, next);
        (*target)[key] = std::move(nested);
        target = &(*target)[key];
      } else if (it->is_null()) {
        reached = false;
        break;
      } else {
        target = &*it;
      }
      current = next;
    }
    if (reached) {
      (*target)[path->field->name] =
          ValueJson(path->field->type, path->column->Get(current));
    }
  }
  return record;
}

Json Plan::RenderGroup(uint32_t group) const {
  Json record = Json::object();
  record["attributes"] = {{"type", "AggregateResult"}};
  for (const OutputColumn& output : outputs) {
    if (output.group != kAbsent) {
      const Path& path = *group_by[output.group];
      record[output.key] =
          ValueJson(path.field->type, path.Get(group_rows[group]));
      continue;
    }
    const AggregateSpec& spec = aggregates[output.aggregate];
    const Accumulator& acc =
        accumulators[size_t{group} * aggregates.size() + output.aggregate];
    Json value;
    switch (spec.fn) {
      case Aggregate::kCount:
      case Aggregate::kCountDistinct:
        value = acc.count;
        break;
      case Aggregate::kSum:
        if (acc.count > 0) value = acc.sum;
        break;
      case Aggregate::kAvg:
        if (acc.count > 0) value = acc.sum / static_cast<double>(acc.count);
        break;
      default:
        if (!acc.has_best) break;
        if (spec.path->column->is_text()) {
          value = std::string(spec.path->column->dictionary(acc.best_code));
        } else if (spec.path->field->type == FieldType::kDateTime) {
          value = FormatDateTime(acc.best);
        } else {
          value = ValueJson(spec.path->field->type, Value::Number(acc.best));
        }
        break;
    }
    record[output.key] = std::move(value);
  }
  return record;
}

Json Plan::Render(size_t i) const {
  uint32_t item = result.at(i);
  return aggregate ? RenderGroup(item) : RenderRecord(item);
}

}  // namespace

std::variant<QueryResult, QueryError> RunQuery(
    std::shared_ptr<const Inventory> inventory, std::string_view soql,
    const QueryOptions& options) {
  if (soql.size() > kMaxQueryChars) {
    return QueryError{kMalformedQuery,
                      "SOQL statements cannot be longer than 100,000 "
                      "characters."};
  }
  auto plan = std::make_shared<Plan>();
  plan->inventory = std::move(inventory);
  plan->api_version = options.api_version;
  try {
    std::vector<Token> tokens = Tokenize(soql);
    Query query = Parser(tokens).Parse();
    plan->Compile(query);
  } catch (const Failure& failure) {
    return ToQueryError(soql, failure);
  }
  plan->Run();

  QueryResult result;
  result.aggregate = plan->aggregate;
  result.count_only = plan->count_only;
  if (plan->count_only) {
    result.total_size = plan->count;
    result.record = [](size_t) { return Json::object(); };
    return result;
  }
  result.total_size = plan->result.size();
  result.row_count = plan->result.size();
  std::shared_ptr<const Plan> shared = std::move(plan);
  result.record = [shared](size_t i) { return shared->Render(i); };
  return result;
}

}  // namespace cmdb_simulator
