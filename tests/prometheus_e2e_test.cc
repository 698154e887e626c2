// End to end: the CMDB simulator, the exporter binary with the shipped
// example queries, a second one with the query packs in two orgs, and a real
// Prometheus (Debian's) scraping both every second with the shipped rules.
// Proves that the targets are healthy, that every dashboard expression
// returns data, that every rule evaluates with and without the org label,
// that the stalled-collector alert finds the simulator's stalled account in
// each org, and that the token-failure and stale-data alerts fire and
// resolve. Debian's Alertmanager, with the shipped example config, delivers
// them to a webhook receiver in the test: the token-failure and API-down
// notifications arrive with their org, instance, severity and runbook, and
// so do the resolved ones.
#include <gtest/gtest.h>
#include <httplib.h>
#include <yaml-cpp/yaml.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <regex>
#include <set>
#include <thread>

#include "process_util.h"
#include "simulator/inventory.h"
#include "simulator/simulator.h"
#include "tls_simulator.h"
#include "util/wait.h"

namespace {

// A real org's token backoff starts at 15 s; the exporters here retry a
// refused token within seconds, so that recoveries fit the test's time.
constexpr char kTokenBackoff[] = "--test.token-backoff=1s";

namespace fs = std::filesystem;
using json = nlohmann::json;
using test_util::Eventually;
using test_util::FreePort;
using test_util::Process;
using test_util::ReadFile;
using test_util::WriteFile;

// Grafana's variables, as the dashboards would have them at "All", or with
// one instance picked.
std::string Substitute(std::string expr, const std::string& instance = "") {
  if (!instance.empty()) {
    expr = std::regex_replace(expr, std::regex(R"(=~\s*"\$\{?instance\}?")"),
                              "=\"" + instance + "\"");
  }
  static const std::vector<std::pair<std::regex, std::string>> kRules = {
      {std::regex(R"(\$\{?__(rate_interval|interval|range)\}?)"), "1m"},
      {std::regex(R"((!?=~?)\s*"\$\{?\w+(:\w+)?\}?")"), "=~\".*\""},
      {std::regex(R"(\$\{?\w+(:\w+)?\}?)"), ".*"},
  };
  for (const auto& [re, with] : kRules)
    expr = std::regex_replace(expr, re, with);
  return expr;
}

void CollectTargets(const json& panels, const std::string& dashboard,
                    std::vector<std::pair<std::string, std::string>>& out) {
  for (const json& panel : panels) {
    if (panel.contains("panels"))
      CollectTargets(panel["panels"], dashboard, out);
    if (!panel.contains("targets")) continue;
    for (const json& target : panel["targets"]) {
      if (target.contains("expr") && target["expr"].is_string()) {
        out.emplace_back(dashboard + " / " + panel.value("title", "?"),
                         target["expr"].get<std::string>());
      }
    }
  }
}

// A config or query file with every query run every 2 s, instead of every
// few minutes, and its data stale after 6 s.
std::string Faster(std::string config) {
  config = std::regex_replace(config, std::regex(R"(\binterval: \w+)"),
                              "interval: 2s");
  return std::regex_replace(config, std::regex(R"(\bstale_after: \w+)"),
                            "stale_after: 6s");
}

// The shipped rules with every `for` cut to 1 s, so that alerts fire in a
// bounded test; the expressions themselves are unchanged.
std::string FastRules(const fs::path& file) {
  YAML::Node doc = YAML::LoadFile(file.string());
  for (auto group : doc["groups"]) {
    group["interval"] = "1s";
    for (auto rule : group["rules"]) {
      if (rule["for"]) rule["for"] = "1s";
    }
  }
  YAML::Emitter out;
  out << doc;
  return out.c_str();
}

// The shipped Alertmanager config with waits cut to 1 s and its webhook
// receivers pointed at the test's; routes and receivers unchanged.
std::string FastAlertmanager(const fs::path& file, int webhook_port) {
  std::string text = ReadFile(file);
  text = std::regex_replace(text, std::regex(R"(http://127\.0\.0\.1:9095)"),
                            "http://127.0.0.1:" + std::to_string(webhook_port));
  YAML::Node doc = YAML::Load(text);
  doc["route"]["group_wait"] = "1s";
  doc["route"]["group_interval"] = "1s";
  YAML::Emitter out;
  out << doc;
  return out.c_str();
}

// A webhook receiver on loopback: every notification Alertmanager posts, with
// the path it was posted to.
class Webhook {
 public:
  struct Notification {
    std::string path;
    json body;
  };

