#include "simulator/inventory.h"

#include <gtest/gtest.h>

#include <cctype>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace cmdb_simulator {
namespace {

constexpr double kDayMs = 86400.0 * 1000;
constexpr double kNow = 1795000000000.0;  // GenerateOptions::now_ms

const char* const kAwsResources[] = {
    "CA10__CaAwsInstance__c", "CA10__CaAwsVolume__c", "CA10__CaAwsBucket__c",
    "CA10__CaAwsDbInstance__c"};

Inventory Make(size_t records, uint64_t seed = 1, double deleted_share = 0.1) {
  GenerateOptions options;
  options.records = records;
  options.seed = seed;
  options.deleted_share = deleted_share;
  return Inventory::Generate(options);
}

const Table& Get(const Inventory& inventory, std::string_view name) {
  const Table* table = inventory.FindTable(name);
  if (!table) throw std::runtime_error("no table " + std::string(name));
  return *table;
}

double Ratio(size_t part, size_t whole) {
  return static_cast<double>(part) / static_cast<double>(whole);
}

Value Cell(const Table& table, std::string_view field, size_t row) {
  return table.column(field).Get(row);
}

bool IsParent(const Table& table) {
  const std::string& name = table.def().name;
  return name == "CA10__CaAwsAccount__c" || name == "CA10__CaAzureAccount__c" ||
         name == "CA10__CaGoogleProject__c";
}

// The disappearance field, whichever package prefix it carries.
std::string GoneField(const Table& table) {
  for (const FieldDef& f : table.def().fields) {
    if (f.name.ends_with("__disappearanceTime__c")) return f.name;
  }
  return "";
}

// Written from Salesforce's description, independently of the generator.
std::string Checksum(std::string_view id15) {
  std::string out;
  for (size_t chunk = 0; chunk < 3; ++chunk) {
    int bits = 0;
    for (size_t i = 0; i < 5; ++i) {
      char c = id15[chunk * 5 + i];
      if (c >= 'A' && c <= 'Z') bits += 1 << i;
    }
    out += static_cast<char>(bits < 26 ? 'A' + bits : '0' + bits - 26);
  }
  return out;
}

std::string ErrorOf(const std::string& document) {
  try {
    Inventory::FromJson(nlohmann::json::parse(document));
  } catch (const InventoryError& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(InventoryTest, SameSeedSameInventory) {
  EXPECT_TRUE(Make(3000, 42).ToJson() == Make(3000, 42).ToJson());
}

TEST(InventoryTest, DifferentSeedDifferentInventory) {
  Inventory a = Make(3000, 1);
  Inventory b = Make(3000, 2);
  EXPECT_FALSE(a.ToJson() == b.ToJson());
  const Table& ec2_a = Get(a, "CA10__CaAwsInstance__c");
  const Table& ec2_b = Get(b, "CA10__CaAwsInstance__c");
  EXPECT_NE(Cell(ec2_a, "CA10__instanceId__c", 0).text,
            Cell(ec2_b, "CA10__instanceId__c", 0).text);
}

TEST(InventoryTest, ExactTotalForSeveralSizes) {
  for (size_t records : {10, 11, 137, 401, 2500, 10000}) {
    EXPECT_EQ(Make(records).TotalRecords(), records) << records;
  }
}

TEST(InventoryTest, AlwaysSomeAccountsSubscriptionsAndProjects) {
  struct Case {
    size_t records, accounts, subscriptions, projects;
  };
  for (Case c : {Case{3, 2, 1, 1}, Case{10, 2, 1, 1}, Case{10000, 25, 10, 10},
                 Case{100000, 60, 20, 20}}) {
    Inventory inventory = Make(c.records);
    EXPECT_EQ(Get(inventory, "CA10__CaAwsAccount__c").rows(), c.accounts)
        << c.records;
    EXPECT_EQ(Get(inventory, "CA10__CaAzureAccount__c").rows(), c.subscriptions)
        << c.records;
    EXPECT_EQ(Get(inventory, "CA10__CaGoogleProject__c").rows(), c.projects)
        << c.records;
  }
}

TEST(InventoryTest, ResourcesSplitByShare) {
  const std::map<std::string, double> shares = {
      {"CA10__CaAwsInstance__c", 0.30},
      {"CA10__CaAwsVolume__c", 0.28},
      {"CA10__CaAwsBucket__c", 0.08},
      {"CA10__CaAwsDbInstance__c", 0.04},
      {"CA10A1__CaAwsEksCluster__c", 0.005},
      {"CA10__CaAzureVirtualMachine__c", 0.15},
      {"CA10Z1__CaAzureAksCluster__c", 0.005},
      {"CA10__CaGoogleGceInstance__c", 0.135},
      {"CA10G1__CaGoogleGkeCluster__c", 0.005}};
  Inventory inventory = Make(10000);
  const double resources = 10000 - 25 - 10 - 10;
  for (const auto& [name, share] : shares) {
    EXPECT_NEAR(static_cast<double>(Get(inventory, name).rows()),
                share * resources, 1.0)
        << name;
  }
}

TEST(InventoryTest, OnlyObjectsTakeAllResources) {
  GenerateOptions options;
  options.records = 5000;
  options.only_objects = {"ca10__caawsinstance__c"};  // case-insensitive
  Inventory inventory = Inventory::Generate(options);
  EXPECT_EQ(inventory.TotalRecords(), 5000u);
  const size_t parents = 13 + 5 + 5;
  EXPECT_EQ(Get(inventory, "CA10__CaAwsInstance__c").rows(), 5000 - parents);
  EXPECT_EQ(Get(inventory, "CA10__CaAwsAccount__c").rows(), 13u);
  EXPECT_EQ(Get(inventory, "CA10__CaAwsVolume__c").rows(), 0u);
  EXPECT_EQ(Get(inventory, "CA10__CaGoogleGceInstance__c").rows(), 0u);

  options.only_objects = {"Bogus__c"};
  EXPECT_THROW(Inventory::Generate(options), InventoryError);
  options.only_objects = {"CA10__CaAwsAccount__c"};
  EXPECT_THROW(Inventory::Generate(options), InventoryError);
}

TEST(InventoryTest, RejectsBadOptions) {
  GenerateOptions options;
  options.deleted_share = 1.5;
  EXPECT_THROW(Inventory::Generate(options), InventoryError);
  options.deleted_share = 0.1;
  options.now_ms = -1;
  EXPECT_THROW(Inventory::Generate(options), InventoryError);
}

TEST(InventoryTest, DeletedShareWithinTolerance) {
  for (double share : {0.0, 0.1, 0.3, 1.0}) {
    Inventory inventory = Make(20000, 3, share);
    size_t resources = 0, deleted = 0;
    for (const auto& table : inventory.tables()) {
      // Like a real org, the account objects have no disappearance field.
      if (IsParent(*table)) {
        EXPECT_EQ(GoneField(*table), "") << table->def().name;
        continue;
      }
      const Column& gone = table->column(GoneField(*table));
      for (size_t r = 0; r < table->rows(); ++r) {
        ++resources;
        deleted += gone.Get(r).is_null() ? 0 : 1;
      }
    }
    EXPECT_NEAR(Ratio(deleted, resources), share, 0.01) << share;
  }
}

TEST(InventoryTest, Ec2StatesAreSkewedWithNulls) {
  Inventory inventory = Make(20000);
  const Table& ec2 = Get(inventory, "CA10__CaAwsInstance__c");
  std::map<std::string, size_t> live, deleted;
  for (size_t r = 0; r < ec2.rows(); ++r) {
    std::string state(Cell(ec2, "CA10__stateName__c", r).text);
    ++(Cell(ec2, "CA10__disappearanceTime__c", r).is_null() ? live
                                                            : deleted)[state];
  }
  size_t live_total = 0, deleted_total = 0;
  for (const auto& [state, n] : live) live_total += n;
  for (const auto& [state, n] : deleted) deleted_total += n;
  EXPECT_GT(live[""], 0u) << "no null states";
  EXPECT_NEAR(Ratio(live["running"], live_total), 0.68, 0.03);
  EXPECT_NEAR(Ratio(live["stopped"], live_total), 0.22, 0.03);
  EXPECT_GT(live["pending"], 0u);
  EXPECT_GT(Ratio(deleted["terminated"], deleted_total), 0.8);
}

TEST(InventoryTest, RegionsAndAccountsAreSkewed) {
  Inventory inventory = Make(20000);
  const Table& ec2 = Get(inventory, "CA10__CaAwsInstance__c");
  const Table& accounts = Get(inventory, "CA10__CaAwsAccount__c");
  std::map<std::string, size_t> regions, per_account;
  for (size_t r = 0; r < ec2.rows(); ++r) {
    ++regions[std::string(Cell(ec2, "CA10__regionName__c", r).text)];
    ++per_account[std::string(Cell(ec2, "CA10__account__c", r).text)];
  }
  EXPECT_NEAR(Ratio(regions["us-east-1"], ec2.rows()), 0.35, 0.03);
  EXPECT_GT(regions["us-east-1"], regions["us-west-2"]);
  EXPECT_GT(regions["us-west-2"], regions["sa-east-1"]);
  EXPECT_EQ(regions.size(), 9u);
  std::string first(Cell(accounts, "Id", 0).text);
  std::string last(Cell(accounts, "Id", accounts.rows() - 1).text);
  EXPECT_GT(per_account[first], 5 * per_account[last]);
}

TEST(InventoryTest, EveryReferenceResolves) {
  Inventory inventory = Make(5000);
  size_t checked = 0;
  for (const auto& table : inventory.tables()) {
    for (const FieldDef& f : table->def().fields) {
      if (f.type != FieldType::kReference) continue;
      const Table& parent = Get(inventory, f.reference_to);
      for (size_t r = 0; r < table->rows(); ++r) {
        Value ref = Cell(*table, f.name, r);
        ASSERT_FALSE(ref.is_null()) << table->def().name << "." << f.name;
        std::optional<size_t> row = parent.FindById(ref.text);
        ASSERT_TRUE(row) << table->def().name << "." << f.name << " = "
                         << ref.text;
        ++checked;
      }
    }
  }
  EXPECT_GT(checked, 4000u);
}

TEST(InventoryTest, IdsAreUniqueSalesforceIdsWithChecksum) {
  Inventory inventory = Make(10000);
  std::set<std::string> seen;
  size_t mixed_case = 0;
  for (const auto& table : inventory.tables()) {
    for (size_t r = 0; r < table->rows(); ++r) {
      std::string id(Cell(*table, "Id", r).text);
      ASSERT_EQ(id.size(), 18u) << id;
      EXPECT_EQ(id.substr(0, 3), table->def().key_prefix);
      for (char c : id) {
        EXPECT_TRUE(std::isalnum(static_cast<unsigned char>(c)));
      }
      EXPECT_EQ(id.substr(15), Checksum(id.substr(0, 15))) << id;
      if (id.substr(15) != "AAA") ++mixed_case;
      EXPECT_TRUE(seen.insert(id).second) << "duplicate " << id;
    }
  }
  EXPECT_EQ(seen.size(), 10000u);
  EXPECT_GT(mixed_case, 5000u);
}

TEST(InventoryTest, ChecksumHelperMatchesAKnownId) {
  EXPECT_EQ(Checksum("001A0000006Vm9r"), "IAC");
}

TEST(InventoryTest, TimestampsAreConsistent) {
  ASSERT_EQ(GenerateOptions().now_ms, kNow);
  Inventory inventory = Make(5000);
  for (const auto& table : inventory.tables()) {
    std::string gone_field = GoneField(*table);
    for (size_t r = 0; r < table->rows(); ++r) {
      double created = Cell(*table, "CreatedDate", r).number;
      double modified = Cell(*table, "LastModifiedDate", r).number;
      EXPECT_GE(created, kNow - 730 * kDayMs);
      EXPECT_LE(created, modified);
      EXPECT_LE(modified, kNow);
      if (gone_field.empty()) continue;
      Value gone = Cell(*table, gone_field, r);
      if (!gone.is_null()) {
        EXPECT_GE(gone.number, kNow - 90 * kDayMs);
        EXPECT_LE(gone.number, kNow);
        EXPECT_LE(created, gone.number);
      }
    }
  }
}

TEST(InventoryTest, LastAwsAccountIsStalled) {
  Inventory inventory = Make(5000);
  const Table& accounts = Get(inventory, "CA10__CaAwsAccount__c");
  ASSERT_EQ(accounts.rows(), 13u);
  const size_t last = accounts.rows() - 1;
  std::string stalled(Cell(accounts, "Id", last).text);
  auto stale = [](double ms) {
    return ms >= kNow - 5 * kDayMs && ms <= kNow - 3 * kDayMs;
  };
  EXPECT_TRUE(stale(Cell(accounts, "LastModifiedDate", last).number));
  for (size_t r = 0; r < last; ++r) {
    EXPECT_GE(Cell(accounts, "LastModifiedDate", r).number, kNow - kDayMs);
  }
  size_t stalled_resources = 0;
  for (const char* name : kAwsResources) {
    const Table& table = Get(inventory, name);
    for (size_t r = 0; r < table.rows(); ++r) {
      double modified = Cell(table, "LastModifiedDate", r).number;
      if (Cell(table, "CA10__account__c", r).text == stalled) {
        EXPECT_TRUE(stale(modified)) << name << " row " << r;
        ++stalled_resources;
      } else if (Cell(table, "CA10__disappearanceTime__c", r).is_null()) {
        EXPECT_GE(modified, kNow - kDayMs) << name << " row " << r;
      }
    }
  }
  EXPECT_GT(stalled_resources, 0u);
}

TEST(InventoryTest, NoStalledAccountWithTwoAccounts) {
  Inventory inventory = Make(10);
  const Table& accounts = Get(inventory, "CA10__CaAwsAccount__c");
  ASSERT_EQ(accounts.rows(), 2u);
  for (size_t r = 0; r < accounts.rows(); ++r) {
    EXPECT_GE(Cell(accounts, "LastModifiedDate", r).number, kNow - kDayMs);
  }
}

TEST(InventoryTest, JsonRoundTrip) {
  Inventory inventory = Make(1000);
  nlohmann::json json = inventory.ToJson();
  EXPECT_TRUE(Inventory::FromJson(json).ToJson() == json);

  nlohmann::json without_schema = json;
  without_schema.erase("schema");
  EXPECT_TRUE(Inventory::FromJson(without_schema).ToJson() == json);

  const nlohmann::json& ec2 = json["records"]["CA10__CaAwsInstance__c"];
  ASSERT_FALSE(ec2.empty());
  size_t without_ip = 0;
  for (const nlohmann::json& record : ec2) {
    without_ip += record.contains("CA10__publicIpAddress__c") ? 0 : 1;
    EXPECT_TRUE(record["CreatedDate"].get<std::string>().ends_with("+0000"));
  }
  EXPECT_GT(without_ip, 0u) << "null fields should be left out";
  size_t with_iops = 0;
  for (const nlohmann::json& record : json["records"]["CA10__CaAwsVolume__c"]) {
    if (!record.contains("CA10__iops__c")) continue;
    EXPECT_TRUE(record["CA10__iops__c"].is_number_integer()) << record;
    ++with_iops;
  }
  EXPECT_GT(with_iops, 0u);
}

TEST(InventoryTest, FromJsonReadsEveryKind) {
  const char* document = R"({
    "schema": [
      {"name": "P__c", "keyPrefix": "p01",
       "fields": [{"name": "Id", "type": "id"}]},
      {"name": "T__c", "label": "Thing", "labelPlural": "Things",
       "keyPrefix": "t01",
       "fields": [
         {"name": "Id", "type": "id"},
         {"name": "Parent__c", "type": "reference", "referenceTo": "P__c",
          "relationshipName": "Parent__r"},
         {"name": "Flag__c", "type": "boolean"},
         {"name": "Count__c", "type": "int", "groupable": false},
         {"name": "Ratio__c", "type": "double"},
         {"name": "When__c", "type": "datetime"}]}],
    "records": {
      "P__c": [{"Id": "p1"}],
      "t__c": [
        {"Id": "t1", "Parent__c": "p1", "Flag__c": true, "Count__c": 3,
         "Ratio__c": 0.25, "When__c": "2026-01-01T02:00:00+02:00"},
        {"Id": "t2", "Flag__c": null, "Count__c": 4.0,
         "When__c": "2026-01-01T00:00:00.000+0000"}]}})";
  Inventory inventory = Inventory::FromJson(nlohmann::json::parse(document));
  const Table& t = Get(inventory, "T__c");
  ASSERT_EQ(t.rows(), 2u);
  EXPECT_EQ(t.def().label_plural, "Things");
  EXPECT_FALSE(t.FindField("Count__c")->groupable);
  EXPECT_EQ(t.FindField("Parent__c")->relationship_name, "Parent__r");
  EXPECT_EQ(Cell(t, "Parent__c", 0).text, "p1");
  EXPECT_EQ(Cell(t, "Flag__c", 0).kind, Value::Kind::kBool);
  EXPECT_EQ(Cell(t, "Flag__c", 0).number, 1);
  EXPECT_EQ(Cell(t, "Count__c", 0).number, 3);
  EXPECT_EQ(Cell(t, "Ratio__c", 0).number, 0.25);
  EXPECT_EQ(Cell(t, "When__c", 0).number, Cell(t, "When__c", 1).number);
  EXPECT_TRUE(Cell(t, "Parent__c", 1).is_null());
  EXPECT_TRUE(Cell(t, "Flag__c", 1).is_null());
  EXPECT_TRUE(Cell(t, "Ratio__c", 1).is_null());
  EXPECT_EQ(Cell(t, "Count__c", 1).number, 4);
}

TEST(InventoryTest, MalformedDocumentsNameThePath) {
  const std::string kA =
      R"({"name": "A__c", "fields": [{"name": "Id", "type": "id"})";
  const std::pair<std::string, std::string> cases[] = {
      {"[]", "document: expected an object, got array"},
      {R"({"record": {}})", "document: unknown key \"record\""},
      {R"({"records": []})", "records: expected an object, got array"},
      {R"({"records": {"Bogus__c": []}})",
       "records.Bogus__c: unknown object (not in the schema)"},
      {R"({"records": {"CA10__CaAwsInstance__c": {}}})",
       "records.CA10__CaAwsInstance__c: expected an array, got object"},
      {R"({"records": {"CA10__CaAwsInstance__c": [{"Id": "x1"}, 7]}})",
       "records.CA10__CaAwsInstance__c[1]: expected an object, got number"},
      {R"({"records": {"CA10__CaAwsInstance__c": [{"Id": "x1"}, {"Id": "x2"},
           {"Id": "x3"}, {"Id": "x4", "CA10__stateName__c": 5}]}})",
       "records.CA10__CaAwsInstance__c[3].CA10__stateName__c: expected a "
       "string, got number"},
      {R"({"records": {"CA10__CaAwsInstance__c": [{"Id": "x", "Foo__c": 1}]}})",
       "records.CA10__CaAwsInstance__c[0].Foo__c: no such field on "
       "CA10__CaAwsInstance__c"},
      {R"({"records": {"CA10__CaAwsInstance__c": [{"Name": "n"}]}})",
       "records.CA10__CaAwsInstance__c[0].Id: missing"},
      {R"({"records": {"CA10__CaAwsInstance__c": [{"Id": ""}]}})",
       "records.CA10__CaAwsInstance__c[0].Id: missing"},
      {R"({"records": {"CA10__CaAwsInstance__c": [{"Id": 5}]}})",
       "records.CA10__CaAwsInstance__c[0].Id: expected a string, got number"},
      {R"({"records": {"CA10__CaAwsInstance__c": [{"Id": "x"}, {"Id": "x"}]}})",
       "records.CA10__CaAwsInstance__c[1].Id: duplicate Id x"},
      {R"({"records": {"CA10__CaAwsInstance__c": [{"Id": "x", "ID": "y"}]}})",
       "records.CA10__CaAwsInstance__c[0].Id: field given twice"},
      {R"({"records": {"CA10__CaAwsInstance__c":
           [{"Id": "x", "CreatedDate": "yesterday"}]}})",
       "records.CA10__CaAwsInstance__c[0].CreatedDate: expected a datetime"},
      {R"({"records": {"CA10__CaAwsInstance__c":
           [{"Id": "x", "CreatedDate": 1700000000000}]}})",
       "records.CA10__CaAwsInstance__c[0].CreatedDate: expected a datetime "
       "string, got number"},
      {R"({"records": {"CA10__CaAwsVolume__c":
           [{"Id": "x", "CA10__iops__c": 2.5}]}})",
       "records.CA10__CaAwsVolume__c[0].CA10__iops__c: expected a whole "
       "number, got 2.5"},
      {R"({"records": {"CA10__CaAwsVolume__c":
           [{"Id": "x", "CA10__iops__c": "100"}]}})",
       "records.CA10__CaAwsVolume__c[0].CA10__iops__c: expected a number, got "
       "string"},
      {R"({"records": {"CA10__CaAwsInstance__c":
           [{"Id": "x", "CA10__averageCpuOneWeek__c": true}]}})",
       "CA10__averageCpuOneWeek__c: expected a number, got boolean"},
      {R"({"schema": {}})", "schema: expected an array, got object"},
      {R"({"schema": [5]})", "schema[0]: expected an object, got number"},
      {R"({"schema": [{"fields": []}]})", "schema[0].name: missing"},
      {R"({"schema": [{"name": 1, "fields": []}]})",
       "schema[0].name: expected a string, got number"},
      {R"({"schema": [{"name": "A__c"}]})", "schema[0].fields: missing"},
      {R"({"schema": [{"name": "A__c", "fields": {}}]})",
       "schema[0].fields: expected an array, got object"},
      {R"({"schema": [{"name": "A__c", "fields": [null]}]})",
       "schema[0].fields[0]: expected an object, got null"},
      {R"({"schema": [)" + kA + R"(, {"name": "X__c", "type": "text"}]}]})",
       "schema[0].fields[1].type: unknown field type \"text\""},
      {R"({"schema": [)" + kA + R"(, {"name": "X__c", "type": 5}]}]})",
       "schema[0].fields[1].type: expected a string, got number"},
      {R"({"schema": [)" + kA + R"(, {"name": "X__c"}]}]})",
       "schema[0].fields[1].type: missing"},
      {R"({"schema": [)" + kA +
           R"(, {"name": "X__c", "type": "int", "groupable": "yes"}]}]})",
       "schema[0].fields[1].groupable: expected a boolean, got string"},
      {R"({"schema": [)" + kA +
           R"(, {"name": "X__c", "type": "reference",
                 "relationshipName": "X__r"}]}]})",
       "schema[0].fields[1].referenceTo: missing"},
      {R"({"schema": [)" + kA +
           R"(, {"name": "X__c", "type": "reference", "referenceTo": "B__c",
                 "relationshipName": "X__r"}]}]})",
       "schema[0].fields[1].referenceTo: unknown object B__c"},
      {R"({"schema": [)" + kA +
           R"(, {"name": "X__c", "type": "string", "referenceTo": "A__c"}]}]})",
       "schema[0].fields[1].referenceTo: only for reference fields"},
      {R"({"schema": [{"name": "A__c", "fields": [
           {"name": "Name", "type": "string"}]}]})",
       "schema[0]: object A__c has no Id field"},
      {R"({"schema": [)" + kA + R"(, {"name": "id", "type": "id"}]}]})",
       "schema[0]: object A__c defines field id twice"},
      {R"({"schema": [)" + kA + "]}, " + kA + "]}]}",
       "schema[1].name: object A__c is defined twice"},
      {R"({"schema": [)" + kA +
           R"(, {"name": "F__c", "type": "boolean"}]}],
           "records": {"A__c": [{"Id": "a", "F__c": "true"}]}})",
       "records.A__c[0].F__c: expected a boolean, got string"},
      {R"({"schema": [)" + kA +
           R"(]}], "records": {"CA10__CaAwsInstance__c": []}})",
       "records.CA10__CaAwsInstance__c: unknown object (not in the schema)"},
  };
  for (const auto& [document, expected] : cases) {
    std::string error = ErrorOf(document);
    EXPECT_NE(error.find(expected), std::string::npos)
        << "document: " << document << "\nerror: " << error
        << "\nexpected: " << expected;
  }
}

