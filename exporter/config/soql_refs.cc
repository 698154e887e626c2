#include "exporter/config/soql_refs.h"

#include <cctype>
#include <optional>
#include <utility>

#include "exporter/base/text.h"

namespace cloudaware_exporter {
namespace {

enum class Kind { kIdent, kString, kNumber, kPunct, kEnd };

struct Token {
  Kind kind;
  std::string_view text;
  size_t pos;  // byte offset in the query
};

bool IsIdentStart(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}
bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsIdentChar(char c) { return IsIdentStart(c) || IsDigit(c); }

[[noreturn]] void Fail(std::string_view soql, size_t pos,
                       const std::string& problem) {
  std::string near(soql.substr(pos, 20));
  throw SoqlError("at character " + std::to_string(pos + 1) +
                  (near.empty() ? " (the end)" : " (near '" + near + "')") +
                  ": " + problem);
}

std::vector<Token> Tokenize(std::string_view s) {
  std::vector<Token> out;
  size_t i = 0;
  while (i < s.size()) {
    char c = s[i];
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
      ++i;
      continue;
    }
    size_t start = i;
    if (IsIdentStart(c)) {
      while (i < s.size() && IsIdentChar(s[i])) ++i;
      out.push_back({Kind::kIdent, s.substr(start, i - start), start});
    } else if (IsDigit(c) || ((c == '-' || c == '+') && i + 1 < s.size() &&
                              IsDigit(s[i + 1]))) {
      // Numbers and date or datetime literals (2026-01-01T00:00:00Z) alike.
      ++i;
      while (i < s.size() && (IsIdentChar(s[i]) || s[i] == '.' || s[i] == ':' ||
                              s[i] == '+' || s[i] == '-')) {
        ++i;
      }
      out.push_back({Kind::kNumber, s.substr(start, i - start), start});
    } else if (c == '\'') {
      ++i;
      while (i < s.size() && s[i] != '\'') i += s[i] == '\\' ? 2 : 1;
      if (i >= s.size()) Fail(s, start, "the string is not closed");
      ++i;
      out.push_back({Kind::kString, s.substr(start, i - start), start});
    } else if ((c == '!' || c == '<' || c == '>') && i + 1 < s.size() &&
               (s[i + 1] == '=' || (c == '<' && s[i + 1] == '>'))) {
      i += 2;
      out.push_back({Kind::kPunct, s.substr(start, 2), start});
    } else if (std::string_view("(),.:=<>").find(c) != std::string_view::npos) {
      ++i;
      out.push_back({Kind::kPunct, s.substr(start, 1), start});
    } else {
      Fail(s, start, "unexpected character");
    }
  }
  out.push_back({Kind::kEnd, {}, s.size()});
  return out;
}

bool IsAggregateFunction(std::string_view name) {
  for (std::string_view f :
       {"COUNT", "COUNT_DISTINCT", "SUM", "AVG", "MIN", "MAX", "GROUPING"}) {
    if (EqualsIgnoreCase(name, f)) return true;
  }
  return false;
}

// Words that end a clause, so that they are never read as an alias.
bool IsClauseWord(std::string_view w) {
  for (std::string_view k :
       {"FROM", "WHERE", "WITH", "GROUP", "HAVING", "ORDER", "LIMIT", "OFFSET",
        "FOR", "UPDATE", "USING", "ALL", "ASC", "DESC", "NULLS"}) {
    if (EqualsIgnoreCase(w, k)) return true;
  }
  return false;
}

std::string_view Leaf(std::string_view path) {
  size_t dot = path.rfind('.');
  return dot == std::string_view::npos ? path : path.substr(dot + 1);
}

// A field or a function call, as read from a clause.
struct Expr {
  bool function = false;
  bool aggregate = false;   // an aggregate function, or one inside it
  bool count_star = false;  // COUNT()
  std::string path;         // a bare field; for a function, its first field
  std::vector<std::string> fields;
};

enum class Clause { kSelect, kWhere, kGroupBy, kHaving, kOrderBy };

class Parser {
 public:
  Parser(std::string_view soql, const std::vector<Token>& tokens, size_t& next,
         int depth)
      : soql_(soql), tokens_(tokens), next_(next), depth_(depth) {
    if (depth > 4) Fail(soql_, Peek().pos, "subqueries nested too deeply");
  }

