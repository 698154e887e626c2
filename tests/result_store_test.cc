#include "exporter/pipeline/result_store.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "exporter/base/log.h"

namespace cloudaware_exporter {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using std::chrono::milliseconds;
using WallTime = ResultStore::WallTime;

const char kSoql[] =
    "SELECT CA10__stateName__c state, COUNT(Id) n FROM "
    "CA10__CaAwsInstance__c GROUP BY CA10__stateName__c";

QueryResult SampleResult() {
  QueryResult r;
  r.total_size = 3;
  r.done = false;
  r.records = {json::parse(R"({"attributes":{"type":"AggregateResult"},
                               "state":"running","n":12})"),
               json::parse(R"({"state":null,"n":1.5,"tag":"é \"q\""})"),
               json::parse(R"({"nested":{"a":[1,2]}})")};
  return r;
}

// A time with whole milliseconds, as the file keeps it.
WallTime MsAgo(int64_t ms) {
  auto now = std::chrono::time_point_cast<milliseconds>(
      std::chrono::system_clock::now());
  return WallTime(now - milliseconds(ms));
}

std::vector<std::string> Files(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir))
    names.push_back(e.path().filename().string());
  return names;
}

void Write(const std::string& path, const std::string& text) {
  std::ofstream(path) << text;
}

std::string Read(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class ResultStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("result-store-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    ConfigureLogging(LogLevel::kInfo, LogFormat::kLogfmt, &log_);
  }
  void TearDown() override {
    ConfigureLogging(LogLevel::kInfo, LogFormat::kLogfmt);
    fs::remove_all(dir_);
  }

  fs::path dir_;
  std::ostringstream log_;
};

TEST_F(ResultStoreTest, RoundTrip) {
  ResultStore store((dir_ / "a/b").string());
  const QueryResult saved = SampleResult();
  const WallTime time = MsAgo(1234);
  ASSERT_EQ(store.Save("ec2_by_state", kSoql, saved, time), std::nullopt);

  auto loaded = store.Load("ec2_by_state", kSoql);
  ASSERT_TRUE(loaded) << log_.str();
  EXPECT_EQ(loaded->time, time);
  EXPECT_EQ(loaded->result.total_size, 3);
  EXPECT_FALSE(loaded->result.done);
  EXPECT_EQ(loaded->result.records, saved.records);
  EXPECT_EQ(log_.str(), "");

  // A second save replaces the first.
  QueryResult empty;
  ASSERT_EQ(store.Save("ec2_by_state", kSoql, empty, MsAgo(0)), std::nullopt);
  loaded = store.Load("ec2_by_state", kSoql);
  ASSERT_TRUE(loaded);
  EXPECT_TRUE(loaded->result.records.empty());
  EXPECT_TRUE(loaded->result.done);
}

TEST_F(ResultStoreTest, LeavesNoTemporaryFileBehind) {
  ResultStore store(dir_.string());
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(store.Save("q", kSoql, SampleResult(), MsAgo(0)), std::nullopt);
  }
  EXPECT_EQ(Files(dir_), std::vector<std::string>{"q.json"});
  EXPECT_EQ(store.PathOf("q"), (dir_ / "q.json").string());
}

TEST_F(ResultStoreTest, RemovesTemporaryFilesOfACrashAtStart) {
  fs::create_directories(dir_);
  Write((dir_ / ".tmp-Ab12Cd").string(), "{\"version\":1,");
  Write((dir_ / "q.json").string(), "{}");
  ResultStore store(dir_.string());
  EXPECT_EQ(Files(dir_), std::vector<std::string>{"q.json"});
}

TEST_F(ResultStoreTest, AbsentResultIsNotAProblem) {
  ResultStore store(dir_.string());
  EXPECT_FALSE(store.Load("never_saved", kSoql));
  EXPECT_EQ(log_.str(), "");
}

TEST_F(ResultStoreTest, IgnoresUnreadableFilesWithAWarning) {
  ResultStore store(dir_.string());
  ASSERT_EQ(store.Save("q", kSoql, SampleResult(), MsAgo(0)), std::nullopt);
  const std::string path = store.PathOf("q");
  const std::string good = Read(path);
  json doc = json::parse(good);

  json wrong_version = doc;
  wrong_version["version"] = 2;
  json no_records = doc;
  no_records.erase("records");
  json string_time = doc;
  string_time["time_ms"] = "yesterday";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {good.substr(0, good.size() / 2), "parse error"},
      {"", "parse error"},
      {"[1,2]", "not a JSON object"},
      {wrong_version.dump(), "format version 2, want 1"},
      {no_records.dump(), "no field records"},
      {string_time.dump(), "field time_ms is not an integer"},
  };
  for (const auto& [text, problem] : cases) {
    log_.str("");
    Write(path, text);
    EXPECT_FALSE(store.Load("q", kSoql)) << text;
    const std::string log = log_.str();
    EXPECT_NE(log.find("level=warn"), std::string::npos) << log;
    EXPECT_NE(log.find(path), std::string::npos) << log;
    EXPECT_NE(log.find(problem), std::string::npos) << log;
  }

  // A directory where the file should be.
  fs::remove(path);
  fs::create_directory(path);
  log_.str("");
  EXPECT_FALSE(store.Load("q", kSoql));
  EXPECT_NE(log_.str().find("Is a directory"), std::string::npos) << log_.str();
}

