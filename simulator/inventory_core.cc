// Storage for the simulated inventory: columns, tables and datetime text.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <ctime>

#include "simulator/inventory.h"

namespace cmdb_simulator {

std::string ToLower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view FieldTypeName(FieldType type) {
  switch (type) {
    case FieldType::kId:
      return "id";
    case FieldType::kString:
      return "string";
    case FieldType::kPicklist:
      return "picklist";
    case FieldType::kReference:
      return "reference";
    case FieldType::kBoolean:
      return "boolean";
    case FieldType::kInt:
      return "int";
    case FieldType::kDouble:
      return "double";
    case FieldType::kDateTime:
      return "datetime";
  }
  return "string";
}

std::optional<FieldType> ParseFieldType(std::string_view name) {
  for (FieldType t :
       {FieldType::kId, FieldType::kString, FieldType::kPicklist,
        FieldType::kReference, FieldType::kBoolean, FieldType::kInt,
        FieldType::kDouble, FieldType::kDateTime}) {
    if (FieldTypeName(t) == name) return t;
  }
  return std::nullopt;
}

bool IsGroupableType(FieldType type) {
  return type != FieldType::kDouble && type != FieldType::kDateTime;
}

bool IsTextType(FieldType type) {
  return type == FieldType::kId || type == FieldType::kString ||
         type == FieldType::kPicklist || type == FieldType::kReference;
}

std::string FormatDateTime(double ms_since_epoch) {
  auto ms = static_cast<int64_t>(std::floor(ms_since_epoch));
  int64_t secs = ms >= 0 ? ms / 1000 : (ms - 999) / 1000;
  auto millis = static_cast<int>(ms - secs * 1000);
  time_t t = static_cast<time_t>(secs);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03d+0000",
                tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                tm.tm_min, tm.tm_sec, millis);
  return buf;
}

namespace {

// Reads exactly n digits at s[pos]; advances pos.
bool ReadDigits(std::string_view s, size_t& pos, size_t n, int& out) {
  if (pos + n > s.size()) return false;
  out = 0;
  for (size_t i = 0; i < n; ++i) {
    char c = s[pos + i];
    if (c < '0' || c > '9') return false;
    out = out * 10 + (c - '0');
  }
  pos += n;
  return true;
}

int DaysInMonth(int year, int month) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30,
                                  31, 31, 30, 31, 30, 31};
  bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  return month == 2 && leap ? 29 : kDays[month - 1];
}

bool Expect(std::string_view s, size_t& pos, char c) {
  if (pos >= s.size() || s[pos] != c) return false;
  ++pos;
  return true;
}

}  // namespace

std::optional<double> ParseDateTime(std::string_view s) {
  size_t pos = 0;
  int year, month, day, hour = 0, minute = 0, second = 0;
  if (!ReadDigits(s, pos, 4, year) || !Expect(s, pos, '-') ||
      !ReadDigits(s, pos, 2, month) || !Expect(s, pos, '-') ||
      !ReadDigits(s, pos, 2, day)) {
    return std::nullopt;
  }
  double millis = 0;
  int offset_minutes = 0;
  if (pos < s.size()) {
    if (!Expect(s, pos, 'T') || !ReadDigits(s, pos, 2, hour) ||
        !Expect(s, pos, ':') || !ReadDigits(s, pos, 2, minute) ||
        !Expect(s, pos, ':') || !ReadDigits(s, pos, 2, second)) {
      return std::nullopt;
    }
    if (pos < s.size() && s[pos] == '.') {
      ++pos;
      double scale = 100;
      size_t start = pos;
      while (pos < s.size() &&
             std::isdigit(static_cast<unsigned char>(s[pos]))) {
        millis += (s[pos] - '0') * scale;
        scale /= 10;
        ++pos;
      }
      if (pos == start) return std::nullopt;
    }
    if (pos >= s.size()) return std::nullopt;
    if (s[pos] == 'Z') {
      ++pos;
    } else if (s[pos] == '+' || s[pos] == '-') {
      int sign = s[pos] == '-' ? -1 : 1;
      ++pos;
      int oh, om;
      if (!ReadDigits(s, pos, 2, oh)) return std::nullopt;
      if (pos < s.size() && s[pos] == ':') ++pos;
      if (!ReadDigits(s, pos, 2, om) || oh > 23 || om > 59) {
        return std::nullopt;
      }
      offset_minutes = sign * (oh * 60 + om);
    } else {
      return std::nullopt;
    }
  }
  if (pos != s.size() || month < 1 || month > 12 || day < 1 ||
      day > DaysInMonth(year, month) || hour > 23 || minute > 59 ||
      second > 60) {
    return std::nullopt;
  }
  // Days from civil (Howard Hinnant's algorithm), valid for all Gregorian
  // dates.
  int y = year - (month <= 2 ? 1 : 0);
  int era = (y >= 0 ? y : y - 399) / 400;
  int yoe = y - era * 400;
  int doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1;
  int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  double days = static_cast<double>(era) * 146097 + doe - 719468;
  double secs =
      days * 86400 + hour * 3600 + minute * 60 + second - offset_minutes * 60;
  return secs * 1000 + millis;
}

size_t Column::size() const {
  return IsTextType(type_) ? codes_.size() : numbers_.size();
}

void Column::Check(const Value& value) const {
  if (value.is_null()) return;
  if (IsTextType(type_)) {
    if (value.kind != Value::Kind::kText) {
      throw InventoryError("expected text for a field of type " +
                           std::string(FieldTypeName(type_)));
    }
    return;
  }
  Value::Kind want = type_ == FieldType::kBoolean    ? Value::Kind::kBool
                     : type_ == FieldType::kDateTime ? Value::Kind::kDateTime
                                                     : Value::Kind::kNumber;
  if (value.kind != want || !std::isfinite(value.number)) {
    throw InventoryError("value does not fit a field of type " +
                         std::string(FieldTypeName(type_)));
  }
  if (type_ == FieldType::kInt && value.number != std::trunc(value.number)) {
    throw InventoryError("expected a whole number for a field of type int");
  }
}

