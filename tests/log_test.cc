#include "exporter/base/log.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace cloudaware_exporter {
namespace {

// True for "2026-11-24T06:12:36.123Z": checks the shape, not the time.
bool IsTimestamp(std::string_view ts) {
  constexpr std::string_view kShape = "dddd-dd-ddTdd:dd:dd.dddZ";
  if (ts.size() != kShape.size()) return false;
  for (size_t i = 0; i < ts.size(); ++i) {
    const bool ok =
        kShape[i] == 'd' ? (ts[i] >= '0' && ts[i] <= '9') : ts[i] == kShape[i];
    if (!ok) return false;
  }
  return true;
}

// The line after its "ts=..." field, or a marker when that field is off.
std::string AfterTimestamp(const std::string& line) {
  if (!line.starts_with("ts=") || line.size() < 27 ||
      !IsTimestamp(std::string_view(line).substr(3, 24))) {
    return "<bad ts> " + line;
  }
  return line.substr(27);
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// The logger is process-wide: every test logs into its own stream and puts
// the defaults back afterwards.
class LogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ConfigureLogging(LogLevel::kInfo, LogFormat::kLogfmt, &out_);
  }
  void TearDown() override {
    for (const std::string& secret : secrets_) Unredact(secret);
    ConfigureLogging(LogLevel::kInfo, LogFormat::kLogfmt);
  }
  void AddSecret(const std::string& secret) {
    Redact(secret);
    secrets_.push_back(secret);
  }

  std::ostringstream out_;
  std::vector<std::string> secrets_;
};

TEST_F(LogTest, ParsesLevelsAndFormats) {
  EXPECT_EQ(ParseLogLevel("debug"), LogLevel::kDebug);
  EXPECT_EQ(ParseLogLevel("info"), LogLevel::kInfo);
  EXPECT_EQ(ParseLogLevel("warn"), LogLevel::kWarn);
  EXPECT_EQ(ParseLogLevel("error"), LogLevel::kError);
  EXPECT_EQ(ParseLogLevel("INFO"), std::nullopt);
  EXPECT_EQ(ParseLogLevel(""), std::nullopt);
  EXPECT_EQ(ParseLogFormat("logfmt"), LogFormat::kLogfmt);
  EXPECT_EQ(ParseLogFormat("json"), LogFormat::kJson);
  EXPECT_EQ(ParseLogFormat("text"), std::nullopt);
}

TEST_F(LogTest, LogfmtLineShape) {
  LogInfo("poll finished",
          {{"query", "aws_ec2"}, {"err", "HTTP 503: Server Unavailable"}});
  EXPECT_EQ(AfterTimestamp(out_.str()),
            R"( level=info msg="poll finished" query=aws_ec2 )"
            R"(err="HTTP 503: Server Unavailable")"
            "\n");
}