  Webhook() {
    server_.Post(R"(/alerts/\w+)",
                 [this](const httplib::Request& req, httplib::Response& res) {
                   json body = json::parse(req.body, nullptr, false);
                   std::lock_guard<std::mutex> lock(mu_);
                   received_.push_back({req.path, body});
                   res.status = 200;
                 });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
  }
  ~Webhook() {
    server_.stop();
    thread_.join();
  }

  int port() const { return port_; }
  size_t size() {
    std::lock_guard<std::mutex> lock(mu_);
    return received_.size();
  }
  std::vector<Notification> Since(size_t first) {
    std::lock_guard<std::mutex> lock(mu_);
    return {received_.begin() + static_cast<long>(first), received_.end()};
  }

 private:
  httplib::Server server_;
  std::thread thread_;
  int port_ = 0;
  std::mutex mu_;
  std::vector<Notification> received_;
};

// The alert `name` in `status` ("firing" or "resolved") for the exporter
// `instance` and `org` ("" for none), among notifications received since
// `first`: the path it came to and the alert, or nullopt.
std::optional<std::pair<std::string, json>> Delivered(
    Webhook& webhook, size_t first, const std::string& name,
    const std::string& status, const std::string& instance,
    const std::string& org) {
  for (const auto& n : webhook.Since(first)) {
    if (!n.body.is_object() || n.body.value("status", "") != status) continue;
    for (const json& alert : n.body["alerts"]) {
      const json& labels = alert["labels"];
      if (labels.value("alertname", "") == name &&
          labels.value("instance", "") == instance &&
          labels.value("org", "") == org && alert.value("status", "") == status)
        return std::make_pair(n.path, alert);
    }
  }
  return std::nullopt;
}

// The runbook annotation of a shipped alerting rule.
std::string Runbook(const std::string& alert) {
  YAML::Node doc = YAML::LoadFile(
      (fs::path(PROJECT_DIR) / "deploy/prometheus/cloudaware-alerts.yml")
          .string());
  for (const auto& group : doc["groups"]) {
    for (const auto& rule : group["rules"]) {
      if (rule["alert"] && rule["alert"].as<std::string>() == alert)
        return rule["annotations"]["runbook"].as<std::string>();
    }
  }
  return "";
}

class PrometheusE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("cloudaware-e2e-" + std::to_string(::getpid()));
    fs::create_directories(dir_ / "rules");
    ASSERT_TRUE(test_util::MakeCerts(dir_ / "certs"));
    cmdb_simulator::SimulatorOptions sim_options;
    cmdb_simulator::GenerateOptions gen;
    gen.records = 5000;
    // Records modified in the last day, as the stalled-collector alert
    // measures their age against the wall clock.
    gen.now_ms = std::chrono::duration<double, std::milli>(
                     std::chrono::system_clock::now().time_since_epoch())
                     .count();
    sim_options.inventory = std::make_shared<const cmdb_simulator::Inventory>(
        cmdb_simulator::Inventory::Generate(gen));
    sim_options.client_id = "e2e-client";
    sim_options.client_secret = "e2e-secret";
    sim_ = test_util::StartTlsSimulator(sim_options, dir_ / "certs");

