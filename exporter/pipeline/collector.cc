#include "exporter/pipeline/collector.h"

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

// Where each family's text starts, where its HELP and TYPE lines end, and
// where it ends, in text that Render() made: every family there has series,
// and a series line never starts with '#' (names cannot, and the serializer
// escapes newlines in label values).
struct Piece {
  size_t begin = 0;
  size_t header_end = 0;
  size_t end = 0;
};

std::vector<Piece> Cut(std::string_view text) {
  auto next_line = [&](size_t pos) {
    const size_t newline = text.find('\n', pos);
    return newline == std::string_view::npos ? text.size() : newline + 1;
  };
  std::vector<Piece> pieces;
  for (size_t pos = 0; pos < text.size();) {
    Piece piece{pos, pos, pos};
    while (piece.header_end < text.size() && text[piece.header_end] == '#') {
      piece.header_end = next_line(piece.header_end);
    }
    piece.end = piece.header_end;
    while (piece.end < text.size() && text[piece.end] != '#') {
      piece.end = next_line(piece.end);
    }
    pieces.push_back(piece);
    pos = piece.end;
  }
  return pieces;
}

}  // namespace

void Collector::SetQueries(const std::vector<std::string>& keys) {
  const std::set<std::string_view> named(keys.begin(), keys.end());
  std::vector<Entry> forgotten;  // freed after the lock is released
  std::lock_guard<std::mutex> lock(mu_);
  order_ = keys;
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
    const std::string& key,
    const std::vector<prometheus::MetricFamily>& families) {
  Entry entry;
  std::set<std::string> names;
  std::set<std::string> shared;  // names that another family has too
  for (const auto& family : families) {
    entry.series += family.metric.size();
    if (!family.metric.empty() && !names.insert(family.name).second) {
      shared.insert(family.name);
    }
  }
  // Rendering and compression are the expensive parts; they happen outside
  // the lock so that scrapes never wait for them. Only the poller publishes,
  // one entry per worker, so the entry read here is still current below.
  std::string text = Render(families);
  const std::vector<Piece> pieces = Cut(text);
  std::vector<std::shared_ptr<const std::string>> current;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [other_key, other] : entries_) {
      for (const RenderedFamily& family : other.families) {
        if (other_key == key) {
          current.push_back(family.text);
        } else if (names.count(family.name) != 0) {
          shared.insert(family.name);
        }
      }
    }
  }
  const size_t series = entry.series;
  const auto unchanged = [&] {
    if (current.size() != pieces.size()) return false;
    for (size_t i = 0; i < pieces.size(); ++i) {
      const Piece& piece = pieces[i];
      if (*current[i] !=
          std::string_view(text).substr(piece.begin, piece.end - piece.begin)) {
        return false;
      }
    }
    return true;
  };
  if (unchanged()) return series;

  size_t next = 0;
  for (const auto& family : families) {
    if (family.metric.empty()) continue;
    const Piece& piece = pieces.at(next++);
    RenderedFamily rendered;
    rendered.name = family.name;
    rendered.header_size = piece.header_end - piece.begin;
    rendered.text = pieces.size() == 1
                        ? std::make_shared<const std::string>(std::move(text))
                        : std::make_shared<const std::string>(
                              text, piece.begin, piece.end - piece.begin);
    const std::string_view whole = *rendered.text;
    const std::string_view body = whole.substr(rendered.header_size);
    if (shared.count(family.name) != 0) {
      rendered.body = std::make_shared<const std::string>(body);
    }
    rendered.deflated_header = std::make_shared<const DeflateSegment>(
        Deflate(whole.substr(0, rendered.header_size), /*final=*/false,
                Z_DEFAULT_COMPRESSION));
    rendered.deflated_body = std::make_shared<const DeflateSegment>(
        Deflate(body, /*final=*/false, Z_DEFAULT_COMPRESSION));
    entry.families.push_back(std::move(rendered));
  }

  std::lock_guard<std::mutex> lock(mu_);
  std::swap(entries_[key], entry);
  RebuildLocked();
  return series;
}

void Collector::Drop(const std::string& key) {
  Entry dropped;
  std::lock_guard<std::mutex> lock(mu_);
  auto it = entries_.find(key);
  if (it == entries_.end()) return;
  dropped = std::move(it->second);
  entries_.erase(it);
  RebuildLocked();
}

size_t Collector::SeriesCount(const std::string& key) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = entries_.find(key);
  return it == entries_.end() ? 0 : it->second.series;
}

std::shared_ptr<const Collector::Snapshot> Collector::snapshot() const {
  std::lock_guard<std::mutex> lock(mu_);
  return snapshot_;
}

void Collector::RebuildLocked() {
  auto snapshot = std::make_shared<Snapshot>();
  std::vector<RenderedFamily*> families;  // in key order
  std::set<std::string_view> added;
  auto add = [&](const std::string& key, Entry& entry) {
    if (!added.insert(key).second) return;
    for (RenderedFamily& family : entry.families) families.push_back(&family);
    snapshot->series += entry.series;
  };
  for (const std::string& key : order_) {
    auto it = entries_.find(key);
    if (it != entries_.end()) add(it->first, it->second);
  }
  // Published before SetQueries named them (or never named): last, by key,
  // so that the output is still stable.
  for (auto& [key, entry] : entries_) add(key, entry);

  // The text format wants one HELP and TYPE per name and its series together,
  // so a name's families follow the first one, without their headers.
  std::map<std::string_view, std::vector<RenderedFamily*>> by_name;
  for (RenderedFamily* family : families) {
    by_name[family->name].push_back(family);
  }
  for (const RenderedFamily* first : families) {
    auto it = by_name.find(first->name);
    if (it == by_name.end()) continue;  // written with an earlier family
    snapshot->blocks.push_back(first->text);
    snapshot->deflated.push_back(first->deflated_header);
    snapshot->deflated.push_back(first->deflated_body);
    for (size_t i = 1; i < it->second.size(); ++i) {
      RenderedFamily& later = *it->second[i];
      // Publish makes the series-only copy outside the lock when it sees
      // the name elsewhere; this is for a family that was published first
      // and came second only later, once.
      if (!later.body) {
        later.body =
            std::make_shared<const std::string>(*later.text, later.header_size);
      }
      snapshot->blocks.push_back(later.body);
      snapshot->deflated.push_back(later.deflated_body);
    }
    by_name.erase(it);
  }
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
