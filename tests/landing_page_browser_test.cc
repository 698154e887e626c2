// The landing page and /status as a browser sees them: headless Chromium
// (Debian's) loads them from a running exporter against the simulator, plain
// and behind TLS with basic auth, and the rendered DOM shows the summary and
// the query table in the right states, also while the simulator rejects the
// credentials. No console errors; a screenshot at a phone's width goes to the
// test's output directory.
#include <gtest/gtest.h>
#include <httplib.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "bcrypt_util.h"
#include "process_util.h"
#include "simulator/simulator.h"
#include "tls_simulator.h"
#include "util/wait.h"

namespace {

namespace fs = std::filesystem;
using test_util::Eventually;
using test_util::FreePort;
using test_util::Process;
using test_util::ReadFile;
using test_util::WriteFile;

// The text of the summary section of an org ("" for a single org).
std::string Card(const std::string& dom, const std::string& org) {
  const size_t start =
      dom.find("<section class=\"org\" data-org=\"" + org + "\"");
  if (start == std::string::npos) return "";
  return dom.substr(start, dom.find("</section>", start) - start);
}

// The class of the table row of a query ("" for none), or "missing".
std::string RowClass(const std::string& dom, const std::string& query) {
  std::smatch m;
  if (!std::regex_search(
          dom, m, std::regex("<tr( class=\"(\\w+)\")?><td>" + query + "</td>")))
    return "missing";
  return m[2].str();
}

// A PNG's width, from its IHDR chunk; 0 if the file is not a PNG.
int PngWidth(const std::string& png) {
  if (png.size() < 24 || png.compare(1, 3, "PNG") != 0) return 0;
  const auto b = [&](size_t i) { return static_cast<unsigned char>(png[i]); };
  return (b(16) << 24) | (b(17) << 16) | (b(18) << 8) | b(19);
}

class LandingPageBrowserTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("cloudaware-browser-" + std::to_string(::getpid()));
    fs::create_directories(dir_);
    fs::create_directories(BROWSER_OUTPUT_DIR);
    ASSERT_TRUE(test_util::MakeCerts(dir_ / "certs"));
    cmdb_simulator::SimulatorOptions options;
    options.client_id = "browser-client";
    options.client_secret = "browser-secret";
    sim_ = test_util::StartTlsSimulator(options, dir_ / "certs");
    WriteFile(dir_ / "secret", "browser-secret");
    // One query that works and one on an object the org does not have.
    WriteFile(dir_ / "config.yml",
              "cloudaware:\n  url: https://localhost:" +
                  std::to_string(sim_->port()) +
                  "\n  client_id: browser-client\n"
                  "  client_secret_file: secret\n"
                  "  tls: {ca_file: certs/ca.pem}\n"
                  "defaults: {interval: 1s}\n"
                  "queries:\n"
                  "  - name: ec2_by_state\n"
                  "    soql: SELECT CA10__stateName__c s, COUNT(Id) n FROM "
                  "CA10__CaAwsInstance__c GROUP BY CA10__stateName__c\n"
                  "    metrics: [{name: cloudaware_ec2, help: EC2., value: n, "
                  "labels: [s]}]\n"
                  "  - name: no_such_object\n"
                  "    soql: SELECT COUNT() FROM No_Such_Object__c\n"
                  "    metrics: [{name: cloudaware_none, help: None.}]\n");
    WriteFile(dir_ / "web.yml",
              "tls_server_config:\n  cert_file: certs/server.pem\n"
              "  key_file: certs/server.key\n"
              "basic_auth_users:\n  viewer: " +
                  test_util::BcryptHash("browser-pass") + "\n");
    plain_port_ = FreePort();
    plain_ = Start(plain_port_, false);
    tls_port_ = FreePort();
    tls_ = Start(tls_port_, true);
  }

  void TearDown() override {
    if (HasFailure()) {
      std::cerr << "--- exporter log\n" << plain_->err().substr(0, 8000);
    }
    plain_.reset();
    tls_.reset();
    sim_->Stop();
    fs::remove_all(dir_);
  }

  std::unique_ptr<Process> Start(int port, bool tls) {
    std::vector<std::string> args = {
        EXPORTER_BINARY, "--config.file=" + (dir_ / "config.yml").string(),
        "--web.listen-address=127.0.0.1:" + std::to_string(port)};
    if (tls) args.push_back("--web.config.file=" + (dir_ / "web.yml").string());
    return std::make_unique<Process>(args, dir_,
                                     tls ? "tls-exporter-" : "exporter-");
  }

  // Runs headless Chromium with `flags` on `url`: its exit code, stdout and
  // stderr (where console messages go).
  struct Browser {
    int code = -1;
    std::string out, err;
  };
  Browser Chromium(const std::vector<std::string>& flags,
                   const std::string& url) {
    std::vector<std::string> args = {
        CHROMIUM_BINARY, "--headless", "--no-sandbox", "--disable-gpu",
        "--no-first-run", "--disable-extensions",
        "--user-data-dir=" + (dir_ / "chromium-profile").string(),
        // Console messages of the page on stderr, as "CONSOLE(...)" lines.
        "--enable-logging=stderr", "--v=0",
        // The exporter's certificate comes from the test's own CA.
        "--ignore-certificate-errors"};
    args.insert(args.end(), flags.begin(), flags.end());
    args.push_back(url);
    Process p(args, dir_, "chromium-" + std::to_string(++runs_) + "-");
    Browser b;
    b.code = p.Wait(std::chrono::seconds(60)).value_or(-1);
    b.out = p.out();
    b.err = p.err();
    return b;
  }

  Browser Dom(const std::string& url) {
    return Chromium({"--dump-dom", "--window-size=390,844"}, url);
  }

  std::string Plain(const std::string& path) {
    return "http://127.0.0.1:" + std::to_string(plain_port_) + path;
  }
  std::string Tls(const std::string& path) {
    return "https://viewer:browser-pass@127.0.0.1:" +
           std::to_string(tls_port_) + path;
  }

  static void ExpectNoConsoleErrors(const Browser& b) {
    std::regex console(R"([^\n]*CONSOLE[^\n]*)");
    for (std::sregex_iterator it(b.err.begin(), b.err.end(), console), end;
         it != end; ++it) {
      ADD_FAILURE() << "console message: " << it->str();
    }
  }

  fs::path dir_;
  std::unique_ptr<cmdb_simulator::Simulator> sim_;
  std::unique_ptr<Process> plain_, tls_;
  int plain_port_ = 0, tls_port_ = 0, runs_ = 0;
};