  SoqlRefs Query() {
    ExpectWord("SELECT");
    SelectList();
    ExpectWord("FROM");
    refs_.object = Ident("an object name");
    if (Peek().kind == Kind::kIdent && !IsClauseWord(Peek().text)) {
      object_alias_ = std::string(Take().text);
    }
    if (TakeWord("USING")) {
      ExpectWord("SCOPE");
      Ident("a scope");
    }
    if (TakeWord("WHERE")) Condition(Clause::kWhere, 0);
    if (TakeWord("WITH")) {
      // WITH SECURITY_ENFORCED, WITH DATA CATEGORY ...: no fields.
      while (Peek().kind != Kind::kEnd && !AtWord("GROUP") &&
             !AtWord("ORDER") && !AtWord("LIMIT") && !AtWord("OFFSET") &&
             !AtWord("FOR") && !AtWord("UPDATE") && !AtPunct(")")) {
        Take();
      }
    }
    if (TakeWord("GROUP")) {
      ExpectWord("BY");
      refs_.aggregate = true;
      GroupBy();
    }
    if (TakeWord("HAVING")) Condition(Clause::kHaving, 0);
    if (TakeWord("ORDER")) {
      ExpectWord("BY");
      OrderBy();
    }
    // Where a LIMIT goes when there is none: before OFFSET, FOR, UPDATE.
    refs_.limit_begin = refs_.limit_end = End(next_ - 1);
    if (TakeWord("LIMIT")) {
      const Token& n = Take();
      if (n.kind != Kind::kNumber) Fail(soql_, n.pos, "expected a number");
      refs_.has_limit = true;
      refs_.limit_begin = n.pos;
      refs_.limit_end = n.pos + n.text.size();
    }
    if (TakeWord("OFFSET") && Take().kind != Kind::kNumber) {
      Fail(soql_, tokens_[next_ - 1].pos, "expected a number");
    }
    while (AtWord("FOR") || AtWord("UPDATE") || AtWord("ALL")) {
      Take();
      Ident("VIEW, REFERENCE, UPDATE, TRACKING, VIEWSTAT or ROWS");
    }
    if (refs_.aggregate) {
      for (size_t i = 0; i < unnamed_functions_.size(); ++i) {
        refs_.columns[unnamed_functions_[i]].names = {"expr" +
                                                      std::to_string(i)};
      }
    }
    StripObjectAlias();
    return std::move(refs_);
  }

  const Token& Peek() const { return tokens_[next_]; }

 private:
  const Token& Take() {
    const Token& t = tokens_[next_];
    if (t.kind != Kind::kEnd) ++next_;
    return t;
  }
  bool AtWord(std::string_view w) const {
    return Peek().kind == Kind::kIdent && EqualsIgnoreCase(Peek().text, w);
  }
  bool AtPunct(std::string_view p) const {
    return Peek().kind == Kind::kPunct && Peek().text == p;
  }
  bool TakeWord(std::string_view w) {
    if (!AtWord(w)) return false;
    Take();
    return true;
  }
  bool TakePunct(std::string_view p) {
    if (!AtPunct(p)) return false;
    Take();
    return true;
  }
  void ExpectWord(std::string_view w) {
    if (!TakeWord(w)) Fail(soql_, Peek().pos, "expected " + std::string(w));
  }
  void ExpectPunct(std::string_view p) {
    if (!TakePunct(p))
      Fail(soql_, Peek().pos, "expected '" + std::string(p) + "'");
  }
  std::string Ident(const std::string& what) {
    if (Peek().kind != Kind::kIdent)
      Fail(soql_, Peek().pos, "expected " + what);
    return std::string(Take().text);
  }
  size_t End(size_t token) const {
    return tokens_[token].pos + tokens_[token].text.size();
  }

  void AddField(const std::string& path, bool grouped) {
    for (SoqlField& f : refs_.fields) {
      if (EqualsIgnoreCase(f.path, path)) {
        f.grouped = f.grouped || grouped;
        return;
      }
    }
    refs_.fields.push_back({path, grouped});
  }

  bool IsSelectAlias(const std::string& path) const {
    for (const std::string& a : aliases_) {
      if (EqualsIgnoreCase(a, path)) return true;
    }
    return false;
  }