    // The shipped example queries, run every 2 s instead of every few minutes.
    WriteFile(dir_ / "exporter.yml", Faster(ReadFile(EXAMPLE_CONFIG)));
    // The query packs, run the same way, in two orgs of the same simulator.
    fs::create_directories(dir_ / "packs");
    for (const auto& entry : fs::directory_iterator(fs::path(PROJECT_DIR) /
                                                    "deploy/examples/packs")) {
      WriteFile(dir_ / "packs" / entry.path().filename(),
                Faster(ReadFile(entry.path())));
    }
    std::string orgs = "orgs:\n";
    for (const char* org : {"prod", "staging"}) {
      orgs += std::string("  - name: ") + org +
              "\n    cloudaware:\n"
              "      url: ${CLOUDAWARE_URL}\n"
              "      client_id: ${CLOUDAWARE_CLIENT_ID}\n"
              "      client_secret_file: ${CLOUDAWARE_CLIENT_SECRET_FILE}\n"
              "    query_files: [packs/*.yml]\n";
    }
    WriteFile(dir_ / "packs.yml", orgs);
    WriteFile(dir_ / "secret", "e2e-secret");
    setenv("CLOUDAWARE_URL",
           ("https://localhost:" + std::to_string(sim_->port())).c_str(), 1);
    setenv("CLOUDAWARE_CLIENT_ID", "e2e-client", 1);
    setenv("CLOUDAWARE_CLIENT_SECRET_FILE", (dir_ / "secret").c_str(), 1);
    setenv("SSL_CERT_FILE", (dir_ / "certs/ca.pem").c_str(), 1);
    exporter_port_ = FreePort();
    exporter_ = std::make_unique<Process>(
        std::vector<std::string>{
            EXPORTER_BINARY,
            "--config.file=" + (dir_ / "exporter.yml").string(),
            "--web.listen-address=127.0.0.1:" + std::to_string(exporter_port_),
            kTokenBackoff},
        dir_, "exporter-");
    packs_port_ = FreePort();
    packs_exporter_ = std::make_unique<Process>(
        std::vector<std::string>{
            EXPORTER_BINARY, "--config.file=" + (dir_ / "packs.yml").string(),
            "--web.listen-address=127.0.0.1:" + std::to_string(packs_port_),
            kTokenBackoff},
        dir_, "packs-exporter-");
    unsetenv("SSL_CERT_FILE");

    for (const auto& entry :
         fs::directory_iterator(fs::path(PROJECT_DIR) / "deploy/prometheus")) {
      const std::string name = entry.path().filename().string();
      if (name.rfind("cloudaware-", 0) != 0 ||
          entry.path().extension() != ".yml")
        continue;
      WriteFile(dir_ / "rules" / name, FastRules(entry.path()));
      ++rule_files_;
    }
    // Alertmanager with the shipped example config, delivering to the test.
    webhook_ = std::make_unique<Webhook>();
    ASSERT_GT(webhook_->port(), 0);
    WriteFile(dir_ / "alertmanager.yml",
              FastAlertmanager(fs::path(PROJECT_DIR) /
                                   "deploy/alertmanager/alertmanager.yml",
                               webhook_->port()));
    alertmanager_port_ = FreePort();
    alertmanager_ = std::make_unique<Process>(
        std::vector<std::string>{
            ALERTMANAGER_BINARY,
            "--config.file=" + (dir_ / "alertmanager.yml").string(),
            "--storage.path=" + (dir_ / "alertmanager").string(),
            "--web.listen-address=127.0.0.1:" +
                std::to_string(alertmanager_port_),
            // No high-availability peers: nothing listens beyond loopback.
            "--cluster.listen-address="},
        dir_, "alertmanager-");

