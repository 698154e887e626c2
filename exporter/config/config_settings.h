// The config file's settings tables (settings.h), one per section. The
// loader (config.cc) checks keys, reads and dumps through them, and
// SettingsReferenceMarkdown() renders them for README.md. Each is built on
// first use and never changed, so threads may share them.
#ifndef CLOUDAWARE_EXPORTER_CONFIG_SETTINGS_H_
#define CLOUDAWARE_EXPORTER_CONFIG_SETTINGS_H_

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

#include "exporter/config/config.h"
#include "exporter/config/settings.h"

namespace cloudaware_exporter {

constexpr size_t kMaxConfigBytes = 16 << 20;
constexpr std::chrono::milliseconds kMinInterval{1000};
constexpr int64_t kMaxSeries = 1000000;

// The top level and the entries of `orgs`: keys only, read by config.cc.
const Settings<Config>& TopSettings();
const Settings<OrgConfig>& OrgSettings();
const Settings<CloudawareConfig>& CloudawareSettings();
const Settings<CloudawareConfig>& BudgetGuardSettings();  // budget_guard:
const Settings<TlsConfig>& TlsSettings();                 // tls:
const Settings<Config>& DefaultsSettings();
const Settings<QueryConfig>& QuerySettings();
const Settings<MetricConfig>& MetricSettings();

// The reference table of every key (key, type, default, description) in
// Markdown. README.md's "Configuration" holds a copy that a test keeps
// equal.
std::string SettingsReferenceMarkdown();

}  // namespace cloudaware_exporter

#endif  // CLOUDAWARE_EXPORTER_CONFIG_SETTINGS_H_
