#include "exporter/base/log.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <vector>

#include "exporter/base/rfc3339.h"

namespace cloudaware_exporter {
namespace {

constexpr size_t kMinRedacted = 4;

constexpr std::string_view kRedacted = "<secret>";

struct Logger {
  std::mutex mu;
  LogLevel level = LogLevel::kInfo;
  LogFormat format = LogFormat::kLogfmt;
  std::ostream* out = &std::cerr;
  // Longest first, so a secret that contains another is replaced whole.
  // Duplicates are kept: each Redact() needs its own Unredact().
  std::vector<std::string> secrets;
};

// Never destroyed: threads may still log while static destructors run.
Logger& GetLogger() {
  static Logger* logger = new Logger;
  return *logger;
}

std::string_view LevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarn:
      return "warn";
    case LogLevel::kError:
      return "error";
  }
  return "info";
}

void ReplaceAll(std::string& s, std::string_view from, std::string_view to) {
  for (size_t pos = s.find(from); pos != std::string::npos;
       pos = s.find(from, pos + to.size())) {
    s.replace(pos, from.size(), to);
  }
}

std::string Redacted(std::string_view text,
                     const std::vector<std::string>& secrets) {
  std::string s(text);
  for (const std::string& secret : secrets) ReplaceAll(s, secret, kRedacted);
  return s;
}

// go-logfmt's rule: quote values with spaces, control characters, '=' or
// '"', and empty ones so that the key still has a visible value.
bool NeedsQuotes(std::string_view value) {
  if (value.empty()) return true;
  return std::any_of(value.begin(), value.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u <= ' ' || u == 0x7f || c == '=' || c == '"';
  });
}

void AppendLogfmtValue(std::string& line, std::string_view value) {
  if (!NeedsQuotes(value)) {
    line += value;
    return;
  }
  line += '"';
  for (char c : value) {
    switch (c) {
      case '"':
        line += "\\\"";
        break;
      case '\\':
        line += "\\\\";
        break;
      case '\n':
        line += "\\n";
        break;
      case '\r':
        line += "\\r";
        break;
      case '\t':
        line += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < ' ' ||
            static_cast<unsigned char>(c) == 0x7f) {
          char buf[8];
          std::snprintf(buf, sizeof(buf), "\\u%04x",
                        static_cast<unsigned>(static_cast<unsigned char>(c)));
          line += buf;
        } else {
          line += c;
        }
    }
  }
  line += '"';
}

// Keys come from our code, but a stray space or '=' would make the line
// unparseable, so such characters become '_'.
void AppendLogfmtKey(std::string& line, std::string_view key) {
  if (key.empty()) {
    line += '_';
    return;
  }
  for (char c : key) {
    const auto u = static_cast<unsigned char>(c);
    line += (u <= ' ' || u == 0x7f || c == '=' || c == '"') ? '_' : c;
  }
}

std::string FormatLogfmt(
    const std::string& ts, std::string_view level, const std::string& msg,
    const std::vector<std::pair<std::string, std::string>>& fields) {
  std::string line = "ts=" + ts + " level=" + std::string(level) + " msg=";
  AppendLogfmtValue(line, msg);
  for (const auto& [key, value] : fields) {
    line += ' ';
    AppendLogfmtKey(line, key);
    line += '=';
    AppendLogfmtValue(line, value);
  }
  return line;
}

std::string FormatJson(
    const std::string& ts, std::string_view level, const std::string& msg,
    const std::vector<std::pair<std::string, std::string>>& fields) {
  nlohmann::ordered_json j;
  j["ts"] = ts;
  j["level"] = level;
  j["msg"] = msg;
  for (const auto& [key, value] : fields) j[key] = value;
  // API error bodies may hold invalid UTF-8; the default handler would throw.
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace

std::optional<LogLevel> ParseLogLevel(std::string_view s) {
  if (s == "debug") return LogLevel::kDebug;
  if (s == "info") return LogLevel::kInfo;
  if (s == "warn") return LogLevel::kWarn;
  if (s == "error") return LogLevel::kError;
  return std::nullopt;
}

std::optional<LogFormat> ParseLogFormat(std::string_view s) {
  if (s == "logfmt") return LogFormat::kLogfmt;
  if (s == "json") return LogFormat::kJson;
  return std::nullopt;
}

void ConfigureLogging(LogLevel level, LogFormat format, std::ostream* out) {
  Logger& logger = GetLogger();
  std::lock_guard<std::mutex> lock(logger.mu);
  logger.level = level;
  logger.format = format;
  logger.out = out != nullptr ? out : &std::cerr;
}

void Redact(const std::string& secret) {
  // Scrubbing a string of a few characters would garble every line (and
  // show where it occurs) while hiding nothing worth hiding.
  if (secret.size() < kMinRedacted) return;
  Logger& logger = GetLogger();
  std::lock_guard<std::mutex> lock(logger.mu);
  auto pos = std::find_if(
      logger.secrets.begin(), logger.secrets.end(),
      [&](const std::string& s) { return s.size() < secret.size(); });
  logger.secrets.insert(pos, secret);
}

void Unredact(const std::string& secret) {
  Logger& logger = GetLogger();
  std::lock_guard<std::mutex> lock(logger.mu);
  auto it = std::find(logger.secrets.begin(), logger.secrets.end(), secret);
  if (it != logger.secrets.end()) logger.secrets.erase(it);
}

void Log(LogLevel level, std::string_view msg,
         std::initializer_list<LogField> fields) {
  Logger& logger = GetLogger();
  std::lock_guard<std::mutex> lock(logger.mu);
  if (level < logger.level) return;

  // Redacting each part before encoding catches secrets that the encoding
  // would change (a '"' escaped as '\"'); redacting the whole line afterwards
  // catches any that span parts.
  const std::string redacted_msg = Redacted(msg, logger.secrets);
  std::vector<std::pair<std::string, std::string>> redacted_fields;
  redacted_fields.reserve(fields.size());
  for (const auto& [key, value] : fields) {
    redacted_fields.emplace_back(Redacted(key, logger.secrets),
                                 Redacted(value, logger.secrets));
  }
  std::string line =
      logger.format == LogFormat::kJson
          ? FormatJson(FormatRfc3339(std::chrono::system_clock::now()),
                       LevelName(level), redacted_msg, redacted_fields)
          : FormatLogfmt(FormatRfc3339(std::chrono::system_clock::now()),
                         LevelName(level), redacted_msg, redacted_fields);
  line = Redacted(line, logger.secrets);
  line += '\n';
  // std::cerr is unbuffered, so one write() here is one write(2): a line
  // stays whole even on a pipe shared with other processes.
  logger.out->write(line.data(), static_cast<std::streamsize>(line.size()));
  logger.out->flush();
}

}  // namespace cloudaware_exporter
