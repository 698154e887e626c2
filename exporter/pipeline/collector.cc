#include "exporter/pipeline/collector.h"

#include <zlib.h>

#include <set>
#include <string_view>
#include <utility>

namespace cloudaware_exporter {
namespace {

// Each family's text, in order; a family without series gives none. Each
// family's series are freed as soon as its text exists, so that the series
// of a large listing and their deflated text are never held together.
std::vector<FamilyText> RenderAndFree(std::vector<GaugeFamily>& families) {
  std::vector<FamilyText> texts;
  texts.reserve(families.size());
  for (GaugeFamily& family : families) {
    texts.push_back(RenderText(family));
    family.series.clear();
    family.series.shrink_to_fit();
  }
  return texts;
}

// Whether the entry's current texts are the new ones, family by family.
bool Unchanged(const std::vector<std::shared_ptr<const std::string>>& current,
               const std::vector<FamilyText>& texts) {
  size_t next = 0;
  for (const FamilyText& text : texts) {
    if (text.text.empty()) continue;
    if (next == current.size() || *current[next++] != text.text) return false;
  }
  return next == current.size();
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

size_t Collector::Publish(const std::string& key,
                          std::vector<GaugeFamily> families) {
  Entry entry;
  std::set<std::string> names;
  std::set<std::string> shared;  // names that another family has too
  for (const auto& family : families) {
    entry.series += family.series.size();
    if (!family.series.empty() && !names.insert(family.name).second) {
      shared.insert(family.name);
    }
  }
  // Rendering and compression are the expensive parts; they happen outside
  // the lock so that scrapes never wait for them. Only the poller publishes,
  // one entry per worker, so the entry read here is still current below.
  std::vector<FamilyText> texts = RenderAndFree(families);
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
  if (Unchanged(current, texts)) return series;

  for (size_t i = 0; i < families.size(); ++i) {
    if (texts[i].text.empty()) continue;
    RenderedFamily rendered;
    rendered.name = families[i].name;
    rendered.header_size = texts[i].header_size;
    rendered.text =
        std::make_shared<const std::string>(std::move(texts[i].text));
    const std::string_view whole = *rendered.text;
    const std::string_view body = whole.substr(rendered.header_size);
    if (shared.count(rendered.name) != 0) {
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
