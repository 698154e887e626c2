// The simulated Cloudaware CMDB: object definitions (what describe reports)
// and their records, stored column by column so that an aggregate query over
// a million records stays well under a second.
//
// An Inventory is built once (generated, loaded from JSON, or assembled in a
// test) and then only read. The simulator shares it between request threads
// as std::shared_ptr<const Inventory>; replacing the inventory swaps the
// pointer, so nothing needs a lock.
#ifndef CMDB_SIMULATOR_INVENTORY_H_
#define CMDB_SIMULATOR_INVENTORY_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace cmdb_simulator {

// Salesforce describe field types used by the simulated objects.
enum class FieldType {
  kId,
  kString,
  kPicklist,
  kReference,
  kBoolean,
  kInt,
  kDouble,
  kDateTime,
};

// The describe name of a type ("id", "string", "picklist", ...).
std::string_view FieldTypeName(FieldType type);
std::optional<FieldType> ParseFieldType(std::string_view name);
// Salesforce cannot GROUP BY datetime or double fields; the rest can.
bool IsGroupableType(FieldType type);
// Id, string, picklist and reference values are text.
bool IsTextType(FieldType type);

struct FieldDef {
  std::string name;
  std::string label;
  FieldType type = FieldType::kString;
  bool groupable = true;
  // For kReference only: the target object and the name used to traverse
  // into it (CA10__account__c -> CA10__CaAwsAccount__c via CA10__account__r).
  std::string reference_to;
  std::string relationship_name;
};

struct ObjectDef {
  std::string name;
  std::string label;
  std::string label_plural;
  std::string key_prefix;  // first three characters of every record Id
  std::vector<FieldDef> fields;
};

// One cell. Text points into the inventory's own storage and stays valid as
// long as the inventory does.
struct Value {
  enum class Kind : uint8_t { kNull, kText, kNumber, kBool, kDateTime };
  Kind kind = Kind::kNull;
  double number = 0;      // kNumber; kBool as 0/1; kDateTime as ms since epoch
  std::string_view text;  // kText

  static Value Null() { return {}; }
  static Value Text(std::string_view s) { return {Kind::kText, 0, s}; }
  static Value Number(double d) { return {Kind::kNumber, d, {}}; }
  static Value Bool(bool b) { return {Kind::kBool, b ? 1.0 : 0.0, {}}; }
  static Value DateTime(double ms) { return {Kind::kDateTime, ms, {}}; }
  bool is_null() const { return kind == Kind::kNull; }
};

// The Salesforce REST form of a datetime, "2026-01-01T00:00:00.000+0000".
std::string FormatDateTime(double ms_since_epoch);
// Accepts the REST form and ISO 8601 with "Z" or "+hhmm"/"+hh:mm" offsets
// and optional fractional seconds; returns ms since epoch.
std::optional<double> ParseDateTime(std::string_view text);

// Thrown when values do not fit the schema or a document is malformed.
class InventoryError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// One field's values. Text values are dictionary-encoded (code 0 is null),
// so equal strings share one copy and a GROUP BY can count codes.
class Column {
 public:
  explicit Column(FieldType type) : type_(type) {}
  Column(const Column&) = delete;
  Column& operator=(const Column&) = delete;

  FieldType type() const { return type_; }
  size_t size() const;
  // The value must be null or of the column's kind (text for text types,
  // number for int/double, bool, datetime); otherwise InventoryError.
  void Append(const Value& value);
  // Throws InventoryError unless Append would accept the value.
  void Check(const Value& value) const;
  Value Get(size_t row) const;

  // Dictionary access for text columns.
  bool is_text() const { return IsTextType(type_); }
  uint32_t code(size_t row) const { return codes_[row]; }
  size_t dictionary_size() const { return dictionary_.size() + 1; }
  std::string_view dictionary(uint32_t code) const {
    return code == 0 ? std::string_view() : dictionary_[code - 1];
  }

