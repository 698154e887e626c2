// Tests of the SOQL evaluator over a small hand-built inventory. Expected
// answers are computed with plain loops over the fixture rows wherever the
// query allows it, so that the fixture can change without retuning counts.
#include "simulator/soql.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace cmdb_simulator {
namespace {

using Json = nlohmann::ordered_json;

constexpr char kAccount[] = "CA10__CaAwsAccount__c";
constexpr char kInstance[] = "CA10__CaAwsInstance__c";

struct AccountRow {
  const char* id;
  std::optional<std::string> name;
  std::string account_id;
  std::optional<std::string> parent;
};

struct InstanceRow {
  std::string id;
  std::optional<std::string> name;
  std::optional<std::string> state;
  std::optional<std::string> account;
  std::optional<int> cpu;
  std::optional<double> average;
  std::optional<bool> ebs;
  std::optional<std::string> launch;
  std::optional<std::string> disappeared;
};

// Account C's parent does not exist, nor does the account of instance 6.
const std::vector<AccountRow>& Accounts() {
  static const auto* rows = new std::vector<AccountRow>{
      {"a01000000000001AAA", "Acme", "111111111111", "a01000000000002AAA"},
      {"a01000000000002AAA", "root", "222222222222", std::nullopt},
      {"a01000000000003AAA", std::nullopt, "333333333333",
       "a01000000000099AAA"},
  };
  return *rows;
}

const std::vector<InstanceRow>& Instances() {
  static const auto* rows = new std::vector<InstanceRow>{
      {"a02000000000001AAA", "web-1", "running", "a01000000000001AAA", 2, 10.5,
       true, "2025-12-01T00:00:00Z", std::nullopt},
      {"a02000000000002AAA", "web-2", "Running", "a01000000000001AAA", 4, 20.25,
       false, "2026-01-01T00:00:00Z", std::nullopt},
      {"a02000000000003AAA", "DB-main", "stopped", "a01000000000002AAA", 8,
       -1.5, std::nullopt, "2026-02-01T12:00:00Z", std::nullopt},
      {"a02000000000004AAA", "db-replica", std::nullopt, "a01000000000003AAA",
       std::nullopt, std::nullopt, true, std::nullopt, std::nullopt},
      {"a02000000000005AAA", "O'Brien", "running", std::nullopt, 1, 0, false,
       "2024-05-05T05:05:05Z", "2026-03-01T00:00:00Z"},
      {"a02000000000006AAA", "50%_off", "terminated", "a01000000000404AAA", 4,
       99, true, "2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z"},
      {"a02000000000007AAA", "a_b test", "RUNNING", "a01000000000002AAA", 2, 3,
       std::nullopt, "2025-01-01T00:00:00Z", std::nullopt},
      {"a02000000000008AAA", "zeta", "stopped", "a01000000000001AAA",
       std::nullopt, 7.75, false, std::nullopt, std::nullopt},
      {"a02000000000009AAA", "Alpha", "pending", "a01000000000003AAA", 16, 50,
       true, "2026-01-01T00:00:00.500Z", std::nullopt},
      {"a02000000000010AAA", "multi\nline", std::nullopt, std::nullopt, 2,
       std::nullopt, std::nullopt, std::nullopt, std::nullopt},
  };
  return *rows;
}

FieldDef Field(std::string name, FieldType type, bool groupable = true) {
  FieldDef def;
  def.name = std::move(name);
  def.label = def.name;
  def.type = type;
  def.groupable = groupable;
  return def;
}

FieldDef Reference(std::string name, std::string to, std::string relationship) {
  FieldDef def = Field(std::move(name), FieldType::kReference);
  def.reference_to = std::move(to);
  def.relationship_name = std::move(relationship);
  return def;
}

Value Text(const std::optional<std::string>& s) {
  return s ? Value::Text(*s) : Value::Null();
}

Value Time(const std::optional<std::string>& s) {
  return s ? Value::DateTime(*ParseDateTime(*s)) : Value::Null();
}

std::shared_ptr<const Inventory> MakeInventory() {
  auto inventory = std::make_shared<Inventory>();
  ObjectDef account;
  account.name = kAccount;
  account.key_prefix = "a01";
  account.fields = {Field("Id", FieldType::kId),
                    Field("Name", FieldType::kString),
                    Field("CA10__accountId__c", FieldType::kString),
                    Reference("CA10__parent__c", kAccount, "CA10__parent__r")};
  Table& accounts = inventory->AddTable(account);
  for (const AccountRow& a : Accounts()) {
    accounts.AddRow({Value::Text(a.id), Text(a.name), Value::Text(a.account_id),
                     Text(a.parent)});
  }
  ObjectDef instance;
  instance.name = kInstance;
  instance.key_prefix = "a02";
  instance.fields = {
      Field("Id", FieldType::kId),
      Field("Name", FieldType::kString),
      Field("CA10__stateName__c", FieldType::kPicklist),
      Reference("CA10__account__c", kAccount, "CA10__account__r"),
      Field("CA10__cpuCount__c", FieldType::kInt),
      Field("CA10__averageCpuOneWeek__c", FieldType::kDouble, false),
      Field("CA10__ebsOptimized__c", FieldType::kBoolean),
      Field("CA10__launchTime__c", FieldType::kDateTime, false),
      Field("CA10__disappearanceTime__c", FieldType::kDateTime, false),
  };
  Table& instances = inventory->AddTable(instance);
  for (const InstanceRow& r : Instances()) {
    instances.AddRow({Value::Text(r.id), Text(r.name), Text(r.state),
                      Text(r.account),
                      r.cpu ? Value::Number(*r.cpu) : Value::Null(),
                      r.average ? Value::Number(*r.average) : Value::Null(),
                      r.ebs ? Value::Bool(*r.ebs) : Value::Null(),
                      Time(r.launch), Time(r.disappeared)});
  }
  return inventory;
}

const std::shared_ptr<const Inventory>& Fixture() {
  static const auto* inventory =
      new std::shared_ptr<const Inventory>(MakeInventory());
  return *inventory;
}

// Plain helpers for computing expectations.
std::string Lower(std::string s) {
  for (char& c : s)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

bool Ieq(const std::optional<std::string>& a, const char* b) {
  return a && Lower(*a) == Lower(b);
}

const AccountRow* FindAccount(const std::optional<std::string>& id) {
  if (!id) return nullptr;
  for (const AccountRow& a : Accounts()) {
    if (a.id == *id) return &a;
  }
  return nullptr;
}

double Ms(const char* text) { return *ParseDateTime(text); }

std::optional<double> LaunchMs(const InstanceRow& r) {
  if (!r.launch) return std::nullopt;
  return Ms(r.launch->c_str());
}

QueryResult Ok(std::string_view soql, const QueryOptions& options = {}) {
  auto answer = RunQuery(Fixture(), soql, options);
  if (auto* error = std::get_if<QueryError>(&answer)) {
    ADD_FAILURE() << soql << "\n"
                  << error->error_code << "\n"
                  << error->message;
    return {};
  }
  return std::get<QueryResult>(answer);
}

QueryError Err(std::string_view soql) {
  auto answer = RunQuery(Fixture(), soql);
  if (auto* error = std::get_if<QueryError>(&answer)) return *error;
  ADD_FAILURE() << "expected an error: " << soql;
  return {};
}

std::vector<Json> Records(const QueryResult& result) {
  std::vector<Json> records;
  for (size_t i = 0; i < result.row_count; ++i) {
    records.push_back(result.record(i));
  }
  return records;
}

std::vector<std::string> Ids(const QueryResult& result) {
  std::vector<std::string> ids;
  for (const Json& record : Records(result)) ids.push_back(record["Id"]);
  return ids;
}

std::vector<std::string> ExpectedIds(
    const std::function<bool(const InstanceRow&)>& keep) {
  std::vector<std::string> ids;
  for (const InstanceRow& r : Instances()) {
    if (keep(r)) ids.push_back(r.id);
  }
  return ids;
}

// The last line of an error message: the detail after the position lines.
std::string Detail(const QueryError& error) {
  return error.message.substr(error.message.rfind('\n') + 1);
}

// --- WHERE ----------------------------------------------------------------

struct WhereCase {
  const char* where;
  std::function<bool(const InstanceRow&)> keep;
};

TEST(SoqlTest, WhereOperatorsMatchPlainLoops) {
  const WhereCase cases[] = {
      // Text: case-insensitive, and null is a value for != and NOT IN.
      {"CA10__stateName__c = 'running'",
       [](const InstanceRow& r) { return Ieq(r.state, "running"); }},
      {"CA10__stateName__c != 'RUNNING'",
       [](const InstanceRow& r) { return !Ieq(r.state, "running"); }},
      {"CA10__stateName__c <> 'running'",
       [](const InstanceRow& r) { return !Ieq(r.state, "running"); }},
      {"CA10__stateName__c = null",
       [](const InstanceRow& r) { return !r.state; }},
      {"CA10__stateName__c != NULL",
       [](const InstanceRow& r) { return r.state.has_value(); }},
      {"CA10__stateName__c IN ('running', 'Stopped')",
       [](const InstanceRow& r) {
         return Ieq(r.state, "running") || Ieq(r.state, "stopped");
       }},
      {"CA10__stateName__c NOT IN ('running')",
       [](const InstanceRow& r) { return !Ieq(r.state, "running"); }},
      {"CA10__stateName__c IN ('stopped', null)",
       [](const InstanceRow& r) {
         return !r.state || Ieq(r.state, "stopped");
       }},
      {"CA10__stateName__c NOT IN ('stopped', null)",
       [](const InstanceRow& r) {
         return r.state && !Ieq(r.state, "stopped");
       }},
      // Long lists take the hashed path.
      {"CA10__stateName__c IN ('a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', "
       "'RUNNING', 'x')",
       [](const InstanceRow& r) { return Ieq(r.state, "running"); }},
      {"CA10__stateName__c NOT IN ('a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', "
       "'Stopped', 'x')",
       [](const InstanceRow& r) { return !Ieq(r.state, "stopped"); }},
      {"CA10__stateName__c NOT IN ('a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', "
       "'Stopped', null)",
       [](const InstanceRow& r) {
         return r.state && !Ieq(r.state, "stopped");
       }},
      {"Name < 'c'",
       [](const InstanceRow& r) { return r.name && Lower(*r.name) < "c"; }},
      {"Name >= 'DB'",
       [](const InstanceRow& r) { return r.name && Lower(*r.name) >= "db"; }},
      {"Name > null", [](const InstanceRow&) { return false; }},
      {"Id = 'a02000000000003AAA'",
       [](const InstanceRow& r) { return r.id == "a02000000000003AAA"; }},
      {"Name = 'O\\'Brien'",
       [](const InstanceRow& r) { return r.name == "O'Brien"; }},
      {"Name = 'multi\\nline'",
       [](const InstanceRow& r) { return r.name == "multi\nline"; }},
      // LIKE: % and _, case-insensitive, escapes make them literal.
      {"Name LIKE 'WEB%'",
       [](const InstanceRow& r) {
         return r.name && Lower(*r.name).rfind("web", 0) == 0;
       }},
      {"Name LIKE '%b%'",
       [](const InstanceRow& r) {
         return r.name && Lower(*r.name).find('b') != std::string::npos;
       }},
      {"Name LIKE 'web-_'",
       [](const InstanceRow& r) {
         return r.name && r.name->size() == 5 && r.name->rfind("web-", 0) == 0;
       }},
      {"Name LIKE '%\\%%'",
       [](const InstanceRow& r) {
         return r.name && r.name->find('%') != std::string::npos;
       }},
      {"Name LIKE 'a\\_b%'",
       [](const InstanceRow& r) {
         return r.name && r.name->rfind("a_b", 0) == 0;
       }},
      {"Name LIKE 'a_b%'",
       [](const InstanceRow& r) {
         return r.name && r.name->size() >= 3 && Lower(*r.name)[0] == 'a' &&
                (*r.name)[2] == 'b';
       }},
      {"Name LIKE 'zeta'",
       [](const InstanceRow& r) { return r.name == "zeta"; }},
      // Numbers.
      {"CA10__cpuCount__c > 2",
       [](const InstanceRow& r) { return r.cpu && *r.cpu > 2; }},
      {"CA10__cpuCount__c >= 2",
       [](const InstanceRow& r) { return r.cpu && *r.cpu >= 2; }},
      {"CA10__cpuCount__c < 4",
       [](const InstanceRow& r) { return r.cpu && *r.cpu < 4; }},
      {"CA10__cpuCount__c <= 4",
       [](const InstanceRow& r) { return r.cpu && *r.cpu <= 4; }},
      {"CA10__cpuCount__c = 4",
       [](const InstanceRow& r) { return r.cpu == 4; }},
      {"CA10__cpuCount__c != 4",
       [](const InstanceRow& r) { return r.cpu != 4; }},
      {"CA10__cpuCount__c IN (1, 4)",
       [](const InstanceRow& r) { return r.cpu == 1 || r.cpu == 4; }},
      {"CA10__cpuCount__c NOT IN (1, 4)",
       [](const InstanceRow& r) { return r.cpu != 1 && r.cpu != 4; }},
      {"CA10__cpuCount__c = null", [](const InstanceRow& r) { return !r.cpu; }},
      {"CA10__cpuCount__c < null", [](const InstanceRow&) { return false; }},
      {"CA10__averageCpuOneWeek__c < 10.5",
       [](const InstanceRow& r) { return r.average && *r.average < 10.5; }},
      {"CA10__averageCpuOneWeek__c = -1.5",
       [](const InstanceRow& r) { return r.average == -1.5; }},
      // Booleans.
      {"CA10__ebsOptimized__c = true",
       [](const InstanceRow& r) { return r.ebs == true; }},
      {"CA10__ebsOptimized__c = FALSE",
       [](const InstanceRow& r) { return r.ebs == false; }},
      {"CA10__ebsOptimized__c != true",
       [](const InstanceRow& r) { return r.ebs != true; }},
      // Datetimes, with offsets, fractions and date literals.
      {"CA10__launchTime__c > 2026-01-01T00:00:00Z",
       [](const InstanceRow& r) {
         return LaunchMs(r) && *LaunchMs(r) > Ms("2026-01-01T00:00:00Z");
       }},
      {"CA10__launchTime__c = 2026-01-01T01:00:00+01:00",
       [](const InstanceRow& r) {
         return LaunchMs(r) == Ms("2026-01-01T00:00:00Z");
       }},
      {"CA10__launchTime__c < 2026-01-01",
       [](const InstanceRow& r) {
         return LaunchMs(r) && *LaunchMs(r) < Ms("2026-01-01T00:00:00Z");
       }},
      {"CA10__launchTime__c >= 2026-01-01T00:00:00.250Z",
       [](const InstanceRow& r) {
         return LaunchMs(r) && *LaunchMs(r) >= Ms("2026-01-01T00:00:00.250Z");
       }},
      {"CA10__disappearanceTime__c = null",
       [](const InstanceRow& r) { return !r.disappeared; }},
      {"CA10__disappearanceTime__c != null",
       [](const InstanceRow& r) { return r.disappeared.has_value(); }},
      // Precedence: NOT binds tighter than AND, AND tighter than OR.
      {"CA10__stateName__c = 'stopped' OR CA10__stateName__c = 'running' AND "
       "CA10__cpuCount__c > 2",
       [](const InstanceRow& r) {
         return Ieq(r.state, "stopped") ||
                (Ieq(r.state, "running") && r.cpu && *r.cpu > 2);
       }},
      {"(CA10__stateName__c = 'stopped' OR CA10__stateName__c = 'running') "
       "AND CA10__cpuCount__c > 2",
       [](const InstanceRow& r) {
         return (Ieq(r.state, "stopped") || Ieq(r.state, "running")) && r.cpu &&
                *r.cpu > 2;
       }},
      {"NOT CA10__stateName__c = 'running' AND CA10__cpuCount__c = 2",
       [](const InstanceRow& r) {
         return !Ieq(r.state, "running") && r.cpu == 2;
       }},
      {"NOT (CA10__stateName__c = 'running' OR CA10__cpuCount__c = 2)",
       [](const InstanceRow& r) {
         return !(Ieq(r.state, "running") || r.cpu == 2);
       }},
      {"NOT NOT CA10__ebsOptimized__c = true",
       [](const InstanceRow& r) { return r.ebs == true; }},
      {"((((Name = 'zeta'))))",
       [](const InstanceRow& r) { return r.name == "zeta"; }},
      // Relationship paths; null and dangling references give null.
      {"CA10__account__r.CA10__accountId__c = '111111111111'",
       [](const InstanceRow& r) {
         const AccountRow* a = FindAccount(r.account);
         return a && a->account_id == "111111111111";
       }},
      {"CA10__account__r.Name != 'acme'",
       [](const InstanceRow& r) {
         const AccountRow* a = FindAccount(r.account);
         return !a || !Ieq(a->name, "acme");
       }},
      {"CA10__account__r.Name = null",
       [](const InstanceRow& r) {
         const AccountRow* a = FindAccount(r.account);
         return !a || !a->name;
       }},
      {"CA10__account__r.CA10__parent__r.Name = 'ROOT'",
       [](const InstanceRow& r) {
         const AccountRow* a = FindAccount(r.account);
         const AccountRow* p = a ? FindAccount(a->parent) : nullptr;
         return p && Ieq(p->name, "root");
       }},
      {"CA10__account__c = null",
       [](const InstanceRow& r) { return !r.account; }},
  };
  for (const WhereCase& c : cases) {
    std::string soql =
        std::string("SELECT Id FROM CA10__CaAwsInstance__c WHERE ") + c.where;
    QueryResult result = Ok(soql);
    std::vector<std::string> expected = ExpectedIds(c.keep);
    EXPECT_EQ(Ids(result), expected) << soql;
    EXPECT_EQ(result.total_size, expected.size()) << soql;
    EXPECT_FALSE(result.aggregate) << soql;
  }
}

TEST(SoqlTest, KeywordsObjectsAndFieldsAreCaseInsensitive) {
  QueryResult result =
      Ok("select id, NAME from ca10__caawsinstance__c where "
         "ca10__statename__c = 'RUNNING' and ca10__ACCOUNT__R.name != null "
         "order by name desc nulls last limit 10");
  std::vector<Json> records = Records(result);
  ASSERT_FALSE(records.empty());
  // Output keys and types are canonical whatever the query's spelling.
  EXPECT_EQ(records[0]["attributes"]["type"], kInstance);
  EXPECT_TRUE(records[0].contains("Id"));
  EXPECT_TRUE(records[0].contains("Name"));
  EXPECT_EQ(result.total_size, ExpectedIds([](const InstanceRow& r) {
                                 const AccountRow* a = FindAccount(r.account);
                                 return Ieq(r.state, "running") && a && a->name;
                               }).size());
}

// --- Records ---------------------------------------------------------------

TEST(SoqlTest, RecordsHaveAttributesNestedRelationshipsAndTypedValues) {
  QueryOptions options;
  options.api_version = "61.0";
  QueryResult result = Ok(
      "SELECT Id, Name, CA10__account__r.CA10__accountId__c, "
      "CA10__cpuCount__c, CA10__averageCpuOneWeek__c, CA10__ebsOptimized__c, "
      "CA10__account__r.Name, CA10__launchTime__c, "
      "CA10__account__r.CA10__parent__r.Name, CA10__disappearanceTime__c "
      "FROM CA10__CaAwsInstance__c",
      options);
  ASSERT_EQ(result.row_count, Instances().size());
  std::vector<Json> records = Records(result);

  Json first = Json::parse(R"({
    "attributes": {"type": "CA10__CaAwsInstance__c",
      "url": "/services/data/v61.0/sobjects/CA10__CaAwsInstance__c/a02000000000001AAA"},
    "Id": "a02000000000001AAA",
    "Name": "web-1",
    "CA10__account__r": {
      "attributes": {"type": "CA10__CaAwsAccount__c",
        "url": "/services/data/v61.0/sobjects/CA10__CaAwsAccount__c/a01000000000001AAA"},
      "CA10__accountId__c": "111111111111",
      "Name": "Acme",
      "CA10__parent__r": {
        "attributes": {"type": "CA10__CaAwsAccount__c",
          "url": "/services/data/v61.0/sobjects/CA10__CaAwsAccount__c/a01000000000002AAA"},
        "Name": "root"}},
    "CA10__cpuCount__c": 2,
    "CA10__averageCpuOneWeek__c": 10.5,
    "CA10__ebsOptimized__c": true,
    "CA10__launchTime__c": "2025-12-01T00:00:00.000+0000",
    "CA10__disappearanceTime__c": null
  })");
  EXPECT_EQ(records[0], first);
  EXPECT_EQ(records[0].dump(), first.dump());  // key order too
  EXPECT_TRUE(records[0]["CA10__cpuCount__c"].is_number_integer());
  EXPECT_TRUE(records[0]["CA10__averageCpuOneWeek__c"].is_number_float());

  for (size_t i = 0; i < records.size(); ++i) {
    const InstanceRow& r = Instances()[i];
    const Json& record = records[i];
    const AccountRow* account = FindAccount(r.account);
    SCOPED_TRACE(r.id);
    if (account == nullptr) {
      // Null and dangling references alike.
      EXPECT_TRUE(record["CA10__account__r"].is_null());
    } else {
      EXPECT_EQ(record["CA10__account__r"]["CA10__accountId__c"],
                account->account_id);
      const AccountRow* parent = FindAccount(account->parent);
      EXPECT_EQ(record["CA10__account__r"]["CA10__parent__r"].is_null(),
                parent == nullptr);
    }
    EXPECT_EQ(record["CA10__cpuCount__c"].is_null(), !r.cpu);
    EXPECT_EQ(record["CA10__ebsOptimized__c"].is_null(), !r.ebs);
    if (r.disappeared) {
      EXPECT_EQ(record["CA10__disappearanceTime__c"],
                FormatDateTime(Ms(r.disappeared->c_str())));
    }
  }
  // One nested object per relationship, at its first field's position.
  std::vector<std::string> keys;
  for (const auto& [key, value] : records[0].items()) keys.push_back(key);
  EXPECT_EQ(keys, (std::vector<std::string>{
                      "attributes", "Id", "Name", "CA10__account__r",
                      "CA10__cpuCount__c", "CA10__averageCpuOneWeek__c",
                      "CA10__ebsOptimized__c", "CA10__launchTime__c",
                      "CA10__disappearanceTime__c"}));
  EXPECT_EQ(records[8]["CA10__launchTime__c"], "2026-01-01T00:00:00.500+0000");
}

TEST(SoqlTest, RecordsOutliveTheCallersInventoryPointer) {
  auto inventory = MakeInventory();
  auto answer = RunQuery(inventory, "SELECT Name FROM CA10__CaAwsInstance__c");
  inventory.reset();
  const auto& result = std::get<QueryResult>(answer);
  EXPECT_EQ(result.record(0)["Name"], "web-1");
}

TEST(SoqlTest, OrderByLimitAndOffset) {
  std::vector<const InstanceRow*> sorted;
  for (const InstanceRow& r : Instances()) sorted.push_back(&r);
  // CPU descending with nulls last, then name case-insensitively.
  std::stable_sort(sorted.begin(), sorted.end(),
                   [](const InstanceRow* a, const InstanceRow* b) {
                     if (a->cpu != b->cpu) {
                       if (!a->cpu) return false;
                       if (!b->cpu) return true;
                       return *a->cpu > *b->cpu;
                     }
                     return Lower(a->name.value_or("")) <
                            Lower(b->name.value_or(""));
                   });
  std::vector<std::string> all;
  for (const InstanceRow* r : sorted) all.push_back(r->id);
  const char* base =
      "SELECT Id FROM CA10__CaAwsInstance__c ORDER BY CA10__cpuCount__c DESC "
      "NULLS LAST, Name ASC";
  EXPECT_EQ(Ids(Ok(base)), all);
  QueryResult window = Ok(std::string(base) + " LIMIT 3 OFFSET 2");
  EXPECT_EQ(window.total_size, 3u);
  EXPECT_EQ(Ids(window),
            std::vector<std::string>(all.begin() + 2, all.begin() + 5));
  EXPECT_EQ(Ok(std::string(base) + " OFFSET 100").total_size, 0u);
  EXPECT_EQ(Ok(std::string(base) + " LIMIT 0").total_size, 0u);

  // Without ORDER BY: table order, and nulls sort first by default.
  std::vector<std::string> table_order =
      ExpectedIds([](const InstanceRow&) { return true; });
  EXPECT_EQ(Ids(Ok("SELECT Id FROM CA10__CaAwsInstance__c LIMIT 4 OFFSET 1")),
            std::vector<std::string>(table_order.begin() + 1,
                                     table_order.begin() + 5));
  std::vector<std::string> by_state =
      Ids(Ok("SELECT Id FROM CA10__CaAwsInstance__c ORDER BY "
             "CA10__stateName__c DESC"));
  EXPECT_EQ(by_state.front(), "a02000000000004AAA");  // null state
  QueryResult by_account =
      Ok("SELECT Id FROM CA10__CaAwsInstance__c ORDER BY CA10__account__r.Name "
         "NULLS LAST, Id DESC LIMIT 1");
  EXPECT_EQ(Ids(by_account), std::vector<std::string>{"a02000000000008AAA"});
}

// --- Aggregates ------------------------------------------------------------

// Case-insensitive ascending with nulls first, as Salesforce sorts groups.
bool GroupLess(const std::optional<std::string>& a,
               const std::optional<std::string>& b) {
  if (!a || !b) return !a && b;
  std::string x = Lower(*a);
  std::string y = Lower(*b);
  return x != y ? x < y : *a < *b;
}

TEST(SoqlTest, GroupByTextCountsLikeAPlainLoop) {
  std::map<std::optional<std::string>, int64_t> counts;
  for (const InstanceRow& r : Instances()) {
    if (!r.disappeared) ++counts[r.state];
  }
  std::vector<std::optional<std::string>> order;
  for (const auto& [state, n] : counts) order.push_back(state);
  std::sort(order.begin(), order.end(), GroupLess);

  QueryResult result =
      Ok("SELECT CA10__stateName__c s, COUNT(Id) n FROM CA10__CaAwsInstance__c "
         "WHERE CA10__disappearanceTime__c = null GROUP BY CA10__stateName__c");
  EXPECT_TRUE(result.aggregate);
  EXPECT_FALSE(result.count_only);
  ASSERT_EQ(result.total_size, order.size());
  ASSERT_EQ(result.row_count, order.size());
  std::vector<Json> records = Records(result);
  for (size_t i = 0; i < order.size(); ++i) {
    Json expected = {{"attributes", {{"type", "AggregateResult"}}},
                     {"s", order[i] ? Json(*order[i]) : Json(nullptr)},
                     {"n", counts[order[i]]}};
    EXPECT_EQ(records[i].dump(), expected.dump());
  }
}

TEST(SoqlTest, EveryAggregateFunction) {
  int64_t rows = 0;
  int64_t with_cpu = 0;
  int64_t cpu_sum = 0;
  double average_sum = 0;
  int64_t with_average = 0;
  std::vector<int> distinct_cpu;
  std::optional<int> min_cpu;
  std::optional<int> max_cpu;
  std::optional<double> max_average;
  std::optional<double> min_launch;
  std::optional<std::string> min_name;
  std::optional<std::string> max_name;
  for (const InstanceRow& r : Instances()) {
    ++rows;
    if (r.cpu) {
      ++with_cpu;
      cpu_sum += *r.cpu;
      if (std::find(distinct_cpu.begin(), distinct_cpu.end(), *r.cpu) ==
          distinct_cpu.end()) {
        distinct_cpu.push_back(*r.cpu);
      }
      min_cpu = std::min(min_cpu.value_or(*r.cpu), *r.cpu);
      max_cpu = std::max(max_cpu.value_or(*r.cpu), *r.cpu);
    }
    if (r.average) {
      average_sum += *r.average;
      ++with_average;
      max_average = std::max(max_average.value_or(*r.average), *r.average);
    }
    if (auto launch = LaunchMs(r)) {
      min_launch = std::min(min_launch.value_or(*launch), *launch);
    }
    if (r.name) {
      if (!min_name || GroupLess(r.name, min_name)) min_name = r.name;
      if (!max_name || GroupLess(max_name, r.name)) max_name = r.name;
    }
  }
  QueryResult result =
      Ok("SELECT COUNT(Id), COUNT(CA10__cpuCount__c), "
         "COUNT_DISTINCT(CA10__cpuCount__c), SUM(CA10__cpuCount__c), "
         "AVG(CA10__averageCpuOneWeek__c), MIN(CA10__cpuCount__c), "
         "MAX(CA10__cpuCount__c), MAX(CA10__averageCpuOneWeek__c), "
         "MIN(CA10__launchTime__c), MIN(Name), MAX(Name), "
         "COUNT_DISTINCT(CA10__stateName__c), COUNT(CA10__account__r.Name) "
         "FROM CA10__CaAwsInstance__c");
  ASSERT_EQ(result.total_size, 1u);
  Json record = result.record(0);
  EXPECT_EQ(record["expr0"], rows);
  EXPECT_EQ(record["expr1"], with_cpu);
  EXPECT_EQ(record["expr2"], static_cast<int64_t>(distinct_cpu.size()));
  EXPECT_EQ(record["expr3"], static_cast<double>(cpu_sum));
  EXPECT_TRUE(record["expr3"].is_number_float());
  EXPECT_DOUBLE_EQ(record["expr4"].get<double>(),
                   average_sum / static_cast<double>(with_average));
  EXPECT_EQ(record["expr5"], *min_cpu);
  EXPECT_TRUE(record["expr5"].is_number_integer());
  EXPECT_EQ(record["expr6"], *max_cpu);
  EXPECT_EQ(record["expr7"], *max_average);
  EXPECT_TRUE(record["expr7"].is_number_float());
  EXPECT_EQ(record["expr8"], FormatDateTime(*min_launch));
  EXPECT_EQ(record["expr9"], *min_name);
  EXPECT_EQ(record["expr10"], *max_name);
  int64_t distinct_states = 0;
  std::vector<std::string> seen;
  for (const InstanceRow& r : Instances()) {
    if (r.state &&
        std::find(seen.begin(), seen.end(), *r.state) == seen.end()) {
      seen.push_back(*r.state);
      ++distinct_states;
    }
  }
  EXPECT_EQ(record["expr11"], distinct_states);
  int64_t named_accounts = 0;
  for (const InstanceRow& r : Instances()) {
    const AccountRow* a = FindAccount(r.account);
    if (a && a->name) ++named_accounts;
  }
  EXPECT_EQ(record["expr12"], named_accounts);
}

// The freshness queries of the query pack: the newest datetime per group of
// a relationship path, over records that are not deleted.
TEST(SoqlTest, MaxDateTimeGroupedByRelationshipPath) {
  std::map<std::optional<std::string>, std::optional<double>> expected;
  for (const InstanceRow& r : Instances()) {
    if (r.disappeared) continue;
    const AccountRow* a = FindAccount(r.account);
    std::optional<std::string> group;
    if (a) group = a->account_id;
    std::optional<double>& newest = expected[group];
    std::optional<double> launch = LaunchMs(r);
    if (launch && (!newest || *launch > *newest)) newest = launch;
  }
  ASSERT_TRUE(expected.count(std::nullopt)) << "a null group to check";
  QueryResult result =
      Ok("SELECT CA10__account__r.CA10__accountId__c account, "
         "MAX(CA10__launchTime__c) newest FROM CA10__CaAwsInstance__c WHERE "
         "CA10__disappearanceTime__c = null GROUP BY "
         "CA10__account__r.CA10__accountId__c LIMIT 2000");
  std::map<std::optional<std::string>, std::optional<double>> got;
  for (const Json& record : Records(result)) {
    std::optional<std::string> group;
    if (!record["account"].is_null()) group = record["account"];
    std::optional<double> newest;
    if (!record["newest"].is_null()) {
      newest = ParseDateTime(record["newest"].get<std::string>());
      ASSERT_TRUE(newest) << record.dump();
    }
    EXPECT_FALSE(got.count(group)) << record.dump();
    got[group] = newest;
  }
  EXPECT_EQ(got, expected);
}

TEST(SoqlTest, AggregatesOverNoRecords) {
  QueryResult result =
      Ok("SELECT COUNT(Id) n, SUM(CA10__cpuCount__c), AVG(CA10__cpuCount__c), "
         "MIN(Name), MAX(CA10__launchTime__c) FROM CA10__CaAwsInstance__c "
         "WHERE Name = 'nothing'");
  ASSERT_EQ(result.total_size, 1u);
  EXPECT_EQ(result.record(0).dump(),
            R"({"attributes":{"type":"AggregateResult"},"n":0,"expr0":null,)"
            R"("expr1":null,"expr2":null,"expr3":null})");
  // With GROUP BY, no records means no groups.
  EXPECT_EQ(Ok("SELECT Name, COUNT(Id) FROM CA10__CaAwsInstance__c WHERE "
               "Name = 'nothing' GROUP BY Name")
                .total_size,
            0u);
}

TEST(SoqlTest, ExprNumbersCountOnlyUnaliasedAggregates) {
  QueryResult result =
      Ok("SELECT MIN(CA10__cpuCount__c) min, MAX(CA10__cpuCount__c), "
         "CA10__stateName__c, SUM(CA10__cpuCount__c), COUNT(Id) n, "
         "COUNT(Name) FROM CA10__CaAwsInstance__c GROUP BY CA10__stateName__c");
  Json record = result.record(0);
  std::vector<std::string> keys;
  for (const auto& [key, value] : record.items()) keys.push_back(key);
  EXPECT_EQ(keys, (std::vector<std::string>{"attributes", "min", "expr0",
                                            "CA10__stateName__c", "expr1", "n",
                                            "expr2"}));
}

TEST(SoqlTest, GroupByRelationshipIsFlattenedToTheLeafName) {
  std::map<std::optional<std::string>, int64_t> counts;
  for (const InstanceRow& r : Instances()) {
    const AccountRow* a = FindAccount(r.account);
    ++counts[a ? std::optional<std::string>(a->account_id) : std::nullopt];
  }
  for (const char* select : {"CA10__account__r.CA10__accountId__c",
                             "CA10__ACCOUNT__R.ca10__accountid__c acct"}) {
    std::string key = std::string(select).find("acct") != std::string::npos
                          ? "acct"
                          : "CA10__accountId__c";
    QueryResult result = Ok(std::string("SELECT ") + select +
                            ", COUNT(Id) FROM CA10__CaAwsInstance__c GROUP BY "
                            "CA10__account__r.CA10__accountId__c");
    ASSERT_EQ(result.total_size, counts.size());
    size_t i = 0;
    for (const auto& [account, n] : counts) {  // std::map: null first
      Json record = result.record(i++);
      Json expected = {{"attributes", {{"type", "AggregateResult"}}},
                       {key, account ? Json(*account) : Json(nullptr)},
                       {"expr0", n}};
      EXPECT_EQ(record.dump(), expected.dump());
    }
  }
}

TEST(SoqlTest, GroupByNonTextAndSeveralFields) {
  // Booleans group through the value map rather than dictionary codes.
  std::map<std::pair<std::optional<std::string>, std::optional<bool>>, int64_t>
      counts;
  for (const InstanceRow& r : Instances()) {
    ++counts[{
        r.state ? std::optional<std::string>(Lower(*r.state)) : std::nullopt,
        r.ebs}];
  }
  QueryResult result =
      Ok("SELECT CA10__stateName__c, CA10__ebsOptimized__c, COUNT(Id) FROM "
         "CA10__CaAwsInstance__c GROUP BY CA10__stateName__c, "
         "CA10__ebsOptimized__c");
  int64_t total = 0;
  std::map<std::pair<std::optional<std::string>, std::optional<bool>>, int64_t>
      seen;
  std::vector<Json> records = Records(result);
  for (const Json& record : records) {
    std::optional<std::string> state;
    if (!record["CA10__stateName__c"].is_null()) {
      state = Lower(record["CA10__stateName__c"].get<std::string>());
    }
    std::optional<bool> ebs;
    if (!record["CA10__ebsOptimized__c"].is_null()) {
      ebs = record["CA10__ebsOptimized__c"].get<bool>();
    }
    seen[{state, ebs}] += record["expr0"].get<int64_t>();
    total += record["expr0"].get<int64_t>();
  }
  EXPECT_EQ(seen, counts);
  EXPECT_EQ(total, static_cast<int64_t>(Instances().size()));
  // Default order: by state (nulls first), then by the boolean.
  EXPECT_TRUE(records.front()["CA10__stateName__c"].is_null());

  std::map<std::optional<int>, int64_t> by_cpu;
  for (const InstanceRow& r : Instances()) ++by_cpu[r.cpu];
  QueryResult cpu =
      Ok("SELECT CA10__cpuCount__c c, COUNT(Id) n FROM CA10__CaAwsInstance__c "
         "GROUP BY CA10__cpuCount__c");
  ASSERT_EQ(cpu.total_size, by_cpu.size());
  size_t i = 0;
  for (const auto& [value, n] : by_cpu) {
    Json record = cpu.record(i++);
    EXPECT_EQ(record["c"], value ? Json(*value) : Json(nullptr));
    EXPECT_EQ(record["n"], n);
  }
}

TEST(SoqlTest, OrderByAggregatesAliasesAndGroupedFields) {
  auto counts_by_cpu = [](const QueryResult& result) {
    std::vector<int64_t> out;
    for (const Json& record : Records(result)) out.push_back(record["n"]);
    return out;
  };
  QueryResult by_count =
      Ok("SELECT CA10__cpuCount__c, COUNT(Id) n FROM CA10__CaAwsInstance__c "
         "GROUP BY CA10__cpuCount__c ORDER BY COUNT(Id) DESC");
  std::vector<int64_t> counts = counts_by_cpu(by_count);
  EXPECT_TRUE(std::is_sorted(counts.rbegin(), counts.rend()));
  QueryResult by_alias =
      Ok("SELECT CA10__cpuCount__c, COUNT(Id) n FROM CA10__CaAwsInstance__c "
         "GROUP BY CA10__cpuCount__c ORDER BY n DESC, CA10__cpuCount__c");
  EXPECT_EQ(counts_by_cpu(by_alias), counts);
  // Ties on the count are broken by the grouped value.
  EXPECT_EQ(
      Records(by_alias)[0].dump(),
      R"({"attributes":{"type":"AggregateResult"},"CA10__cpuCount__c":2,"n":3})");

  QueryResult by_state =
      Ok("SELECT CA10__stateName__c s, COUNT(Id) n FROM CA10__CaAwsInstance__c "
         "GROUP BY CA10__stateName__c ORDER BY CA10__stateName__c DESC NULLS "
         "LAST LIMIT 2 OFFSET 1");
  EXPECT_EQ(by_state.total_size, 2u);
  EXPECT_EQ(by_state.record(0)["s"], "stopped");
  EXPECT_EQ(by_state.record(1)["s"], "running");
  // Text aggregates sort case-insensitively.
  for (const char* order : {"ORDER BY MIN(Name) DESC", "ORDER BY m DESC"}) {
    QueryResult by_min =
        Ok(std::string("SELECT CA10__stateName__c, MIN(Name) m FROM "
                       "CA10__CaAwsInstance__c GROUP BY CA10__stateName__c ") +
           order);
    std::vector<std::optional<std::string>> mins;
    for (const Json& record : Records(by_min))
      mins.push_back(record["m"].get<std::string>());
    ASSERT_EQ(mins.size(), 7u) << order;
    EXPECT_TRUE(std::is_sorted(mins.rbegin(), mins.rend(), GroupLess)) << order;
    EXPECT_EQ(mins.back(), "50%_off") << order;
  }
  // An aggregate only in ORDER BY is computed but not returned.
  QueryResult hidden =
      Ok("SELECT CA10__stateName__c FROM CA10__CaAwsInstance__c GROUP BY "
         "CA10__stateName__c ORDER BY MAX(CA10__cpuCount__c) DESC NULLS LAST "
         "LIMIT 1");
  EXPECT_EQ(
      hidden.record(0).dump(),
      R"({"attributes":{"type":"AggregateResult"},"CA10__stateName__c":"pending"})");
}

TEST(SoqlTest, CountOnlyPutsTheCountInTotalSize) {
  size_t live =
      ExpectedIds([](const InstanceRow& r) { return !r.disappeared; }).size();
  QueryResult result =
      Ok("SELECT COUNT() FROM CA10__CaAwsInstance__c WHERE "
         "CA10__disappearanceTime__c = null");
  EXPECT_TRUE(result.count_only);
  EXPECT_FALSE(result.aggregate);
  EXPECT_EQ(result.total_size, live);
  EXPECT_EQ(result.row_count, 0u);
  EXPECT_EQ(Ok("SELECT COUNT() FROM CA10__CaAwsInstance__c LIMIT 3").total_size,
            3u);
  EXPECT_EQ(Ok("SELECT COUNT() FROM CA10__CaAwsAccount__c").total_size,
            Accounts().size());
  // COUNT(Id) is a record, not totalSize.
  QueryResult count_id = Ok("SELECT COUNT(Id) FROM CA10__CaAwsInstance__c");
  EXPECT_FALSE(count_id.count_only);
  EXPECT_EQ(count_id.total_size, 1u);
  EXPECT_EQ(count_id.record(0)["expr0"],
            static_cast<int64_t>(Instances().size()));
}

// --- Errors ----------------------------------------------------------------

struct ErrorCase {
  const char* soql;
  const char* error_code;
  const char* detail;
};

TEST(SoqlTest, ErrorCodesAndDetails) {
  const std::string kNoColumn =
      "'. If you are attempting to use a custom field, be sure to append the "
      "'__c' after the custom field name. Please reference your WSDL or the "
      "describe call for the appropriate names.";
  const std::string no_foo =
      "No such column 'Foo__c' on entity 'CA10__CaAwsInstance__c" + kNoColumn;
  const std::string no_account_foo =
      "No such column 'Foo__c' on entity 'CA10__CaAwsAccount__c" + kNoColumn;
  const std::string bad_relationship =
      "Didn't understand relationship 'Foo__r' in field path. If you are "
      "attempting to use a custom relationship, be sure to append the '__r' "
      "after the custom relationship name. Please reference your WSDL or the "
      "describe call for the appropriate names.";
  const std::string bad_type =
      "sObject type 'Bogus__c' is not supported. If you are attempting to use "
      "a custom object, be sure to append the '__c' after the entity name. "
      "Please reference your WSDL or the describe call for the appropriate "
      "names.";
  auto filter = [](const char* field, const char* type, bool quoted) {
    return std::string("value of filter criterion for field '") + field +
           "' must be of type " + type + " and should " +
           (quoted ? "" : "not ") + "be enclosed in quotes";
  };
  const std::string s_cpu = filter("CA10__cpuCount__c", "integer", false);
  const std::string s_avg =
      filter("CA10__averageCpuOneWeek__c", "double", false);
  const std::string s_launch = filter("CA10__launchTime__c", "dateTime", false);
  const std::string s_ebs = filter("CA10__ebsOptimized__c", "boolean", false);
  const std::string s_name = filter("Name", "string", true);
  const std::string s_id = filter("Id", "id", true);
  const std::string s_rel = filter("CA10__account__r.Name", "string", true);

  const ErrorCase cases[] = {
      {"", "MALFORMED_QUERY", "unexpected end of query"},
      {"   ", "MALFORMED_QUERY", "unexpected end of query"},
      {"SELECT", "MALFORMED_QUERY", "unexpected end of query"},
      {"SELECT Id FROM", "MALFORMED_QUERY", "unexpected end of query"},
      {"SELECT Id FRM CA10__CaAwsInstance__c", "MALFORMED_QUERY",
       "unexpected token: 'FRM'"},
      {"SELECT * FROM CA10__CaAwsInstance__c", "MALFORMED_QUERY",
       "unexpected token: '*'"},
      {"SELECT Id, FROM CA10__CaAwsInstance__c", "MALFORMED_QUERY",
       "unexpected token: 'FROM'"},
      {"SELECT Id FROM CA10__CaAwsInstance__c WHERE", "MALFORMED_QUERY",
       "unexpected end of query"},
      {"SELECT Id FROM CA10__CaAwsInstance__c WHERE (Name = 'a'",
       "MALFORMED_QUERY", "unexpected end of query"},
      {"SELECT Id FROM CA10__CaAwsInstance__c WHERE Name = 'a' AND",
       "MALFORMED_QUERY", "unexpected end of query"},
      {"SELECT Id FROM CA10__CaAwsInstance__c WHERE Name == 'a'",
       "MALFORMED_QUERY", "unexpected token: '='"},
      {"SELECT Id FROM CA10__CaAwsInstance__c WHERE Name IN ()",
       "MALFORMED_QUERY", "unexpected token: ')'"},
      {"SELECT Id FROM CA10__CaAwsInstance__c WHERE Name = 'abc",
       "MALFORMED_QUERY", "mismatched character '<EOF>' expecting '''"},
      {"SELECT Id FROM CA10__CaAwsInstance__c WHERE Name = 'a\\qb'",
       "MALFORMED_QUERY",
       "Invalid string literal: illegal escape sequence '\\q'"},
      {"SELECT Id FROM CA10__CaAwsInstance__c WHERE CA10__launchTime__c > "
       "2026-13-01T00:00:00Z",
       "MALFORMED_QUERY", "unexpected token: '2026-13-01T00:00:00Z'"},
      {"SELECT Id FROM CA10__CaAwsInstance__c LIMIT -1", "MALFORMED_QUERY",
       "unexpected token: '-1'"},
      {"SELECT Id FROM CA10__CaAwsInstance__c LIMIT 1.5", "MALFORMED_QUERY",
       "unexpected token: '1.5'"},
      {"SELECT Id FROM CA10__CaAwsInstance__c LIMIT 1 LIMIT 2",
       "MALFORMED_QUERY", "unexpected token: 'LIMIT'"},
      {"SELECT Id FROM CA10__CaAwsInstance__c GROUP BY Name HAVING "
       "COUNT(Id) > 1",
       "MALFORMED_QUERY", "unexpected token: 'HAVING'"},
      {"SELECT FORMAT(Name) FROM CA10__CaAwsInstance__c", "MALFORMED_QUERY",
       "unexpected token: '('"},
      {"SELECT Id FROM Bogus__c", "INVALID_TYPE", bad_type.c_str()},
      {"SELECT Foo__c FROM CA10__CaAwsInstance__c", "INVALID_FIELD",
       no_foo.c_str()},
      {"SELECT Id FROM CA10__CaAwsInstance__c WHERE Foo__c = 1",
       "INVALID_FIELD", no_foo.c_str()},
      {"SELECT Id FROM CA10__CaAwsInstance__c ORDER BY Foo__c", "INVALID_FIELD",
       no_foo.c_str()},
      {"SELECT CA10__account__r.Foo__c FROM CA10__CaAwsInstance__c",
       "INVALID_FIELD", no_account_foo.c_str()},
      {"SELECT Foo__r.Name FROM CA10__CaAwsInstance__c", "INVALID_FIELD",
       bad_relationship.c_str()},
      {"SELECT CA10__account__r.Foo__r.Name FROM CA10__CaAwsInstance__c",
       "INVALID_FIELD", bad_relationship.c_str()},
      {"SELECT Id FROM CA10__CaAwsInstance__c WHERE CA10__cpuCount__c = '4'",
       "INVALID_FIELD", s_cpu.c_str()},
      {"SELECT Id FROM CA10__CaAwsInstance__c WHERE "
       "CA10__averageCpuOneWeek__c IN (1, 'x')",
       "INVALID_FIELD", s_avg.c_str()},
      {"SELECT Id FROM CA10__CaAwsInstance__c WHERE CA10__launchTime__c = "
       "'2026-01-01T00:00:00Z'",
       "INVALID_FIELD", s_launch.c_str()},
      {"SELECT Id FROM CA10__CaAwsInstance__c WHERE CA10__launchTime__c = 5",
       "INVALID_FIELD", s_launch.c_str()},
      {"SELECT Id FROM CA10__CaAwsInstance__c WHERE CA10__ebsOptimized__c = "
       "'true'",
       "INVALID_FIELD", s_ebs.c_str()},
      {"SELECT Id FROM CA10__CaAwsInstance__c WHERE CA10__ebsOptimized__c = 1",
       "INVALID_FIELD", s_ebs.c_str()},
      {"SELECT Id FROM CA10__CaAwsInstance__c WHERE Name = 5", "INVALID_FIELD",
       s_name.c_str()},
      {"SELECT Id FROM CA10__CaAwsInstance__c WHERE Name LIKE true",
       "INVALID_FIELD", s_name.c_str()},
      {"SELECT Id FROM CA10__CaAwsInstance__c WHERE CA10__cpuCount__c LIKE "
       "'4%'",
       "INVALID_FIELD", s_cpu.c_str()},
      {"SELECT Id FROM CA10__CaAwsInstance__c WHERE Id = 2026-01-01",
       "INVALID_FIELD", s_id.c_str()},
      {"SELECT Id FROM CA10__CaAwsInstance__c WHERE CA10__account__r.Name = 1",
       "INVALID_FIELD", s_rel.c_str()},
      {"SELECT Name, COUNT(Id) FROM CA10__CaAwsInstance__c GROUP BY "
       "CA10__stateName__c",
       "MALFORMED_QUERY", "Field must be grouped or aggregated: Name"},
      {"SELECT Name, COUNT(Id) FROM CA10__CaAwsInstance__c", "MALFORMED_QUERY",
       "Field must be grouped or aggregated: Name"},
      {"SELECT COUNT(Id) FROM CA10__CaAwsInstance__c GROUP BY "
       "CA10__stateName__c ORDER BY Name",
       "MALFORMED_QUERY", "Ordered field must be grouped or aggregated: Name"},
      {"SELECT CA10__launchTime__c, COUNT(Id) FROM CA10__CaAwsInstance__c "
       "GROUP BY CA10__launchTime__c",
       "INVALID_FIELD",
       "field 'CA10__launchTime__c' can not be grouped in a query call"},
      {"SELECT SUM(Name) FROM CA10__CaAwsInstance__c", "INVALID_FIELD",
       "field Name does not support aggregate operator SUM"},
      {"SELECT AVG(CA10__launchTime__c) FROM CA10__CaAwsInstance__c",
       "INVALID_FIELD",
       "field CA10__launchTime__c does not support aggregate operator AVG"},
      {"SELECT MIN(CA10__ebsOptimized__c) FROM CA10__CaAwsInstance__c",
       "INVALID_FIELD",
       "field CA10__ebsOptimized__c does not support aggregate operator MIN"},
      {"SELECT COUNT(), Id FROM CA10__CaAwsInstance__c", "MALFORMED_QUERY",
       "COUNT() must be the only element in the SELECT list"},
      {"SELECT COUNT() FROM CA10__CaAwsInstance__c GROUP BY Name",
       "MALFORMED_QUERY", "COUNT() can not be used with GROUP BY"},
      {"SELECT COUNT() FROM CA10__CaAwsInstance__c ORDER BY Name",
       "MALFORMED_QUERY", "COUNT() can not be used with ORDER BY"},
      {"SELECT COUNT(Id) n, MAX(CA10__cpuCount__c) N FROM "
       "CA10__CaAwsInstance__c",
       "MALFORMED_QUERY", "duplicate alias: N"},
      {"SELECT Name, COUNT(Id) Name FROM CA10__CaAwsInstance__c GROUP BY Name",
       "MALFORMED_QUERY", "duplicate alias: Name"},
      {"SELECT CA10__account__r.Name, Name, COUNT(Id) FROM "
       "CA10__CaAwsInstance__c GROUP BY CA10__account__r.Name, Name",
       "MALFORMED_QUERY", "duplicate alias: Name"},
      {"SELECT COUNT(Id) expr1, COUNT(Name), SUM(CA10__cpuCount__c) FROM "
       "CA10__CaAwsInstance__c",
       "MALFORMED_QUERY", "duplicate alias: expr1"},
      {"SELECT Id, ID FROM CA10__CaAwsInstance__c", "MALFORMED_QUERY",
       "duplicate field selected: ID"},
      {"SELECT Name n FROM CA10__CaAwsInstance__c", "MALFORMED_QUERY",
       "Only aggregate expressions use field aliasing"},
  };
  for (const ErrorCase& c : cases) {
    QueryError error = Err(c.soql);
    EXPECT_EQ(error.error_code, c.error_code) << c.soql;
    EXPECT_EQ(Detail(error), c.detail) << c.soql << "\n" << error.message;
    EXPECT_NE(error.message.find("\nERROR at Row:"), std::string::npos)
        << error.message;
  }
}

TEST(SoqlTest, ErrorMessagesPointAtTheOffendingToken) {
  EXPECT_EQ(Err("SELECT Id FRM X").message,
            "SELECT Id FRM X\n          ^\nERROR at Row:1:Column:11\n"
            "unexpected token: 'FRM'");
  QueryError type = Err("SELECT Id FROM Bogus__c");
  EXPECT_EQ(
      type.message.substr(0, type.message.rfind('\n')),
      "SELECT Id FROM Bogus__c\n               ^\nERROR at Row:1:Column:16");
  // The row and the line are the ones holding the error.
  QueryError field = Err(
      "SELECT Id\nFROM CA10__CaAwsInstance__c\r\nWHERE  Foo__c = 1\nLIMIT 5");
  EXPECT_EQ(field.error_code, "INVALID_FIELD");
  EXPECT_EQ(field.message.substr(0, field.message.rfind('\n')),
            "WHERE  Foo__c = 1\n       ^\nERROR at Row:3:Column:8");
  QueryError end = Err("SELECT Id FROM");
  EXPECT_EQ(end.message,
            "SELECT Id FROM\n              ^\nERROR at Row:1:Column:15\n"
            "unexpected end of query");
  // Columns count characters, not bytes.
  QueryError unicode =
      Err("SELECT Id FROM CA10__CaAwsInstance__c WHERE Name = 'é' AND ~");
  EXPECT_NE(unicode.message.find("ERROR at Row:1:Column:60\n"),
            std::string::npos)
      << unicode.message;
}

// --- Robustness ------------------------------------------------------------

TEST(SoqlTest, GarbageGivesErrorsNotCrashes) {
  const std::string garbage[] = {
      std::string("\0", 1),
      "\xff\xfe\xfd",
      "SELECT \xc3",
      "SELECT Id FROM CA10__CaAwsInstance__c WHERE Name = 'a' \x01",
      "((((",
      "'",
      "\\",
      ")",
      "SELECT Id FROM CA10__CaAwsInstance__c WHERE NOT",
      "SELECT Id FROM CA10__CaAwsInstance__c ORDER BY",
      "SELECT Id FROM CA10__CaAwsInstance__c ORDER BY Name NULLS",
      "SELECT Id FROM CA10__CaAwsInstance__c GROUP BY",
      "SELECT COUNT( FROM CA10__CaAwsInstance__c",
      "SELECT COUNT(Id FROM CA10__CaAwsInstance__c",
      "SELECT Id FROM CA10__CaAwsInstance__c WHERE Name = 'a' OR OR",
      "SELECT Id FROM CA10__CaAwsInstance__c LIMIT 99999999999999999999999",
      "SELECT Id FROM CA10__CaAwsInstance__c WHERE CA10__cpuCount__c = 1e5",
      "SELECT Id FROM CA10__CaAwsInstance__c WHERE CA10__cpuCount__c = " +
          std::string(400, '9'),
      "SELECT a..b FROM CA10__CaAwsInstance__c",
      "SELECT a. FROM CA10__CaAwsInstance__c",
      "SELECT Id FROM CA10__CaAwsInstance__c.Name",
      "SELECT Id FROM CA10__CaAwsInstance__c x",
      "SELECT Id FROM CA10__CaAwsInstance__c WHERE Name IN 'a'",
      "SELECT Id FROM CA10__CaAwsInstance__c WHERE Name NOT LIKE 'a'",
      "SELECT Id FROM CA10__CaAwsInstance__c WHERE Name = TODAY",
      "SELECT Id FROM CA10__CaAwsInstance__c WHERE Name = :bind",
      "SELECT Id FROM CA10__CaAwsInstance__c WHERE 'a' = Name",
      "SELECT Id FROM CA10__CaAwsInstance__c WHERE Name = 'a' )",
      "SELECT COUNT() FROM CA10__CaAwsInstance__c ORDER BY COUNT()",
      "SELECT Id FROM CA10__CaAwsInstance__c WHERE CA10__launchTime__c > "
      "2026-01-01T",
      "SELECT Id FROM CA10__CaAwsInstance__c WHERE Name = 'x\\",
      "SELECT SELECT FROM FROM",
      std::string(200000, 'x'),
      "SELECT Id FROM CA10__CaAwsInstance__c WHERE " + std::string(150000, '('),
  };
  for (const std::string& soql : garbage) {
    auto answer = RunQuery(Fixture(), soql);
    ASSERT_TRUE(std::holds_alternative<QueryError>(answer))
        << soql.substr(0, 200);
    const QueryError& error = std::get<QueryError>(answer);
    EXPECT_EQ(error.error_code, "MALFORMED_QUERY") << soql.substr(0, 200);
    // The message goes into a JSON body, so it must be valid UTF-8.
    EXPECT_NO_THROW(Json(error.message).dump()) << soql.substr(0, 200);
  }
}

TEST(SoqlTest, DeepNestingIsCappedAndShallowNestingWorks) {
  const std::string base = "SELECT Id FROM CA10__CaAwsInstance__c WHERE ";
  auto nested = [&](int depth) {
    return base + std::string(static_cast<size_t>(depth), '(') +
           "Name = 'zeta'" + std::string(static_cast<size_t>(depth), ')');
  };
  EXPECT_EQ(Ok(nested(90)).total_size, 1u);
  EXPECT_EQ(Err(nested(101)).error_code, "MALFORMED_QUERY");
  EXPECT_EQ(Err(nested(20000)).error_code, "MALFORMED_QUERY");
  std::string nots;
  for (int i = 0; i < 20000; ++i) nots += "NOT ";
  EXPECT_EQ(Err(base + nots + "Name = 'zeta'").error_code, "MALFORMED_QUERY");
  // Long flat chains do not recurse.
  std::string chain = base + "Name = 'zeta'";
  for (int i = 0; i < 3000; ++i)
    chain += " OR Name = 'none" + std::to_string(i) + "'";
  EXPECT_EQ(Ok(chain).total_size, 1u);
}

TEST(SoqlTest, RandomTokenSoupNeverCrashes) {
  const char* fragments[] = {"SELECT",
                             "FROM",
                             "WHERE",
                             "GROUP BY",
                             "ORDER BY",
                             "LIMIT",
                             "OFFSET",
                             "AND",
                             "OR",
                             "NOT",
                             "IN",
                             "LIKE",
                             "NULL",
                             "true",
                             "(",
                             ")",
                             ",",
                             "=",
                             "!=",
                             "<",
                             ">=",
                             "'a'",
                             "'%x_'",
                             "5",
                             "-2.5",
                             "2026-01-01T00:00:00Z",
                             "Id",
                             "Name",
                             "CA10__cpuCount__c",
                             "CA10__account__r.Name",
                             "CA10__CaAwsInstance__c",
                             "COUNT(Id)",
                             "COUNT()",
                             "SUM(",
                             "MAX(Name)",
                             "n",
                             "DESC",
                             "NULLS LAST",
                             "\xff",
                             "'\\n'",
                             "CA10__stateName__c"};
  std::mt19937 random(7);
  std::uniform_int_distribution<size_t> pick(0, std::size(fragments) - 1);
  std::uniform_int_distribution<int> length(1, 25);
  size_t successes = 0;
  for (int i = 0; i < 3000; ++i) {
    std::string soql = i % 2 == 0 ? "SELECT " : "";
    int n = length(random);
    for (int k = 0; k < n; ++k) {
      soql += fragments[pick(random)];
      soql += ' ';
    }
    auto answer = RunQuery(Fixture(), soql);
    if (auto* result = std::get_if<QueryResult>(&answer)) {
      ++successes;
      for (size_t r = 0; r < result->row_count; ++r) result->record(r).dump();
    } else {
      EXPECT_NO_THROW(Json(std::get<QueryError>(answer).message).dump());
    }
  }
  std::uniform_int_distribution<int> byte(0, 255);
  for (int i = 0; i < 1000; ++i) {
    std::string soql;
    int n = length(random) * 4;
    for (int k = 0; k < n; ++k) soql += static_cast<char>(byte(random));
    auto answer = RunQuery(Fixture(), soql);
    ASSERT_TRUE(std::holds_alternative<QueryError>(answer));
    EXPECT_NO_THROW(Json(std::get<QueryError>(answer).message).dump());
  }
  RecordProperty("successes", static_cast<int>(successes));
}

TEST(SoqlTest, ConcurrentQueriesAgree) {
  const char* soql =
      "SELECT CA10__account__r.CA10__accountId__c a, COUNT(Id) n FROM "
      "CA10__CaAwsInstance__c WHERE CA10__stateName__c != 'stopped' GROUP BY "
      "CA10__account__r.CA10__accountId__c";
  QueryResult reference = Ok(soql);
  std::vector<Json> expected = Records(reference);
  std::vector<std::thread> threads;
  std::vector<int> mismatches(4, 0);
  for (size_t t = 0; t < mismatches.size(); ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 100; ++i) {
        auto answer = RunQuery(Fixture(), soql);
        const auto* result = std::get_if<QueryResult>(&answer);
        if (result == nullptr || Records(*result) != expected) ++mismatches[t];
        // Records of the shared reference result render concurrently too.
        if (reference.record(0) != expected[0]) ++mismatches[t];
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(mismatches, std::vector<int>(4, 0));
}

}  // namespace
}  // namespace cmdb_simulator