  // A field path, or a function call with fields, literals and calls as
  // its arguments.
  Expr Expression() {
    Expr e;
    if (Peek().kind == Kind::kIdent && IsClauseWord(Peek().text))
      Fail(soql_, Peek().pos, "expected a field or function");
    std::string name = Ident("a field or function");
    if (!TakePunct("(")) {
      e.path = name;
      while (TakePunct(".")) e.path += "." + Ident("a field after '.'");
      e.fields.push_back(e.path);
      return e;
    }
    e.function = true;
    e.aggregate = IsAggregateFunction(name);
    if (TakePunct(")")) {
      if (!EqualsIgnoreCase(name, "COUNT")) {
        Fail(soql_, tokens_[next_ - 1].pos, name + "() needs an argument");
      }
      e.count_star = true;
      return e;
    }
    if (++calls_ > 8) Fail(soql_, Peek().pos, "functions nested too deeply");
    do {
      if (Peek().kind == Kind::kString || Peek().kind == Kind::kNumber) {
        Take();
        continue;
      }
      Expr arg = Expression();
      e.aggregate = e.aggregate || arg.aggregate;
      if (e.path.empty()) e.path = arg.path;
      for (auto& f : arg.fields) e.fields.push_back(std::move(f));
    } while (TakePunct(","));
    --calls_;
    ExpectPunct(")");
    return e;
  }

  void SelectList() {
    do {
      if (AtPunct("(")) {
        Fail(soql_, Peek().pos,
             "subqueries in the SELECT list are not supported by the check");
      }
      if (AtWord("TYPEOF") ||
          (AtWord("FIELDS") && tokens_[next_ + 1].text == "(")) {
        Fail(soql_, Peek().pos,
             std::string(Peek().text) + " is not supported by the check");
      }
      Expr e = Expression();
      std::string alias;
      if (Peek().kind == Kind::kIdent && !IsClauseWord(Peek().text)) {
        alias = std::string(Take().text);
        aliases_.push_back(alias);
      }
      if (e.count_star) {
        refs_.count_only = true;
        continue;
      }
      refs_.aggregate = refs_.aggregate || e.aggregate;
      for (const std::string& f : e.fields) AddField(f, false);
      SoqlColumn column;
      if (!alias.empty()) {
        column.names.push_back(alias);
      } else if (e.function) {
        // Named once GROUP BY has been read: exprN in an aggregate query.
        unnamed_functions_.push_back(refs_.columns.size());
      }
      if (alias.empty() && !e.path.empty()) {
        column.names.push_back(e.path);
        if (Leaf(e.path) != e.path) column.names.emplace_back(Leaf(e.path));
      }
      refs_.columns.push_back(std::move(column));
    } while (TakePunct(","));
  }

  void Condition(Clause clause, int depth) {
    if (depth > 32) Fail(soql_, Peek().pos, "conditions nested too deeply");
    do {
      do {
        Negation(clause, depth);
      } while (TakeWord("AND"));
    } while (TakeWord("OR"));
  }

  void Negation(Clause clause, int depth) {
    while (TakeWord("NOT")) {
    }
    if (TakePunct("(")) {
      Condition(clause, depth + 1);
      ExpectPunct(")");
      return;
    }
    Expr e = Expression();
    for (const std::string& f : e.fields) {
      if (clause == Clause::kHaving && !e.function && IsSelectAlias(f))
        continue;
      AddField(f, false);
    }
    Operator();
  }

  // The operator and the value after it. Values are literals, never fields.
  void Operator() {
    const Token& op = Take();
    bool list = false;
    if (op.kind == Kind::kPunct &&
        (op.text == "=" || op.text == "!=" || op.text == "<>" ||
         op.text == "<" || op.text == ">" || op.text == "<=" ||
         op.text == ">=")) {
    } else if (op.kind == Kind::kIdent && EqualsIgnoreCase(op.text, "LIKE")) {
    } else if (op.kind == Kind::kIdent &&
               (EqualsIgnoreCase(op.text, "IN") ||
                EqualsIgnoreCase(op.text, "INCLUDES") ||
                EqualsIgnoreCase(op.text, "EXCLUDES"))) {
      list = true;
    } else if (op.kind == Kind::kIdent && EqualsIgnoreCase(op.text, "NOT") &&
               TakeWord("IN")) {
      list = true;
    } else {
      Fail(soql_, op.pos, "expected a comparison operator");
    }
    if (!list) {
      Literal();
      return;
    }
    ExpectPunct("(");
    if (AtWord("SELECT")) {
      Parser sub(soql_, tokens_, next_, depth_ + 1);
      refs_.subqueries.push_back(sub.Query());
    } else {
      do {
        Literal();
      } while (TakePunct(","));
    }
    ExpectPunct(")");
  }