TEST_F(LandingPageBrowserTest, SummaryAndQueriesPlainAndBehindTlsWithAuth) {
  // Both exporters have run both queries.
  httplib::Client c("127.0.0.1", plain_port_);
  ASSERT_TRUE(Eventually(std::chrono::seconds(30), [&] {
    auto res = c.Get("/-/ready");
    return res && res->status == 200;
  })) << "the exporter never became ready";

  for (const bool tls : {false, true}) {
    SCOPED_TRACE(tls ? "TLS with basic auth" : "plain HTTP");
    const std::string url = tls ? Tls("/") : Plain("/");
    Browser b;
    ASSERT_TRUE(Eventually(std::chrono::seconds(30),
                           [&] {
                             b = Dom(url);
                             return b.code == 0 &&
                                    Card(b.out, "").find(
                                        "<dd class=\"ok\">up</dd>") !=
                                        std::string::npos;
                           }))
        << b.code << "\n"
        << b.out << "\n"
        << b.err;
    const std::string card = Card(b.out, "");
    EXPECT_NE(card.find("<dd class=\"ok\">held, obtained"), std::string::npos)
        << card;
    EXPECT_NE(card.find("calls today"), std::string::npos) << card;
    EXPECT_NE(card.find("<dd class=\"fail\">1 ok, 1 failed, 0 pending</dd>"),
              std::string::npos)
        << card;
    EXPECT_EQ(RowClass(b.out, "ec2_by_state"), "");
    EXPECT_EQ(RowClass(b.out, "no_such_object"), "fail");
    EXPECT_LT(b.out.find("data-org="), b.out.find("<h2>Queries</h2>"));
    ExpectNoConsoleErrors(b);

    Browser status = Dom(tls ? Tls("/status") : Plain("/status"));
    ASSERT_EQ(status.code, 0) << status.err;
    std::smatch m;
    ASSERT_TRUE(std::regex_search(status.out, m,
                                  std::regex("<pre[^>]*>([\\s\\S]*)</pre>")))
        << status.out;
    std::string text =
        std::regex_replace(m[1].str(), std::regex("&quot;"), "\"");
    text = std::regex_replace(text, std::regex("&amp;"), "&");
    auto json = nlohmann::json::parse(text, nullptr, false);
    ASSERT_FALSE(json.is_discarded()) << text;
    EXPECT_EQ(json["orgs"].size(), 1u) << text;
    EXPECT_NE(text.find("ec2_by_state"), std::string::npos);
    EXPECT_EQ(text.find("browser-secret"), std::string::npos)
        << "the secret reached /status";
    ExpectNoConsoleErrors(status);
  }
  // Without the credentials the TLS exporter shows nothing of it.
  Browser denied = Dom("https://127.0.0.1:" + std::to_string(tls_port_) + "/");
  EXPECT_EQ(Card(denied.out, ""), "") << denied.out;

  // While the simulator rejects the credentials, the summary says so.
  sim_->AddFaults({{"type", "reject_credentials"}});
  sim_->ExpireAllTokens();
  Browser b;
  EXPECT_TRUE(Eventually(std::chrono::seconds(60), [&] {
    b = Dom(Plain("/"));
    const std::string card = Card(b.out, "");
    return card.find("<dd class=\"fail\">down</dd>") != std::string::npos &&
           card.find("<dd class=\"fail\">none: invalid_client") !=
               std::string::npos;
  })) << Card(b.out, "");
  EXPECT_EQ(RowClass(b.out, "ec2_by_state"), "fail") << b.out;
  ExpectNoConsoleErrors(b);

  // A screenshot at a phone's width; the page fits it (the viewport meta
  // makes Chromium lay it out at 390 px rather than shrink a desktop page).
  const fs::path shot = fs::path(BROWSER_OUTPUT_DIR) / "landing-page-390px.png";
  fs::remove(shot);
  Browser s = Chromium({"--screenshot=" + shot.string(),
                        "--window-size=390,844", "--hide-scrollbars"},
                       Plain("/"));
  ASSERT_EQ(s.code, 0) << s.err;
  ASSERT_TRUE(fs::exists(shot)) << s.err;
  EXPECT_EQ(PngWidth(ReadFile(shot)), 390);
  EXPECT_NE(b.out.find("name=\"viewport\""), std::string::npos);
  sim_->ClearFaults();
}

}  // namespace