void CollectPointers(const nlohmann::json& j, const std::string& at,
                     std::vector<std::string>& out) {
  out.push_back(at);
  if (j.is_object()) {
    for (const auto& item : j.items()) {
      CollectPointers(item.value(), at + "/" + item.key(), out);
    }
  } else if (j.is_array()) {
    for (size_t i = 0; i < j.size(); ++i) {
      CollectPointers(j[i], at + "/" + std::to_string(i), out);
    }
  }
}

TEST(InventoryTest, FromJsonSurvivesWrongTypesAnywhere) {
  const nlohmann::json base = nlohmann::json::parse(R"({
    "schema": [
      {"name": "P__c", "label": "P", "labelPlural": "Ps", "keyPrefix": "p01",
       "fields": [{"name": "Id", "label": "Id", "type": "id",
                   "groupable": true}]},
      {"name": "T__c", "fields": [
         {"name": "Id", "type": "id"},
         {"name": "P__c", "type": "reference", "referenceTo": "P__c",
          "relationshipName": "P__r"},
         {"name": "B__c", "type": "boolean"},
         {"name": "N__c", "type": "int"},
         {"name": "D__c", "type": "double"},
         {"name": "W__c", "type": "datetime"}]}],
    "records": {
      "P__c": [{"Id": "p1"}],
      "T__c": [{"Id": "t1", "P__c": "p1", "B__c": false, "N__c": 1,
                "D__c": 1.5, "W__c": "2026-01-01T00:00:00Z"}]}})");
  ASSERT_NO_THROW(Inventory::FromJson(base));
  const nlohmann::json replacements[] = {nullptr,
                                         0,
                                         -7,
                                         2.5,
                                         1e300,
                                         "",
                                         "x",
                                         true,
                                         nlohmann::json::array(),
                                         nlohmann::json::object(),
                                         {1, 2},
                                         {{"a", 1}}};
  std::vector<std::string> pointers;
  CollectPointers(base, "", pointers);
  size_t tried = 0;
  for (const std::string& pointer : pointers) {
    for (const nlohmann::json& replacement : replacements) {
      nlohmann::json document = base;
      document[nlohmann::json::json_pointer(pointer)] = replacement;
      try {
        Inventory::FromJson(document);
      } catch (const InventoryError&) {
      } catch (const std::exception& e) {
        ADD_FAILURE() << pointer << " = " << replacement.dump() << ": "
                      << e.what();
      }
      ++tried;
    }
  }
  EXPECT_GT(tried, 400u);
}