 private:
  FieldType type_;
  std::vector<uint32_t> codes_;
  std::deque<std::string> dictionary_;  // deque: views into it stay valid
  std::unordered_map<std::string_view, uint32_t> codes_by_text_;
  std::vector<double> numbers_;
  std::vector<bool> nulls_;
};

// The records of one object.
class Table {
 public:
  // The definition must have an "Id" field of type kId.
  explicit Table(ObjectDef def);
  Table(const Table&) = delete;
  Table& operator=(const Table&) = delete;

  const ObjectDef& def() const { return def_; }
  size_t rows() const { return rows_; }
  const Column& column(size_t field_index) const {
    return *columns_[field_index];
  }
  const Column& column(std::string_view field_name) const;
  // Case-insensitive, as SOQL is; -1 when the object has no such field.
  int FieldIndex(std::string_view name) const;
  const FieldDef* FindField(std::string_view name) const;
  // Case-insensitive match on a reference field's relationship name.
  const FieldDef* FindRelationship(std::string_view relationship_name) const;

  // Values in def().fields order. The Id must be non-null and unique.
  void AddRow(const std::vector<Value>& values);
  std::optional<size_t> FindById(std::string_view id) const;

 private:
  ObjectDef def_;
  std::vector<std::unique_ptr<Column>> columns_;
  std::unordered_map<std::string, int> field_index_;  // lower-case names
  size_t id_field_ = 0;
  size_t rows_ = 0;
  std::unordered_map<std::string_view, uint32_t> rows_by_id_;
};

// Options for Inventory::Generate.
struct GenerateOptions {
  // Records across all objects (accounts included), from ten to millions.
  size_t records = 10000;
  uint64_t seed = 1;
  // Share of resource records marked deleted (disappearance time set).
  double deleted_share = 0.1;
  // If not empty, resource records go only to these objects (accounts,
  // subscriptions and projects are still made); used by benchmarks that
  // want a million records in one object.
  std::vector<std::string> only_objects;
  // "Now" for generated timestamps, ms since epoch; fixed so that the same
  // seed gives the same inventory byte for byte.
  double now_ms = 1795000000000.0;
};

class Inventory {
 public:
  Inventory() = default;
  Inventory(Inventory&&) = default;
  Inventory& operator=(Inventory&&) = default;

  // Adds an empty table; InventoryError if the name is taken.
  Table& AddTable(ObjectDef def);
  // Case-insensitive, as SOQL is.
  const Table* FindTable(std::string_view name) const;
  Table* FindMutableTable(std::string_view name);
  // In insertion order.
  const std::vector<std::unique_ptr<Table>>& tables() const { return tables_; }
  size_t TotalRecords() const;

  // The object definitions the simulator knows: real Cloudaware names from
  // the API reference, plus a few field names that are guesses (marked so in
  // inventory.cc).
  static std::vector<ObjectDef> CloudawareSchema();
  // A deterministic synthetic inventory over CloudawareSchema().
  static Inventory Generate(const GenerateOptions& options);
  // {"schema": {...optional...}, "records": {"Object": [{field: value}]}}.
  // Without "schema", objects must be in CloudawareSchema(). Errors name the
  // JSON path, e.g. "records.CA10__CaAwsInstance__c[3].CA10__stateName__c".
  static Inventory FromJson(const nlohmann::json& document);
  nlohmann::json ToJson() const;

 private:
  std::vector<std::unique_ptr<Table>> tables_;
  std::unordered_map<std::string, size_t> index_;  // lower-case names
};

// Describe Global (GET /sobjects/) and sObject Describe bodies.
nlohmann::ordered_json DescribeGlobalJson(const Inventory& inventory,
                                          std::string_view api_version);
nlohmann::ordered_json DescribeJson(const ObjectDef& def,
                                    std::string_view api_version);

std::string ToLower(std::string_view s);

}  // namespace cmdb_simulator

#endif  // CMDB_SIMULATOR_INVENTORY_H_
