#include "exporter/config/soql_refs.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace cloudaware_exporter {
namespace {

// Fields as "path" or "path*" for a grouped one.
std::vector<std::string> Fields(const SoqlRefs& refs) {
  std::vector<std::string> out;
  for (const SoqlField& f : refs.fields)
    out.push_back(f.path + (f.grouped ? "*" : ""));
  return out;
}

// Each column's names joined by "|".
std::vector<std::string> Columns(const SoqlRefs& refs) {
  std::vector<std::string> out;
  for (const SoqlColumn& c : refs.columns) {
    std::string names;
    for (const std::string& n : c.names)
      names += (names.empty() ? "" : "|") + n;
    out.push_back(names);
  }
  return out;
}

struct Case {
  const char* soql;
  const char* object;
  std::vector<std::string> fields;
  std::vector<std::string> columns;
  bool aggregate;
};

TEST(SoqlRefsTest, ReadsObjectFieldsAndColumns) {
  const Case cases[] = {
      {"SELECT Id, Name FROM Account",
       "Account",
       {"Id", "Name"},
       {"Id", "Name"},
       false},
      {"SELECT COUNT() FROM CA10__CaAwsBucket__c WHERE "
       "CA10__disappearanceTime__c = null",
       "CA10__CaAwsBucket__c",
       {"CA10__disappearanceTime__c"},
       {},
       false},
      {"SELECT CA10__stateName__c state, COUNT(Id) n FROM "
       "CA10__CaAwsInstance__c WHERE CA10__disappearanceTime__c = null GROUP "
       "BY CA10__stateName__c LIMIT 2000",
       "CA10__CaAwsInstance__c",
       {"CA10__stateName__c*", "Id", "CA10__disappearanceTime__c"},
       {"state", "n"},
       true},
      // Relationship paths; an aggregate's unnamed columns.
      {"select CA10__account__r.CA10__accountId__c, count(id), "
       "MAX(LastModifiedDate) from CA10__CaAwsInstance__c group by "
       "CA10__account__r.CA10__accountId__c",
       "CA10__CaAwsInstance__c",
       {"CA10__account__r.CA10__accountId__c*", "id", "LastModifiedDate"},
       {"CA10__account__r.CA10__accountId__c|CA10__accountId__c", "expr0",
        "expr1"},
       true},
      // Literals of every kind, operators, NOT, parentheses.
      {"SELECT Id FROM X WHERE (A__c = 'it\\'s AND' OR B__c != 5) AND NOT "
       "C__c IN ('x', 'y') AND D__c NOT IN (1, 2) AND E__c > "
       "2026-01-01T00:00:00Z AND F__c = LAST_N_DAYS:7 AND G__c < TODAY AND "
       "H__c = true AND I__c <> -1.5 AND J__c LIKE 'a%' AND K__c INCLUDES "
       "('p;q') AND L__c >= 2026-01-01",
       "X",
       {"Id", "A__c", "B__c", "C__c", "D__c", "E__c", "F__c", "G__c", "H__c",
        "I__c", "J__c", "K__c", "L__c"},
       {"Id"},
       false},
      // HAVING and ORDER BY, with aggregate functions and an alias.
      {"SELECT Type__c t, COUNT(Id) n FROM X GROUP BY Type__c HAVING "
       "COUNT(Id) > 1 AND MAX(Size__c) < 10 ORDER BY n DESC, Type__c ASC "
       "NULLS LAST",
       "X",
       {"Type__c*", "Id", "Size__c"},
       {"t", "n"},
       true},
      // ROLLUP and CUBE group their fields; a date function does not.
      {"SELECT A__c, B__c, CALENDAR_YEAR(CreatedDate) y, COUNT(Id) FROM X "
       "GROUP BY ROLLUP(A__c, B__c), CALENDAR_YEAR(CreatedDate)",
       "X",
       {"A__c*", "B__c*", "CreatedDate", "Id"},
       {"A__c", "B__c", "y", "expr0"},
       true},
      // Every unnamed function of an aggregate query is an exprN; elsewhere
      // a function's column is named after its field.
      {"SELECT DAY_ONLY(CreatedDate), MAX(Size__c), COUNT(Id) c FROM X "
       "GROUP BY DAY_ONLY(CreatedDate)",
       "X",
       {"CreatedDate", "Size__c", "Id"},
       {"expr0", "expr1", "c"},
       true},
      {"SELECT toLabel(Status__c) FROM X",
       "X",
       {"Status__c"},
       {"Status__c"},
       false},
      {"SELECT A__c FROM X GROUP BY CUBE(A__c)",
       "X",
       {"A__c*"},
       {"A__c"},
       true},
      // The same field twice is one field, grouped if either mention is.
      {"SELECT a__c, COUNT(Id) FROM X WHERE A__C != null GROUP BY A__c",
       "X",
       {"a__c*", "Id"},
       {"a__c", "expr0"},
       true},
      // An object alias is not a relationship.
      {"SELECT c.Name FROM Contact c WHERE c.Email = null",
       "Contact",
       {"Name", "Email"},
       {"c.Name|Name"},
       false},
      {"SELECT Id FROM X WITH SECURITY_ENFORCED ORDER BY Name LIMIT 5 OFFSET "
       "10 FOR VIEW",
       "X",
       {"Id", "Name"},
       {"Id"},
       false},
      {"SELECT Name FROM X USING SCOPE mine", "X", {"Name"}, {"Name"}, false},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.soql);
    SoqlRefs refs = ParseSoqlRefs(c.soql);
    EXPECT_EQ(refs.object, c.object);
    EXPECT_EQ(Fields(refs), c.fields);
    EXPECT_EQ(Columns(refs), c.columns);
    EXPECT_EQ(refs.aggregate, c.aggregate);
  }
}