    prometheus_port_ = FreePort();
    WriteFile(
        dir_ / "prometheus.yml",
        "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
        "alerting:\n  alertmanagers:\n    - static_configs:\n"
        "        - targets: ['127.0.0.1:" +
            std::to_string(alertmanager_port_) +
            "']\n"
            "rule_files: ['" +
            (dir_ / "rules").string() +
            "/*.yml']\n"
            "scrape_configs:\n  - job_name: cloudaware\n    static_configs:\n"
            "      - targets: ['127.0.0.1:" +
            std::to_string(exporter_port_) +
            "', '127.0.0.1:" + std::to_string(packs_port_) + "']\n");
    prometheus_ = std::make_unique<Process>(
        std::vector<std::string>{
            PROMETHEUS_BINARY,
            "--config.file=" + (dir_ / "prometheus.yml").string(),
            "--storage.tsdb.path=" + (dir_ / "tsdb").string(),
            // Firing alerts re-sent every second, not every minute.
            "--rules.alert.resend-delay=1s",
            "--web.listen-address=127.0.0.1:" +
                std::to_string(prometheus_port_)},
        dir_, "prometheus-");
    prom_ = std::make_unique<httplib::Client>("127.0.0.1", prometheus_port_);
    prom_->set_read_timeout(10, 0);
  }

  void TearDown() override {
    if (HasFailure()) {
      std::cerr << "--- exporter log\n"
                << exporter_->err().substr(0, 20000) << "\n";
      std::cerr << "--- packs exporter log\n"
                << packs_exporter_->err().substr(0, 20000) << "\n";
      std::cerr << "--- prometheus log (tail)\n";
      std::string p = prometheus_->err();
      std::cerr << p.substr(p.size() > 8000 ? p.size() - 8000 : 0) << "\n";
      std::string a = alertmanager_->err();
      std::cerr << "--- alertmanager log (tail)\n"
                << a.substr(a.size() > 8000 ? a.size() - 8000 : 0) << "\n";
      for (const auto& n : webhook_->Since(0))
        std::cerr << "--- notification to " << n.path << ": "
                  << n.body.dump().substr(0, 2000) << "\n";
    }
    prometheus_.reset();
    alertmanager_.reset();
    webhook_.reset();
    exporter_.reset();
    packs_exporter_.reset();
    sim_->Stop();
    fs::remove_all(dir_);
  }

  json Api(const std::string& path) {
    auto res = prom_->Get(path.c_str());
    if (!res || res->status != 200) return json();
    json body = json::parse(res->body, nullptr, false);
    return body.is_discarded() ? json() : body["data"];
  }

  json Query(const std::string& expr) {
    return Api("/api/v1/query?query=" +
               httplib::detail::encode_query_param(expr));
  }

  // The state of an alert: "firing", "pending" or "inactive".
  std::string AlertState(const std::string& name) {
    json rules = Api("/api/v1/rules?type=alert");
    if (!rules.is_object()) return "?";
    for (const json& group : rules["groups"]) {
      for (const json& rule : group["rules"]) {
        if (rule["name"] == name) return rule["state"].get<std::string>();
      }
    }
    return "missing";
  }

  fs::path dir_;
  std::unique_ptr<cmdb_simulator::Simulator> sim_;
  std::unique_ptr<Process> exporter_, packs_exporter_, prometheus_,
      alertmanager_;
  std::unique_ptr<Webhook> webhook_;
  std::unique_ptr<httplib::Client> prom_;
  int exporter_port_ = 0, packs_port_ = 0, prometheus_port_ = 0,
      alertmanager_port_ = 0, rule_files_ = 0;

  // The (instance, org) of every exporter series: the single-org exporter
  // without an org label, the other one in two orgs.
  std::vector<std::pair<std::string, std::string>> Sources() const {
    std::string one = "127.0.0.1:" + std::to_string(exporter_port_);
    std::string two = "127.0.0.1:" + std::to_string(packs_port_);
    return {{one, ""}, {two, "prod"}, {two, "staging"}};
  }

  // Waits until `alert` in `status` has reached the webhook for every source,
  // through the receiver at `path`, with the shipped labels and annotations.
  void ExpectDelivered(size_t first, const std::string& alert,
                       const std::string& status, const std::string& path,
                       const std::string& severity) {
    const std::string runbook = Runbook(alert);
    ASSERT_FALSE(runbook.empty()) << alert;
    for (const auto& [instance, org] : Sources()) {
      std::optional<std::pair<std::string, json>> got;
      EXPECT_TRUE(Eventually(std::chrono::seconds(60),
                             [&] {
                               got = Delivered(*webhook_, first, alert, status,
                                               instance, org);
                               return got.has_value();
                             }))
          << alert << " " << status << " for " << instance << " org '" << org
          << "' never reached the webhook";
      if (!got) continue;
      const json& a = got->second;
      EXPECT_EQ(got->first, path) << alert;
      EXPECT_EQ(a["labels"].value("severity", ""), severity) << a;
      EXPECT_EQ(a["labels"].value("job", ""), "cloudaware") << a;
      EXPECT_EQ(a["annotations"].value("runbook", ""), runbook) << a;
      if (!org.empty()) {
        EXPECT_NE(
            a["annotations"].value("summary", "").find("(org " + org + ")"),
            std::string::npos)
            << a;
      }
      if (status == "resolved") {
        EXPECT_GT(a.value("endsAt", ""), a.value("startsAt", "")) << a;
      }
    }
  }
};

