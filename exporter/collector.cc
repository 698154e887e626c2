#include "exporter/collector.h"

#include <prometheus/text_serializer.h>
#include <zlib.h>

#include <algorithm>
#include <set>
#include <string_view>
#include <utility>

namespace cloudaware_exporter {
namespace {

bool HelpNeedsEscaping(const std::string& help) {
  return help.find_first_of("\\\n") != std::string::npos;
}

std::string EscapeHelp(const std::string& help) {
  std::string escaped;
  escaped.reserve(help.size() + 8);
  for (char c : help) {
    if (c == '\\') {
      escaped += "\\\\";
    } else if (c == '\n') {
      escaped += "\\n";
    } else {
      escaped += c;
    }
  }
  return escaped;
}

// prometheus-cpp 1.0.1's TextSerializer writes HELP and TYPE lines for a
// family without series, so a query that returned no rows would still show
// up; and it writes HELP text unescaped, so a newline in it would break the
// exposition. Both are fixed on a copy, which the usual case does not need.
std::string Render(const std::vector<prometheus::MetricFamily>& families) {
  const prometheus::TextSerializer serializer;
  const bool as_is =
      std::all_of(families.begin(), families.end(), [](const auto& family) {
        return !family.metric.empty() && !HelpNeedsEscaping(family.help);
      });
  if (as_is) return serializer.Serialize(families);

  std::vector<prometheus::MetricFamily> fixed;
  for (const auto& family : families) {
    if (family.metric.empty()) continue;
    fixed.push_back(family);
    fixed.back().help = EscapeHelp(family.help);
  }
  return serializer.Serialize(fixed);
}

}  // namespace

void Collector::SetQueries(const std::vector<std::string>& names) {
  const std::set<std::string_view> named(names.begin(), names.end());
  std::vector<Entry> forgotten;  // freed after the lock is released
  std::lock_guard<std::mutex> lock(mu_);
  order_ = names;
  for (auto it = entries_.begin(); it != entries_.end();) {
    if (named.count(it->first) == 0) {
      forgotten.push_back(std::move(it->second));
      it = entries_.erase(it);
    } else {
      ++it;
    }
  }
  RebuildLocked();
}

size_t Collector::Publish(
    const std::string& query,
    const std::vector<prometheus::MetricFamily>& families) {
  Entry entry;
  for (const auto& family : families) entry.series += family.metric.size();
  // Rendering and compression are the expensive parts; they happen outside
  // the lock so that scrapes never wait for them. Only the poller publishes,
  // one query per worker, so the entry read here is still current below.
  std::string text = Render(families);
  std::shared_ptr<const std::string> current;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = entries_.find(query);
    if (it != entries_.end()) current = it->second.text;
  }
  const size_t series = entry.series;
  if (current && *current == text) return series;
  entry.deflated = std::make_shared<const DeflateSegment>(
      Deflate(text, /*final=*/false, Z_DEFAULT_COMPRESSION));
  entry.text = std::make_shared<const std::string>(std::move(text));

  std::lock_guard<std::mutex> lock(mu_);
  std::swap(entries_[query], entry);
  RebuildLocked();
  return series;
}

void Collector::Drop(const std::string& query) {
  Entry dropped;
  std::lock_guard<std::mutex> lock(mu_);
  auto it = entries_.find(query);
  if (it == entries_.end()) return;
  dropped = std::move(it->second);
  entries_.erase(it);
  RebuildLocked();
}

size_t Collector::SeriesCount(const std::string& query) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = entries_.find(query);
  return it == entries_.end() ? 0 : it->second.series;
}

std::shared_ptr<const Collector::Snapshot> Collector::snapshot() const {
  std::lock_guard<std::mutex> lock(mu_);
  return snapshot_;
}

void Collector::RebuildLocked() {
  auto snapshot = std::make_shared<Snapshot>();
  std::set<std::string_view> added;
  auto add = [&](const std::string& name, const Entry& entry) {
    if (!added.insert(name).second) return;
    if (!entry.text || entry.text->empty()) return;
    snapshot->blocks.push_back(entry.text);
    snapshot->deflated.push_back(entry.deflated);
    snapshot->series += entry.series;
  };
  for (const std::string& name : order_) {
    auto it = entries_.find(name);
    if (it != entries_.end()) add(it->first, it->second);
  }
  // Published before SetQueries named them (or never named): last, by name,
  // so that the output is still stable.
  for (const auto& [name, entry] : entries_) add(name, entry);
  snapshot_ = std::move(snapshot);
}

std::vector<std::shared_ptr<const std::string>> Exposition(
    const Collector::Snapshot& snapshot, std::string tail, bool gzip) {
  if (!gzip) {
    auto chunks = snapshot.blocks;
    chunks.push_back(std::make_shared<const std::string>(std::move(tail)));
    return chunks;
  }
  auto segments = snapshot.deflated;
  segments.push_back(std::make_shared<const DeflateSegment>(
      Deflate(tail, /*final=*/true, Z_BEST_SPEED)));
  return GzipMember(segments);
}

}  // namespace cloudaware_exporter
