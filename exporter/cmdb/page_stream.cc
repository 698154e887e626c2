#include "exporter/cmdb/page_stream.h"

#include <utility>
#include <vector>

#include "exporter/cmdb/api_error.h"

namespace cloudaware_exporter {
namespace {

using json = nlohmann::json;

// Builds one value from SAX events as nlohmann::json::parse does (a repeated
// key keeps its last value). Containers being filled are held by pointer: an
// object's members never move, and an array only grows once its last element
// is complete.
class ValueBuilder {
 public:
  void Reset(json* root) {
    root_ = root;
    stack_.clear();
    slot_ = nullptr;
  }
  template <typename T>
  void Value(T&& value) {
    *Place() = json(std::forward<T>(value));
  }
  void Start(json container) {
    json* at = Place();
    *at = std::move(container);
    stack_.push_back(at);
  }
  void Key(const std::string& key) { slot_ = &(*stack_.back())[key]; }
  void End() { stack_.pop_back(); }
  // The innermost open container, or nullptr at the top.
  const json* open() const { return stack_.empty() ? nullptr : stack_.back(); }

 private:
  json* Place() {
    if (stack_.empty()) return root_;
    json& top = *stack_.back();
    if (top.is_array()) {
      top.push_back(nullptr);
      return &top.back();
    }
    return slot_;
  }

  json* root_ = nullptr;
  std::vector<json*> stack_;
  json* slot_ = nullptr;
};

class PageHandler : public json::json_sax_t {
 public:
  PageHandler(StreamedPage& page, RecordSink& sink) : page_(page), sink_(sink) {
    page_builder_.Reset(&page_.doc);
  }

  bool null() override { return Scalar(nullptr); }
  bool boolean(bool value) override { return Scalar(value); }
  bool number_integer(number_integer_t value) override { return Scalar(value); }
  bool number_unsigned(number_unsigned_t value) override {
    return Scalar(value);
  }
  bool number_float(number_float_t value, const string_t&) override {
    return Scalar(value);
  }
  bool string(string_t& value) override { return Scalar(std::move(value)); }
  bool binary(binary_t& value) override { return Scalar(std::move(value)); }

  bool start_object(std::size_t) override {
    BeforeValue();
    Target().Start(json::object());
    ++depth_;
    return true;
  }
  bool end_object() override {
    --depth_;
    Target().End();
    AfterValue();
    return true;
  }
  bool start_array(std::size_t) override {
    if (records_key_) {
      records_key_ = false;
      if (streamed_) {
        throw CmdbError("parse", "query response has two records arrays");
      }
      streamed_ = true;
      page_builder_.Value(json::array());
      ++depth_;
      records_depth_ = depth_;
      return true;
    }
    BeforeValue();
    Target().Start(json::array());
    ++depth_;
    return true;
  }
  bool end_array() override {
    if (records_depth_ != 0 && depth_ == records_depth_) {
      records_depth_ = 0;
      --depth_;
      return true;
    }
    --depth_;
    Target().End();
    AfterValue();
    return true;
  }
  bool key(string_t& key) override {
    Target().Key(key);
    // Only the page's own records are streamed, not a "records" key of a
    // record or of anything else.
    records_key_ = depth_ == 1 && key == "records";
    return true;
  }
  bool parse_error(std::size_t, const std::string&,
                   const nlohmann::detail::exception&) override {
    return false;
  }

 private:
  bool InRecords() const { return records_depth_ != 0; }
  ValueBuilder& Target() {
    return InRecords() ? record_builder_ : page_builder_;
  }
  // At the records array's own level a value is a new record.
  void BeforeValue() {
    records_key_ = false;
    if (InRecords() && depth_ == records_depth_) {
      record_ = json();
      record_builder_.Reset(&record_);
    }
  }
  void AfterValue() {
    if (InRecords() && depth_ == records_depth_) Emit();
  }
  template <typename T>
  bool Scalar(T&& value) {
    BeforeValue();
    Target().Value(std::forward<T>(value));
    AfterValue();
    return true;
  }
  void Emit() {
    // As for a page read whole, the first record tells what the page is.
    if (page_.rows == 0) page_.aggregate = IsAggregateRecord(record_);
    if (!page_.aggregate) DropAttributes(record_);
    ++page_.rows;
    sink_.Add(std::move(record_));
    record_ = json();
  }

  StreamedPage& page_;
  RecordSink& sink_;
  ValueBuilder page_builder_;
  ValueBuilder record_builder_;
  json record_;
  int depth_ = 0;          // containers open
  int records_depth_ = 0;  // depth_ inside the records array; 0 outside it
  bool records_key_ = false;
  bool streamed_ = false;
};

}  // namespace

bool IsAggregateRecord(const json& record) {
  if (!record.is_object()) return false;
  auto attributes = record.find("attributes");
  if (attributes == record.end() || !attributes->is_object()) return false;
  auto type = attributes->find("type");
  return type != attributes->end() && type->is_string() &&
         type->get_ref<const std::string&>() == "AggregateResult";
}

void DropAttributes(json& record) {
  if (!record.is_object()) return;
  record.erase("attributes");
  for (auto& [key, value] : record.items()) {
    if (value.is_object()) value.erase("attributes");
  }
}

StreamedPage StreamQueryPage(const std::string& body, RecordSink& sink) {
  StreamedPage page;
  PageHandler handler(page, sink);
  page.valid = json::sax_parse(body, &handler);
  return page;
}

}  // namespace cloudaware_exporter