TEST_F(LogTest, LogfmtQuotesAndEscapes) {
  LogWarn("started", {{"empty", ""},
                      {"eq", "a=b"},
                      {"quote", R"(say "hi")"},
                      {"path", R"(C:\dir)"},
                      {"spaced path", R"(a \ b)"},
                      {"nl", "one\ntwo"},
                      {"plain", "x.y-z/1"}});
  const std::vector<std::string> lines = Lines(out_.str());
  ASSERT_EQ(lines.size(), 1u) << out_.str();
  const std::string& line = lines[0];
  EXPECT_NE(line.find(" level=warn msg=started "), std::string::npos) << line;
  EXPECT_NE(line.find(R"( empty="" )"), std::string::npos) << line;
  EXPECT_NE(line.find(R"( eq="a=b" )"), std::string::npos) << line;
  EXPECT_NE(line.find(R"( quote="say \"hi\"" )"), std::string::npos) << line;
  // A backslash alone needs no quotes; inside quotes it is escaped.
  EXPECT_NE(line.find(R"( path=C:\dir )"), std::string::npos) << line;
  EXPECT_NE(line.find(R"( spaced_path="a \\ b" )"), std::string::npos) << line;
  EXPECT_NE(line.find(R"( nl="one\ntwo" )"), std::string::npos) << line;
  EXPECT_TRUE(line.ends_with(" plain=x.y-z/1")) << line;
}

TEST_F(LogTest, FiltersByLevel) {
  ConfigureLogging(LogLevel::kWarn, LogFormat::kLogfmt, &out_);
  LogDebug("d");
  LogInfo("i");
  LogWarn("w");
  LogError("e");
  const std::vector<std::string> lines = Lines(out_.str());
  ASSERT_EQ(lines.size(), 2u) << out_.str();
  EXPECT_NE(lines[0].find("level=warn msg=w"), std::string::npos);
  EXPECT_NE(lines[1].find("level=error msg=e"), std::string::npos);

  out_.str("");
  ConfigureLogging(LogLevel::kDebug, LogFormat::kLogfmt, &out_);
  LogDebug("d");
  EXPECT_NE(out_.str().find("level=debug msg=d"), std::string::npos);
}

TEST_F(LogTest, RedactsSecretsEverywhere) {
  AddSecret("s3cr3t");
  AddSecret("tok\"en");
  LogError("token s3cr3t refused",
           {{"s3cr3t_key", "Bearer s3cr3t"}, {"raw", "tok\"en"}});
  const std::string line = out_.str();
  EXPECT_EQ(line.find("s3cr3t"), std::string::npos) << line;
  EXPECT_EQ(line.find("tok\""), std::string::npos) << line;
  EXPECT_EQ(line.find("tok\\\""), std::string::npos) << line;
  EXPECT_NE(line.find(R"(msg="token <secret> refused")"), std::string::npos)
      << line;
  EXPECT_NE(line.find(R"(<secret>_key="Bearer <secret>")"), std::string::npos)
      << line;
  EXPECT_NE(line.find("raw=<secret>"), std::string::npos) << line;

  out_.str("");
  ConfigureLogging(LogLevel::kInfo, LogFormat::kJson, &out_);
  LogInfo("s3cr3t", {{"k", "x tok\"en y"}});
  const auto j = nlohmann::json::parse(out_.str());
  EXPECT_EQ(j["msg"], "<secret>");
  EXPECT_EQ(j["k"], "x <secret> y");
}

TEST_F(LogTest, RedactPrefersLongestAndUnredactForgets) {
  AddSecret("abcd");
  AddSecret("abcdef");
  Redact("");  // ignored, or every gap would match
  LogInfo("abcdef abcd");
  EXPECT_NE(out_.str().find(R"(msg="<secret> <secret>")"), std::string::npos)
      << out_.str();

  out_.str("");
  Unredact("abcdef");
  Unredact("abcd");
  secrets_.clear();
  LogInfo("abcdef");
  EXPECT_NE(out_.str().find("msg=abcdef"), std::string::npos) << out_.str();

  // A string of a few characters would garble every line.
  out_.str("");
  Redact("b");
  LogInfo("obtained a token");
  EXPECT_NE(out_.str().find(R"(msg="obtained a token")"), std::string::npos)
      << out_.str();
}

TEST_F(LogTest, JsonLinesAreValidObjects) {
  ConfigureLogging(LogLevel::kInfo, LogFormat::kJson, &out_);
  LogInfo("poll finished", {{"query", "aws_ec2"}, {"err", "a \"b\"\n\\c"}});
  LogError("bad bytes", {{"body", std::string("\xff\xfe ok")}});
  const std::vector<std::string> lines = Lines(out_.str());
  ASSERT_EQ(lines.size(), 2u) << out_.str();

  const auto first = nlohmann::ordered_json::parse(lines[0]);
  std::vector<std::string> keys;
  for (const auto& item : first.items()) keys.push_back(item.key());
  EXPECT_EQ(keys,
            (std::vector<std::string>{"ts", "level", "msg", "query", "err"}));
  EXPECT_TRUE(IsTimestamp(first["ts"].get<std::string>())) << first["ts"];
  EXPECT_EQ(first["level"], "info");
  EXPECT_EQ(first["msg"], "poll finished");
  EXPECT_EQ(first["err"], "a \"b\"\n\\c");

  const auto second = nlohmann::json::parse(lines[1]);
  EXPECT_EQ(second["level"], "error");
  EXPECT_TRUE(second["body"].get<std::string>().ends_with(" ok"));
}

TEST_F(LogTest, ConcurrentLinesStayWhole) {
  constexpr int kThreads = 8;
  constexpr int kLines = 200;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([t] {
      for (int i = 0; i < kLines; ++i) {
        LogInfo("concurrent line", {{"thread", std::to_string(t)},
                                    {"i", std::to_string(i)},
                                    {"pad", std::string(100, 'x')}});
      }
    });
  }
  for (std::thread& thread : threads) thread.join();

  std::multiset<std::string> want;
  for (int t = 0; t < kThreads; ++t) {
    for (int i = 0; i < kLines; ++i) {
      want.insert(R"( level=info msg="concurrent line" thread=)" +
                  std::to_string(t) + " i=" + std::to_string(i) +
                  " pad=" + std::string(100, 'x'));
    }
  }
  std::multiset<std::string> got;
  for (const std::string& line : Lines(out_.str())) {
    got.insert(AfterTimestamp(line));
  }
  EXPECT_TRUE(got == want) << out_.str().substr(0, 2000);
}

}  // namespace
}  // namespace cloudaware_exporter