TEST(SoqlRefsTest, CountOnly) {
  EXPECT_TRUE(ParseSoqlRefs("SELECT COUNT() FROM X").count_only);
  EXPECT_FALSE(ParseSoqlRefs("SELECT COUNT(Id) FROM X").count_only);
  EXPECT_TRUE(ParseSoqlRefs("SELECT COUNT(Id) FROM X").aggregate);
}

TEST(SoqlRefsTest, SemiJoinSubqueriesNameTheirOwnObject) {
  SoqlRefs refs = ParseSoqlRefs(
      "SELECT Id FROM A__c WHERE B__c IN (SELECT Id FROM B__c WHERE Name = "
      "'x' LIMIT 3) LIMIT 10");
  EXPECT_EQ(Fields(refs), (std::vector<std::string>{"Id", "B__c"}));
  ASSERT_EQ(refs.subqueries.size(), 1u);
  EXPECT_EQ(refs.subqueries[0].object, "B__c");
  EXPECT_EQ(Fields(refs.subqueries[0]),
            (std::vector<std::string>{"Id", "Name"}));
  // Only the outer LIMIT is the query's.
  EXPECT_TRUE(refs.has_limit);
  EXPECT_EQ(WithLimit("SELECT Id FROM A__c WHERE B__c IN (SELECT Id FROM B__c "
                      "WHERE Name = 'x' LIMIT 3) LIMIT 10",
                      refs, 1),
            "SELECT Id FROM A__c WHERE B__c IN (SELECT Id FROM B__c WHERE "
            "Name = 'x' LIMIT 3) LIMIT 1");
}

