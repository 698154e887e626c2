// One gauge metric of a query's result as the poller keeps it while it maps,
// fills, caps and publishes the result: the label names once for the whole
// family, and per series only its label values, packed into one string, and
// its value. A listing query of 500,000 records is 500,000 series, so a
// series costs its label values and a double, not a name and a value string
// per label. A plain value, used by one thread at a time: the poller's
// worker running the query builds, fills and caps it and hands it to
// Collector::Publish, which renders it (RenderText) and keeps only the text.
#ifndef CLOUDAWARE_EXPORTER_GAUGE_FAMILY_H_
#define CLOUDAWARE_EXPORTER_GAUGE_FAMILY_H_

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace cloudaware_exporter {

struct GaugeFamily {
  struct Series {
    // The label values, in label_names order, each as AppendLabelValue
    // writes it.
    std::string key;
    double value = 0;
  };

  std::string name;
  std::string help;
  // The same for every series; ToFamilies sorts them by name.
  std::vector<std::string> label_names;
  std::vector<Series> series;
};

// Appends one label value to a series key: its length, then its bytes. The
// length makes every key read back one way, whatever bytes a value holds,
// so equal keys mean equal label values.
void AppendLabelValue(std::string& key, std::string_view value);

// The key of these label values, in order.
std::string SeriesKey(const std::vector<std::string>& values);

// The label values of a key, in order; they point into key.
std::vector<std::string_view> LabelValues(std::string_view key);

// The family's exposition text as prometheus-cpp 1.0.1's TextSerializer
// writes a gauge family, byte for byte, except that the HELP text is escaped
// (backslash and newline, as the text format asks) and that a family without
// series gives no text at all. header_size is the length of its HELP (none
// when help is empty) and TYPE lines.
struct FamilyText {
  std::string text;
  size_t header_size = 0;
};
FamilyText RenderText(const GaugeFamily& family);

}  // namespace cloudaware_exporter

#endif  // CLOUDAWARE_EXPORTER_GAUGE_FAMILY_H_