TEST(InventoryTest, DescribeReportsFieldMetadata) {
  Inventory inventory = Make(10);
  const ObjectDef& def = Get(inventory, "CA10__CaAwsInstance__c").def();
  nlohmann::ordered_json d = DescribeJson(def, "66.0");
  EXPECT_EQ(d["name"], "CA10__CaAwsInstance__c");
  EXPECT_EQ(d["label"], "AWS EC2 Instance");
  EXPECT_EQ(d["labelPlural"], "AWS EC2 Instances");
  EXPECT_EQ(d["keyPrefix"], "a02");
  EXPECT_EQ(d["urls"]["describe"],
            "/services/data/v66.0/sobjects/CA10__CaAwsInstance__c/describe");
  std::map<std::string, nlohmann::ordered_json> fields;
  for (const auto& f : d["fields"]) fields[f["name"].get<std::string>()] = f;
  ASSERT_EQ(fields.size(), def.fields.size());

  EXPECT_EQ(fields["Id"]["type"], "id");
  EXPECT_EQ(fields["Id"]["nillable"], false);
  EXPECT_EQ(fields["Id"]["length"], 18);
  EXPECT_EQ(fields["Id"]["custom"], false);
  EXPECT_EQ(fields["CA10__stateName__c"]["type"], "picklist");
  EXPECT_EQ(fields["CA10__stateName__c"]["groupable"], true);
  EXPECT_EQ(fields["CA10__stateName__c"]["nillable"], true);
  EXPECT_EQ(fields["CA10__stateName__c"]["length"], 255);
  EXPECT_EQ(fields["CA10__stateName__c"]["custom"], true);
  EXPECT_EQ(fields["CA10__stateName__c"]["referenceTo"],
            nlohmann::ordered_json::array());
  EXPECT_TRUE(fields["CA10__stateName__c"]["relationshipName"].is_null());
  EXPECT_EQ(fields["CA10__averageCpuOneWeek__c"]["type"], "double");
  EXPECT_EQ(fields["CA10__averageCpuOneWeek__c"]["groupable"], false);
  EXPECT_EQ(fields["CA10__averageCpuOneWeek__c"]["length"], 0);
  EXPECT_EQ(fields["CreatedDate"]["groupable"], false);
  EXPECT_EQ(fields["CA10__disappearanceTime__c"]["groupable"], false);
  EXPECT_EQ(fields["CA10__disappearanceTime__c"]["label"], "Deleted From AWS");
  const auto& account = fields["CA10__account__c"];
  EXPECT_EQ(account["type"], "reference");
  EXPECT_EQ(account["groupable"], true);
  EXPECT_EQ(account["length"], 18);
  EXPECT_EQ(account["referenceTo"],
            nlohmann::ordered_json::array({"CA10__CaAwsAccount__c"}));
  EXPECT_EQ(account["relationshipName"], "CA10__account__r");
}