TEST(SoqlRefsTest, WithLimitReplacesOrAddsTheLimit) {
  const std::pair<const char*, const char*> cases[] = {
      {"SELECT Id FROM X LIMIT 2000", "SELECT Id FROM X LIMIT 1"},
      {"SELECT Id FROM X limit 5 OFFSET 3",
       "SELECT Id FROM X limit 1 OFFSET 3"},
      {"SELECT Id FROM X", "SELECT Id FROM X LIMIT 1"},
      {"SELECT Id FROM X\n", "SELECT Id FROM X LIMIT 1\n"},
      {"SELECT Id FROM X WHERE Name = 'LIMIT 5' ORDER BY Id OFFSET 2",
       "SELECT Id FROM X WHERE Name = 'LIMIT 5' ORDER BY Id LIMIT 1 OFFSET 2"},
      {"SELECT COUNT() FROM X WHERE A__c = null",
       "SELECT COUNT() FROM X WHERE A__c = null LIMIT 1"},
      {"SELECT Id FROM X FOR VIEW", "SELECT Id FROM X LIMIT 1 FOR VIEW"},
      {"SELECT Id FROM X WHERE A__c IN ('a')FOR VIEW",
       "SELECT Id FROM X WHERE A__c IN ('a') LIMIT 1 FOR VIEW"},
      {"SELECT Id FROM X LIMIT+5 OFFSET 2",
       "SELECT Id FROM X LIMIT 1 OFFSET 2"},
  };
  for (const auto& [in, want] : cases) {
    EXPECT_EQ(WithLimit(in, ParseSoqlRefs(in), 1), want);
  }
}

TEST(SoqlRefsTest, ClearErrorsForWhatItCannotRead) {
  const std::pair<const char*, const char*> cases[] = {
      {"", "at character 1 (the end): expected SELECT"},
      {"SELECT FROM X",
       "at character 8 (near 'FROM X'): expected a field or function"},
      {"SELECT Id X", "at character 12 (the end): expected FROM"},
      {"SELECT Id FROM", "expected an object name"},
      {"SELECT Id FROM X WHERE Name = 'open", "the string is not closed"},
      {"SELECT Id FROM X WHERE Name", "expected a comparison operator"},
      {"SELECT Id FROM X WHERE Name =", "expected a value"},
      {"SELECT Id FROM X WHERE (Name = 'a'", "expected ')'"},
      {"SELECT Id FROM X LIMIT many", "expected a number"},
      {"SELECT Id FROM X GARBAGE MORE", "unexpected text after the query"},
      {"SELECT Id; FROM X", "unexpected character"},
      {"SELECT SUM() FROM X", "SUM() needs an argument"},
      {"SELECT Name, (SELECT Id FROM Contacts) FROM Account",
       "subqueries in the SELECT list are not supported"},
      {"SELECT TYPEOF What WHEN Account THEN Name END FROM Event",
       "TYPEOF is not supported"},
      {"SELECT FIELDS(STANDARD) FROM X", "FIELDS is not supported"},
      {"SELECT Id FROM X WHERE A__c = LAST_N_DAYS:", "expected a number"},
  };
  for (const auto& [soql, want] : cases) {
    try {
      ParseSoqlRefs(soql);
      ADD_FAILURE() << "accepted: " << soql;
    } catch (const SoqlError& e) {
      EXPECT_NE(std::string(e.what()).find(want), std::string::npos)
          << soql << " -> " << e.what();
    }
  }
}

TEST(SoqlRefsTest, DeepNestingIsAnErrorNotACrash) {
  std::string deep = "SELECT Id FROM X WHERE " + std::string(5000, '(');
  EXPECT_THROW(ParseSoqlRefs(deep), SoqlError);
  std::string calls = "SELECT ";
  for (int i = 0; i < 1000; ++i) calls += "F(";
  EXPECT_THROW(ParseSoqlRefs(calls + "Id"), SoqlError);
  std::string subs = "SELECT Id FROM X WHERE Id IN (";
  for (int i = 0; i < 100; ++i) subs += "SELECT Id FROM X WHERE Id IN (";
  EXPECT_THROW(ParseSoqlRefs(subs), SoqlError);
}

}  // namespace
}  // namespace cloudaware_exporter