TEST_F(PrometheusE2eTest, DashboardsRulesAndAlertsAgainstARealPrometheus) {
  // (a) The targets are up and scraped without errors, and the freshness
  // gauges of all three sources are in.
  ASSERT_TRUE(Eventually(std::chrono::seconds(60), [&] {
    json r = Query(
        "count(up{job=\"cloudaware\"} == 1) == 2 and on() "
        "count(cloudaware_up == 1) == 3 and on() "
        "count(count by (org) "
        "(cloudaware_aws_newest_modification_timestamp_seconds)) == 3");
    return r.is_object() && !r["result"].empty();
  })) << "the exporters never became healthy targets";
  json targets = Api("/api/v1/targets");
  ASSERT_TRUE(targets.is_object());
  ASSERT_EQ(targets["activeTargets"].size(), 2u);
  for (const json& target : targets["activeTargets"]) {
    EXPECT_EQ(target["health"], "up") << target["scrapeUrl"];
    EXPECT_EQ(target["lastError"], "") << target["scrapeUrl"];
  }
  // A few seconds of samples for rates and deltas.
  std::this_thread::sleep_for(std::chrono::seconds(6));

  // (b) Every expression of every dashboard panel returns at least one series
  // from the exporter on the shipped default config alone.
  std::vector<std::pair<std::string, std::string>> exprs;
  for (const auto& entry :
       fs::directory_iterator(fs::path(PROJECT_DIR) / "dashboards")) {
    if (entry.path().extension() != ".json") continue;
    json dashboard = json::parse(ReadFile(entry.path()));
    CollectTargets(dashboard["panels"], entry.path().filename().string(),
                   exprs);
  }
  ASSERT_GE(exprs.size(), 20u) << "two dashboards with their panels";
  const std::string instance = Sources()[0].first;
  for (const auto& [panel, expr] : exprs) {
    const std::string query = Substitute(expr, instance);
    ASSERT_NE(query, Substitute(expr)) << panel << " has no $instance";
    json r = Query(query);
    ASSERT_TRUE(r.is_object()) << panel << ": query failed: " << query;
    EXPECT_FALSE(r["result"].empty()) << panel << ": no series for " << query;
  }

  // (c) Every rule evaluates without error.
  ASSERT_GE(rule_files_, 2);
  json rules = Api("/api/v1/rules");
  ASSERT_TRUE(rules.is_object());
  int evaluated = 0;
  for (const json& group : rules["groups"]) {
    for (const json& rule : group["rules"]) {
      ++evaluated;
      EXPECT_EQ(rule["health"], "ok")
          << rule["name"] << ": " << rule.value("lastError", "");
    }
  }
  EXPECT_GE(evaluated, 10);
  EXPECT_EQ(AlertState("CloudawareTokenRequestsFailing"), "inactive");
  EXPECT_EQ(AlertState("CloudawareDataStale"), "inactive");

  // The simulator's one stalled AWS account, days behind, fires the
  // stalled-collector alert for each source; the other accounts are fresh.
  json fresh = Query(
      "count by (org) (cloudaware_aws_newest_modification_timestamp_seconds)");
  ASSERT_TRUE(fresh.is_object());
  ASSERT_EQ(fresh["result"].size(), 3u);
  for (const json& org : fresh["result"])
    EXPECT_GE(std::stoi(org["value"][1].get<std::string>()), 3) << org;
  json stalled;
  EXPECT_TRUE(
      Eventually(std::chrono::seconds(30),
                 [&] {
                   stalled = Query(
                       "ALERTS{alertname=\"CloudawareCollectorStalled\", "
                       "alertstate=\"firing\"}");
                   return stalled.is_object() && stalled["result"].size() == 3;
                 }))
      << AlertState("CloudawareCollectorStalled") << " " << stalled.dump();
  std::set<std::string> stalled_orgs, stalled_accounts;
  for (const json& alert : stalled["result"]) {
    EXPECT_EQ(alert["metric"]["cloud"], "aws") << alert;
    stalled_orgs.insert(alert["metric"].value("org", ""));
    stalled_accounts.insert(alert["metric"].value("account", ""));
  }
  EXPECT_EQ(stalled_orgs, (std::set<std::string>{"", "prod", "staging"}));
  EXPECT_EQ(stalled_accounts.size(), 1u);

  // (d) The token alert fires while the simulator rejects the credentials and
  // resolves once it accepts them again (after the exporter's backoff).
  // Alertmanager delivers the firing notification, then the resolved one.
  size_t before_reject = webhook_->size();
  sim_->AddFaults({{"type", "reject_credentials"}});
  sim_->ExpireAllTokens();
  EXPECT_TRUE(Eventually(std::chrono::seconds(90), [&] {
    return AlertState("CloudawareTokenRequestsFailing") == "firing";
  })) << AlertState("CloudawareTokenRequestsFailing");
  ExpectDelivered(before_reject, "CloudawareTokenRequestsFailing", "firing",
                  "/alerts/critical", "critical");
  size_t before_accept = webhook_->size();
  sim_->ClearFaults();
  EXPECT_TRUE(Eventually(std::chrono::seconds(120), [&] {
    return AlertState("CloudawareTokenRequestsFailing") == "inactive";
  })) << AlertState("CloudawareTokenRequestsFailing");
  ExpectDelivered(before_accept, "CloudawareTokenRequestsFailing", "resolved",
                  "/alerts/critical", "critical");

  // (e) The stale-data alert fires when a query keeps failing, and the API
  // answering 500 fires the API-down alert: delivered through the warning
  // route, then resolved once the API answers again.
  ASSERT_TRUE(Eventually(std::chrono::seconds(60), [&] {
    return AlertState("CloudawareApiDown") == "inactive";
  })) << AlertState("CloudawareApiDown");
  size_t before_500 = webhook_->size();
  sim_->AddFaults({{"endpoint", "query"}, {"type", "error"}, {"status", 500}});
  EXPECT_TRUE(Eventually(std::chrono::seconds(60), [&] {
    return AlertState("CloudawareDataStale") == "firing";
  })) << AlertState("CloudawareDataStale");
  ExpectDelivered(before_500, "CloudawareApiDown", "firing", "/alerts/warning",
                  "warning");
  size_t before_200 = webhook_->size();
  sim_->ClearFaults();
  ExpectDelivered(before_200, "CloudawareApiDown", "resolved",
                  "/alerts/warning", "warning");
}

}  // namespace