TEST(InventoryTest, DescribeGlobalListsEveryObject) {
  Inventory inventory = Make(10);
  nlohmann::ordered_json d = DescribeGlobalJson(inventory, "61.0");
  EXPECT_EQ(d["encoding"], "UTF-8");
  EXPECT_EQ(d["maxBatchSize"], 200);
  ASSERT_EQ(d["sobjects"].size(), inventory.tables().size());
  for (size_t i = 0; i < inventory.tables().size(); ++i) {
    const ObjectDef& def = inventory.tables()[i]->def();
    const auto& s = d["sobjects"][i];
    EXPECT_EQ(s["name"], def.name);
    EXPECT_EQ(s["keyPrefix"], def.key_prefix);
    EXPECT_EQ(s["labelPlural"], def.label_plural);
    EXPECT_EQ(s["custom"], true);
    EXPECT_EQ(s["queryable"], true);
    EXPECT_EQ(s["createable"], false);
    EXPECT_EQ(s["urls"]["sobject"],
              "/services/data/v61.0/sobjects/" + def.name);
    EXPECT_EQ(s["urls"]["rowTemplate"],
              "/services/data/v61.0/sobjects/" + def.name + "/{ID}");
  }
}

TEST(InventoryTest, SchemaIsConsistent) {
  std::vector<ObjectDef> schema = Inventory::CloudawareSchema();
  EXPECT_EQ(schema.size(), 12u);
  std::set<std::string> names, prefixes;
  for (const ObjectDef& def : schema) {
    names.insert(def.name);
    EXPECT_TRUE(prefixes.insert(def.key_prefix).second) << def.key_prefix;
  }
  for (const ObjectDef& def : schema) {
    ASSERT_GE(def.fields.size(), 5u) << def.name;
    EXPECT_EQ(def.fields[0].name, "Id");
    EXPECT_EQ(def.fields[0].type, FieldType::kId);
    // Extension-package objects carry their prefix on their fields too.
    std::string package = def.name.substr(0, def.name.find("__"));
    bool account = def.name.ends_with("Account__c") ||
                   def.name == "CA10__CaGoogleProject__c";
    bool gone = def.fields.back().name == package + "__disappearanceTime__c";
    EXPECT_NE(account, gone) << def.name;
    for (const FieldDef& f : def.fields) {
      EXPECT_EQ(f.groupable, IsGroupableType(f.type)) << def.name << f.name;
      EXPECT_FALSE(f.label.empty());
      if (f.type == FieldType::kReference) {
        EXPECT_TRUE(names.count(f.reference_to)) << f.reference_to;
        EXPECT_TRUE(f.relationship_name.ends_with("__r"));
      }
      // Tag fields are the org's own, without a package prefix.
      if (f.name.ends_with("__c") && !f.name.starts_with("caTag_")) {
        EXPECT_EQ(f.name.substr(0, package.size() + 2), package + "__")
            << def.name << "." << f.name;
      }
    }
  }
}