  // 'text', 42, -1.5, 2026-01-01T00:00:00Z, null, true, TODAY,
  // LAST_N_DAYS:7.
  void Literal() {
    const Token& t = Take();
    if (t.kind == Kind::kString || t.kind == Kind::kNumber) return;
    if (t.kind != Kind::kIdent) Fail(soql_, t.pos, "expected a value");
    if (TakePunct(":") && Take().kind != Kind::kNumber) {
      Fail(soql_, tokens_[next_ - 1].pos, "expected a number after ':'");
    }
  }

  void GroupBy() {
    do {
      if ((AtWord("ROLLUP") || AtWord("CUBE")) &&
          tokens_[next_ + 1].kind == Kind::kPunct &&
          tokens_[next_ + 1].text == "(") {
        Take();
        Take();
        do {
          GroupItem();
        } while (TakePunct(","));
        ExpectPunct(")");
      } else {
        GroupItem();
      }
    } while (TakePunct(","));
  }

  void GroupItem() {
    Expr e = Expression();
    for (const std::string& f : e.fields) AddField(f, !e.function);
  }

  void OrderBy() {
    do {
      Expr e = Expression();
      for (const std::string& f : e.fields) {
        if (!e.function && IsSelectAlias(f)) continue;
        AddField(f, false);
      }
      if (!TakeWord("ASC")) TakeWord("DESC");
      if (TakeWord("NULLS") && !TakeWord("FIRST") && !TakeWord("LAST")) {
        Fail(soql_, Peek().pos, "expected FIRST or LAST");
      }
    } while (TakePunct(","));
  }

  // FROM Contact c ... c.Name: the alias is not a relationship.
  void StripObjectAlias() {
    if (object_alias_.empty()) return;
    std::vector<SoqlField> fields;
    fields.swap(refs_.fields);
    const std::string prefix = object_alias_ + ".";
    for (SoqlField& f : fields) {
      if (f.path.size() > prefix.size() &&
          EqualsIgnoreCase(std::string_view(f.path).substr(0, prefix.size()),
                           prefix)) {
        f.path.erase(0, prefix.size());
      }
      AddField(f.path, f.grouped);
    }
  }

  std::string_view soql_;
  const std::vector<Token>& tokens_;
  size_t& next_;
  int depth_;
  int calls_ = 0;
  SoqlRefs refs_;
  std::string object_alias_;
  std::vector<std::string> aliases_;
  std::vector<size_t> unnamed_functions_;  // indexes into refs_.columns
};

}  // namespace

SoqlRefs ParseSoqlRefs(std::string_view soql) {
  std::vector<Token> tokens = Tokenize(soql);
  size_t next = 0;
  Parser parser(soql, tokens, next, 0);
  SoqlRefs refs = parser.Query();
  if (parser.Peek().kind != Kind::kEnd) {
    Fail(soql, parser.Peek().pos, "unexpected text after the query");
  }
  return refs;
}

std::string WithLimit(std::string_view soql, const SoqlRefs& refs,
                      int64_t limit) {
  std::string out(soql.substr(0, refs.limit_begin));
  if (refs.has_limit) {
    // "LIMIT+5" is read as LIMIT 5; its number must not become "LIMIT1".
    if (!out.empty() && std::isalnum(static_cast<unsigned char>(out.back()))) {
      out += ' ';
    }
    out += std::to_string(limit);
  } else {
    out += " LIMIT " + std::to_string(limit);
    // "...)FOR VIEW" must not become "... LIMIT 1FOR VIEW", one token.
    if (refs.limit_end < soql.size() && soql[refs.limit_end] != ' ' &&
        soql[refs.limit_end] != '\n') {
      out += ' ';
    }
  }
  out += soql.substr(refs.limit_end);
  return out;
}

bool HasColumn(const SoqlRefs& refs, std::string_view column) {
  const size_t dot = column.rfind('.');
  const std::string_view leaf =
      dot == std::string_view::npos ? column : column.substr(dot + 1);
  for (const SoqlColumn& c : refs.columns) {
    for (const std::string& name : c.names) {
      // An aggregate result has a path's column under its last name.
      if (EqualsIgnoreCase(name, column) ||
          (refs.aggregate && EqualsIgnoreCase(name, leaf))) {
        return true;
      }
    }
  }
  return false;
}

std::string ColumnList(const SoqlRefs& refs) {
  std::string out;
  for (const SoqlColumn& c : refs.columns) {
    if (c.names.empty()) continue;
    out += (out.empty() ? "" : ", ") + c.names[0];
  }
  return out.empty() ? "it has none" : "it has " + out;
}

}  // namespace cloudaware_exporter
