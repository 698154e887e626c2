// Structured logging in logfmt or JSON, one line per event, to stderr.
// Thread-safe. Secrets registered with Redact() are replaced by "<secret>"
// in every line, as a last line of defence: callers already never pass them.
#ifndef CLOUDAWARE_EXPORTER_LOG_H_
#define CLOUDAWARE_EXPORTER_LOG_H_

#include <initializer_list>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>

namespace cloudaware_exporter {

enum class LogLevel { kDebug, kInfo, kWarn, kError };
enum class LogFormat { kLogfmt, kJson };

std::optional<LogLevel> ParseLogLevel(std::string_view s);
std::optional<LogFormat> ParseLogFormat(std::string_view s);

using LogField = std::pair<std::string_view, std::string>;

// Sets the minimum level and format; out defaults to std::cerr and must
// outlive every later log call (tests pass a stringstream).
void ConfigureLogging(LogLevel level, LogFormat format,
                      std::ostream* out = nullptr);
// Adds a string to scrub from every line; strings shorter than 4 bytes are
// ignored.
void Redact(const std::string& secret);
// Drops a string added by Redact (a token that was replaced).
void Unredact(const std::string& secret);

// ts=2026-11-24T06:12:36.123Z level=info msg="..." key=value ...
void Log(LogLevel level, std::string_view msg,
         std::initializer_list<LogField> fields = {});
inline void LogDebug(std::string_view msg,
                     std::initializer_list<LogField> f = {}) {
  Log(LogLevel::kDebug, msg, f);
}
inline void LogInfo(std::string_view msg,
                    std::initializer_list<LogField> f = {}) {
  Log(LogLevel::kInfo, msg, f);
}
inline void LogWarn(std::string_view msg,
                    std::initializer_list<LogField> f = {}) {
  Log(LogLevel::kWarn, msg, f);
}
inline void LogError(std::string_view msg,
                     std::initializer_list<LogField> f = {}) {
  Log(LogLevel::kError, msg, f);
}

}  // namespace cloudaware_exporter

#endif  // CLOUDAWARE_EXPORTER_LOG_H_