TEST(InventoryTest, DateTimeFormat) {
  EXPECT_EQ(FormatDateTime(0), "1970-01-01T00:00:00.000+0000");
  EXPECT_EQ(FormatDateTime(-1), "1969-12-31T23:59:59.999+0000");
  EXPECT_EQ(FormatDateTime(1795000000000), "2026-11-18T11:06:40.000+0000");
  EXPECT_EQ(FormatDateTime(951782400123), "2000-02-29T00:00:00.123+0000");
  EXPECT_EQ(FormatDateTime(-2203846185000), "1900-03-01T12:30:15.000+0000");
}

TEST(InventoryTest, DateTimeParse) {
  const std::pair<const char*, double> accepted[] = {
      {"2026-11-18T11:06:40.000+0000", 1795000000000},
      {"2026-11-18T11:06:40Z", 1795000000000},
      {"2026-11-18T13:06:40+02:00", 1795000000000},
      {"2026-11-18T06:06:40-0500", 1795000000000},
      {"2026-11-18T11:06:40.5Z", 1795000000500},
      {"2026-11-18T11:06:40.123456Z", 1795000000123.456},
      {"2000-02-29", 951782400000},
      {"1969-12-31T23:59:59.999Z", -1},
      {"2024-02-29T00:00:00Z", 1709164800000},
  };
  for (const auto& [text, ms] : accepted) {
    std::optional<double> parsed = ParseDateTime(text);
    ASSERT_TRUE(parsed) << text;
    EXPECT_NEAR(*parsed, ms, 1e-3) << text;
  }
  for (const char* text :
       {"", "x", "2026-11-18T11:06:40", "2026-13-01T00:00:00Z",
        "2026-11-18T24:00:00Z", "2026-11-18T11:06:40.Z",
        "2026-11-18T11:06:40+2", "2026-11-18T11:06:40+24:00",
        "2026-11-18T11:06:40+0160", "2026-11-18T11:06:40Zjunk", "26-11-18",
        "2026-02-29T00:00:00Z", "2026-04-31T00:00:00Z", "1900-02-29"}) {
    EXPECT_FALSE(ParseDateTime(text)) << text;
  }
}

TEST(InventoryTest, DateTimeRoundTrip) {
  for (double ms = -3e12; ms < 7e12; ms += 7777777777.0) {
    std::optional<double> parsed = ParseDateTime(FormatDateTime(ms));
    ASSERT_TRUE(parsed) << ms;
    EXPECT_EQ(*parsed, ms) << FormatDateTime(ms);
  }
}

}  // namespace
}  // namespace cmdb_simulator