void Column::Append(const Value& value) {
  Check(value);
  if (!IsTextType(type_)) {
    numbers_.push_back(value.is_null() ? 0 : value.number);
    nulls_.push_back(value.is_null());
    return;
  }
  if (value.is_null()) {
    codes_.push_back(0);
    return;
  }
  auto it = codes_by_text_.find(value.text);
  if (it != codes_by_text_.end()) {
    codes_.push_back(it->second);
    return;
  }
  dictionary_.emplace_back(value.text);
  auto code = static_cast<uint32_t>(dictionary_.size());
  codes_by_text_.emplace(dictionary_.back(), code);
  codes_.push_back(code);
}

Value Column::Get(size_t row) const {
  if (IsTextType(type_)) {
    uint32_t c = codes_[row];
    return c == 0 ? Value::Null() : Value::Text(dictionary_[c - 1]);
  }
  if (nulls_[row]) return Value::Null();
  switch (type_) {
    case FieldType::kBoolean:
      return Value::Bool(numbers_[row] != 0);
    case FieldType::kDateTime:
      return Value::DateTime(numbers_[row]);
    default:
      return Value::Number(numbers_[row]);
  }
}

Table::Table(ObjectDef def) : def_(std::move(def)) {
  bool has_id = false;
  for (size_t i = 0; i < def_.fields.size(); ++i) {
    const FieldDef& f = def_.fields[i];
    if (!field_index_.emplace(ToLower(f.name), static_cast<int>(i)).second) {
      throw InventoryError("object " + def_.name + " defines field " + f.name +
                           " twice");
    }
    if (f.type == FieldType::kReference &&
        (f.reference_to.empty() || f.relationship_name.empty())) {
      throw InventoryError("reference field " + def_.name + "." + f.name +
                           " needs reference_to and relationship_name");
    }
    columns_.push_back(std::make_unique<Column>(f.type));
    if (f.name == "Id" && f.type == FieldType::kId) {
      has_id = true;
      id_field_ = i;
    }
  }
  if (!has_id) throw InventoryError("object " + def_.name + " has no Id field");
}

int Table::FieldIndex(std::string_view name) const {
  auto it = field_index_.find(ToLower(name));
  return it == field_index_.end() ? -1 : it->second;
}

const FieldDef* Table::FindField(std::string_view name) const {
  int i = FieldIndex(name);
  return i < 0 ? nullptr : &def_.fields[static_cast<size_t>(i)];
}

const FieldDef* Table::FindRelationship(
    std::string_view relationship_name) const {
  std::string want = ToLower(relationship_name);
  for (const FieldDef& f : def_.fields) {
    if (f.type == FieldType::kReference &&
        ToLower(f.relationship_name) == want) {
      return &f;
    }
  }
  return nullptr;
}

const Column& Table::column(std::string_view field_name) const {
  int i = FieldIndex(field_name);
  if (i < 0) {
    throw InventoryError("object " + def_.name + " has no field " +
                         std::string(field_name));
  }
  return *columns_[static_cast<size_t>(i)];
}

void Table::AddRow(const std::vector<Value>& values) {
  if (values.size() != columns_.size()) {
    throw InventoryError("object " + def_.name + " expects " +
                         std::to_string(columns_.size()) + " values, got " +
                         std::to_string(values.size()));
  }
  const Value& id = values[id_field_];
  if (id.kind != Value::Kind::kText || id.text.empty()) {
    throw InventoryError("record of " + def_.name + " has no Id");
  }
  if (rows_by_id_.count(id.text)) {
    throw InventoryError("duplicate Id " + std::string(id.text) + " in " +
                         def_.name);
  }
  // Check every value first so a bad one leaves the table unchanged.
  for (size_t i = 0; i < columns_.size(); ++i) {
    try {
      columns_[i]->Check(values[i]);
    } catch (const InventoryError& e) {
      throw InventoryError(def_.name + "." + def_.fields[i].name + ": " +
                           e.what());
    }
  }
  for (size_t i = 0; i < columns_.size(); ++i) columns_[i]->Append(values[i]);
  rows_by_id_.emplace(columns_[id_field_]->Get(rows_).text,
                      static_cast<uint32_t>(rows_));
  ++rows_;
}

std::optional<size_t> Table::FindById(std::string_view id) const {
  auto it = rows_by_id_.find(id);
  if (it == rows_by_id_.end()) return std::nullopt;
  return it->second;
}

Table& Inventory::AddTable(ObjectDef def) {
  std::string key = ToLower(def.name);
  if (index_.count(key)) {
    throw InventoryError("object " + def.name + " is defined twice");
  }
  tables_.push_back(std::make_unique<Table>(std::move(def)));
  index_.emplace(std::move(key), tables_.size() - 1);
  return *tables_.back();
}

const Table* Inventory::FindTable(std::string_view name) const {
  auto it = index_.find(ToLower(name));
  return it == index_.end() ? nullptr : tables_[it->second].get();
}

Table* Inventory::FindMutableTable(std::string_view name) {
  auto it = index_.find(ToLower(name));
  return it == index_.end() ? nullptr : tables_[it->second].get();
}

size_t Inventory::TotalRecords() const {
  size_t n = 0;
  for (const auto& t : tables_) n += t->rows();
  return n;
}

}  // namespace cmdb_simulator