TEST_F(ResultStoreTest, IgnoresTheResultOfAChangedQuery) {
  ResultStore store(dir_.string());
  ASSERT_EQ(store.Save("q", kSoql, SampleResult(), MsAgo(0)), std::nullopt);
  EXPECT_FALSE(store.Load("q", std::string(kSoql) + " LIMIT 10"));
  EXPECT_NE(log_.str().find("level=info msg=\"ignoring the stored result of a "
                            "changed query\" query=q"),
            std::string::npos)
      << log_.str();
  EXPECT_EQ(log_.str().find("level=warn"), std::string::npos) << log_.str();
  EXPECT_TRUE(store.Load("q", kSoql)) << "the original query still loads";
}

TEST_F(ResultStoreTest, TimeInTheFutureIsTakenAsNow) {
  ResultStore store(dir_.string());
  ASSERT_EQ(
      store.Save("q", kSoql, SampleResult(),
                 std::chrono::system_clock::now() + std::chrono::hours(3)),
      std::nullopt);
  auto loaded = store.Load("q", kSoql);
  ASSERT_TRUE(loaded);
  const auto now = std::chrono::system_clock::now();
  EXPECT_LE(loaded->time, now);
  EXPECT_GT(loaded->time, now - std::chrono::minutes(1));
}

TEST_F(ResultStoreTest, KeysThatDifferOnlyInUnsafeCharactersGetTheirOwnFiles) {
  ResultStore store(dir_.string());
  const std::vector<std::string> keys = {
      "a/b",  "a%2Fb",     "a.b", "a_b",  "a-b", "a b", "a%b",
      "a\nb", "a\xc3\xa9", "..",  "../a", ".a",  "a",   "acme/ec2_by_state"};
  std::set<std::string> paths;
  for (size_t i = 0; i < keys.size(); ++i) {
    const std::string path = store.PathOf(keys[i]);
    paths.insert(path);
    EXPECT_EQ(fs::path(path).parent_path(), dir_) << path;
    EXPECT_NE(fs::path(path).filename().string()[0], '.') << path;
    QueryResult r;
    r.total_size = static_cast<int64_t>(i);
    ASSERT_EQ(store.Save(keys[i], kSoql, r, MsAgo(0)), std::nullopt) << path;
  }
  EXPECT_EQ(paths.size(), keys.size());
  EXPECT_EQ(Files(dir_).size(), keys.size());
  EXPECT_EQ(store.PathOf("acme/ec2_by_state"),
            (dir_ / "acme%2Fec2_by_state.json").string());
  for (size_t i = 0; i < keys.size(); ++i) {
    auto loaded = store.Load(keys[i], kSoql);
    ASSERT_TRUE(loaded) << keys[i];
    EXPECT_EQ(loaded->result.total_size, static_cast<int64_t>(i)) << keys[i];
  }
}

TEST_F(ResultStoreTest, RefusesADirectoryThatCannotBeMade) {
  fs::create_directories(dir_);
  Write((dir_ / "file").string(), "x");
  const std::string bad = (dir_ / "file/store").string();
  try {
    ResultStore store(bad);
    FAIL() << "no error";
  } catch (const std::runtime_error& e) {
    EXPECT_EQ(std::string(e.what()).rfind("storage path " + bad + ": ", 0), 0u)
        << e.what();
  }
  try {
    ResultStore store((dir_ / "file").string());
    FAIL() << "no error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("file: "), std::string::npos)
        << e.what();
  }
}

TEST_F(ResultStoreTest, SaveReportsWhyItFailed) {
  ResultStore store(dir_.string());
  fs::remove_all(dir_);
  auto problem = store.Save("q", kSoql, SampleResult(), MsAgo(0));
  ASSERT_TRUE(problem);
  EXPECT_NE(problem->find(dir_.string()), std::string::npos) << *problem;
  EXPECT_NE(problem->find("No such file or directory"), std::string::npos)
      << *problem;
}

}  // namespace
}  // namespace cloudaware_exporter
